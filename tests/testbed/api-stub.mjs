// Stands in for the Kubernetes API calls node-init makes, inside the testbed's node namespace:
// GET its DaemonSet (when stopped) and POST Events. The DaemonSet's answer is read from
// STATE_FILE at each request: "exists", "deleting", "annotated" (exists, with labels and
// annotations that merely mention deletionTimestamp), "gone" (404) or "forbidden" (403). Every
// request is appended to STATE_FILE.requests as a JSON line (method, url, authorization, body).
// Usage: node api-stub.mjs PORT STATE_FILE
import { appendFileSync, readFileSync } from "node:fs";
import { createServer } from "node:http";

const [port, stateFile] = process.argv.slice(2);
createServer((req, res) => {
  let body = "";
  req.on("data", (d) => (body += d));
  req.on("end", () => {
    appendFileSync(`${stateFile}.requests`, `${JSON.stringify({ method: req.method, url: req.url, authorization: req.headers.authorization, body })}\n`);
    if (req.method === "POST" && /^\/api\/v1\/namespaces\/[a-z0-9-]+\/events$/.test(req.url ?? "")) {
      res.writeHead(201, { "content-type": "application/json" }).end(body);
      return;
    }
    const state = readFileSync(stateFile, "utf8").trim();
    const ok = req.method === "GET" && /^\/apis\/apps\/v1\/namespaces\/[a-z0-9-]+\/daemonsets\/[a-z0-9-]+$/.test(req.url ?? "");
    if (!ok) { res.writeHead(400).end(); return; }
    const meta = {
      name: req.url?.split("/").pop(),
      ...(state === "deleting" ? { deletionTimestamp: "2026-01-01T00:00:00Z" } : {}),
      ...(state === "annotated" ? {
        labels: { deletionTimestamp: "never" },
        annotations: { deletionTimestamp: "2026-01-01T00:00:00Z", note: '{"deletionTimestamp":"2026-01-01T00:00:00Z"}' },
      } : {}),
    };
    const template = { metadata: { annotations: { "example.com/deletionTimestamp": "x" } } };
    if (state === "exists" || state === "deleting" || state === "annotated") {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ kind: "DaemonSet", metadata: meta, spec: { template } }));
    } else if (state === "gone") res.writeHead(404).end(JSON.stringify({ kind: "Status", code: 404 }));
    else res.writeHead(403).end(JSON.stringify({ kind: "Status", code: 403 }));
  });
}).listen(Number(port), "127.0.0.1");
process.on("SIGTERM", () => process.exit(0));
