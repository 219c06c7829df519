// A plain HTTP backend for the netns testbed: answers every request with its own name, the port
// it was reached on and the client address it saw. Usage: node server.mjs NAME@ADDR:PORT ...
import { createServer } from "node:http";

for (const spec of process.argv.slice(2)) {
  const match = /^([^@]+)@\[?([^\]]+?)\]?:(\d+)$/.exec(spec);
  if (!match) throw new Error(`bad listener ${spec}`);
  const [, name, host, port] = match;
  const server = createServer((req, res) => {
    res.setHeader("connection", req.headers.connection === "close" ? "close" : "keep-alive");
    res.setHeader("Server", name);
    res.end(`${name} ${req.socket.localPort} ${req.socket.remoteAddress}\n`);
  });
  server.keepAliveTimeout = 30_000;
  server.listen({ host, port: Number(port), ipv6Only: host.includes(":") });
}
process.on("SIGTERM", () => process.exit(0));
