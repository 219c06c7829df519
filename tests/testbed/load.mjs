// Bounded load for the netns testbed: COUNT requests to URL over CONCURRENCY workers, each on a new
// TCP connection (so every request creates a conntrack entry and meets the rules afresh), or over
// kept-alive connections with --keep-alive. Prints one JSON line: {ok, failed, errors, expect}.
// Usage: node load.mjs URL COUNT CONCURRENCY EXPECT_PREFIX [--keep-alive]
import http from "node:http";

const [url, count, concurrency, expect] = process.argv.slice(2);
const keepAlive = process.argv.includes("--keep-alive");
const agent = new http.Agent({ keepAlive, maxSockets: Number(concurrency) });
const total = Number(count);
let next = 0, ok = 0, failed = 0;
const errors = {};

function once() {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: keepAlive ? agent : false, timeout: 10_000 }, (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => {
        if (res.statusCode === 200 && body.startsWith(expect)) ok++;
        else { failed++; errors[`body:${body.slice(0, 40)}`] = (errors[`body:${body.slice(0, 40)}`] ?? 0) + 1; }
        resolve();
      });
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (e) => { failed++; errors[e.code ?? e.message] = (errors[e.code ?? e.message] ?? 0) + 1; resolve(); });
  });
}

async function worker() {
  while (next < total) { next++; await once(); }
}
await Promise.all(Array.from({ length: Number(concurrency) }, worker));
console.log(JSON.stringify({ ok, failed, errors, expect }));
process.exit(0);
