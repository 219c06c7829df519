// Stands in for the Kubernetes API's one call node-init makes when stopped (GET its DaemonSet),
// inside the testbed's node namespace. The answer is read from STATE_FILE at each request:
// "exists", "deleting", "gone" (404) or "forbidden" (403). Usage: node api-stub.mjs PORT STATE_FILE
import { readFileSync } from "node:fs";
import { createServer } from "node:http";

const [port, stateFile] = process.argv.slice(2);
createServer((req, res) => {
  const state = readFileSync(stateFile, "utf8").trim();
  const ok = /^\/apis\/apps\/v1\/namespaces\/[a-z0-9-]+\/daemonsets\/[a-z0-9-]+$/.test(req.url ?? "");
  const meta = { name: req.url?.split("/").pop(), ...(state === "deleting" ? { deletionTimestamp: "2026-01-01T00:00:00Z" } : {}) };
  if (!ok) { res.writeHead(400).end(); return; }
  if (state === "exists" || state === "deleting") res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ kind: "DaemonSet", metadata: meta }));
  else if (state === "gone") res.writeHead(404).end(JSON.stringify({ kind: "Status", code: 404 }));
  else res.writeHead(403).end(JSON.stringify({ kind: "Status", code: 403 }));
}).listen(Number(port), "127.0.0.1");
process.on("SIGTERM", () => process.exit(0));
