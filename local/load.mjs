// New-connection load from the client for the real-node tests: WORKERS loops GET the URLs in turn,
// each request on a new TCP connection, until SIGTERM; then prints one JSON line: {ok, failed,
// errors, maxMs} (maxMs: the longest response time). A request counts as ok when it answers 200
// with a body starting with EXPECT.
// Usage: node load.mjs EXPECT WORKERS URL...
import http from "node:http";

const [expect, workers, ...urls] = process.argv.slice(2);
let ok = 0, failed = 0, maxMs = 0, stopping = false;
const errors = {};
const fail = (why) => { failed++; errors[why] = (errors[why] ?? 0) + 1; };

function get(url) {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: 10_000 }, (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => {
        maxMs = Math.max(maxMs, performance.now() - started);
        if (res.statusCode === 200 && body.startsWith(expect)) ok++;
        else fail(`${res.statusCode} ${body.slice(0, 40)}`);
        resolve();
      });
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (e) => { fail(e.code ?? e.message); resolve(); });
  });
}

const done = Promise.all(Array.from({ length: Number(workers) }, async (_, w) => {
  for (let i = w; !stopping; i++) await get(urls[i % urls.length]);
}));
process.on("SIGTERM", async () => {
  stopping = true;
  await done;
  console.log(JSON.stringify({ ok, failed, errors, maxMs: Math.round(maxMs) }));
  process.exit(0);
});
