// Forwards connections: `node forward.mjs LISTEN CONNECT`, each a unix socket path (starting
// with /) or HOST:PORT. The nodes reach the control plane through it: a path-based unix socket is
// reachable from every network namespace, TCP only from its own, so a forwarder in the machine's
// namespace serves a socket that a forwarder inside each node namespace connects to.
import { createConnection, createServer } from "node:net";
import { rmSync } from "node:fs";

const endpoint = (spec) => {
  if (spec.startsWith("/")) return { path: spec };
  const i = spec.lastIndexOf(":");
  return { host: spec.slice(0, i), port: Number(spec.slice(i + 1)) };
};
const [listen, connect] = process.argv.slice(2).map(endpoint);
if (listen.path) rmSync(listen.path, { force: true });
const server = createServer((client) => {
  const upstream = createConnection(connect);
  client.pipe(upstream).pipe(client);
  const close = () => { client.destroy(); upstream.destroy(); };
  client.on("error", close);
  upstream.on("error", close);
});
server.listen(listen.path ? { path: listen.path } : { host: listen.host, port: listen.port }, () => console.log("forwarding"));
process.on("SIGTERM", () => process.exit(0));
