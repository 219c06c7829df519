// One kept-alive HTTP connection from the client namespace: a request each time a line arrives on
// stdin, all on the same TCP connection. Prints one JSON line per request: the body and the local
// port of the connection (equal ports: the connection was reused). Usage: node keepalive.mjs URL
import http from "node:http";
import { createInterface } from "node:readline";

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const get = () => new Promise((resolve) => {
  const req = http.get(process.argv[2], { agent, timeout: 5_000 }, (res) => {
    let body = "";
    res.on("data", (c) => (body += c));
    res.on("end", () => resolve({ body: body.trim(), localPort: req.socket.localPort }));
  });
  req.on("timeout", () => req.destroy(new Error("timeout")));
  req.on("error", (e) => resolve({ error: e.code ?? e.message }));
});
for await (const _ of createInterface({ input: process.stdin })) console.log(JSON.stringify(await get()));
agent.destroy();
