// Stands in for the Kubernetes API calls node-init makes, inside the testbed's node namespace:
// GET its DaemonSet and its Node, watch its ConfigMap (metadata only), and POST Events. The release's state is
// read from STATE_FILE (at each request, and every 100 ms for an open watch):
//   exists       the DaemonSet exists
//   annotated    it exists, with labels and annotations that merely mention deletionTimestamp
//   deleting     it carries a deletionTimestamp (a foreground deletion)
//   gone         the DaemonSet and the ConfigMap deleted, the RBAC still there: GET 404; a watch
//                gets DELETED
//   uninstalled  `helm uninstall`: the DaemonSet, the Role and RoleBinding, the ConfigMap
//                deleted: every request 403; a watch established before gets DELETED
//   forbidden    it exists, but requests get 403 (a deleted RoleBinding, an authorizer outage);
//                an established watch stays open and silent, as the API server's does
//   unauthorized the same with 401 (an authentication webhook outage); a request without a
//                token gets 401 in every state
// and, for a node the DaemonSet may no longer select (GET of the Node; in every other state the
// DaemonSet selects it: a nodeSelector, a Gt and DoesNotExist affinity, a NoSchedule taint it
// does not tolerate, a NoExecute taint its controller tolerates):
//   unselected   its nodeSelector names a label the node lacks
//   unaffine     no term of its required node affinity matches (a NotIn, a matchFields)
//   evicting     the node has a NoExecute taint its tolerations do not cover
//   nodeforbidden unselected, and the GET of the Node gets 403
// Every request is appended to STATE_FILE.requests as a JSON line (method, url, accept,
// authorization, body).
// Usage: node api-stub.mjs PORT STATE_FILE
import { appendFileSync, readFileSync } from "node:fs";
import { createServer } from "node:http";

const [port, stateFile] = process.argv.slice(2);
const readState = () => readFileSync(stateFile, "utf8").trim();
const denied = { forbidden: 403, uninstalled: 403, unauthorized: 401 };

function daemonSet(name, state) {
  const metadata = {
    name,
    ...(state === "deleting" ? { deletionTimestamp: "2026-01-01T00:00:00Z" } : {}),
    ...(state === "annotated" ? {
      labels: { deletionTimestamp: "never" },
      annotations: { deletionTimestamp: "2026-01-01T00:00:00Z", note: '{"deletionTimestamp":"2026-01-01T00:00:00Z"}' },
    } : {}),
  };
  const template = { metadata: { annotations: { "example.com/deletionTimestamp": "x" } }, spec: podSpec(state) };
  return { kind: "DaemonSet", apiVersion: "apps/v1", metadata, spec: { template } };
}

/** The DaemonSet's pod template spec: what decides which nodes it selects. */
function podSpec(state) {
  const nodeSelector = { "kubernetes.io/os": "linux", ...(state === "unselected" || state === "nodeforbidden" ? { "edge.example.com/ingress": "true" } : {}) };
  const nodeSelectorTerms = state === "unaffine" ? [
    { matchExpressions: [{ key: "kubernetes.io/hostname", operator: "NotIn", values: ["node-a"] }] },
    { matchFields: [{ key: "metadata.name", operator: "In", values: ["node-b"] }] },
  ] : [
    { matchExpressions: [{ key: "gpu", operator: "Exists" }] },
    { matchExpressions: [{ key: "tier", operator: "Gt", values: ["5"] }, { key: "gpu", operator: "DoesNotExist" }] },
  ];
  const tolerations = [{ key: "dedicated", operator: "Equal", value: "other", effect: "NoSchedule" }];
  return { nodeSelector, affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms } } }, tolerations };
}

/** The Node `name`: labels and taints. */
function node(name, state) {
  const taints = [
    { key: "dedicated", value: "edge", effect: "NoSchedule" },
    { key: "node.kubernetes.io/not-ready", effect: "NoExecute" },
    ...(state === "evicting" ? [{ key: "edge.example.com/maintenance", value: "true", effect: "NoExecute" }] : []),
  ];
  const labels = { "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", tier: "7" };
  return { kind: "Node", apiVersion: "v1", metadata: { name, labels }, spec: { taints } };
}

/** A watch of the ConfigMap `name` as PartialObjectMetadata, until it is deleted. */
function watch(res, name) {
  const object = { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: { name, annotations: { note: "deletionTimestamp" } } };
  res.writeHead(200, { "content-type": "application/json" });
  res.write(`${JSON.stringify({ type: "ADDED", object })}\n`);
  const timer = setInterval(() => {
    const now = readState();
    if (now !== "gone" && now !== "uninstalled") return;
    res.end(`${JSON.stringify({ type: "DELETED", object })}\n`);
    clearInterval(timer);
  }, 100);
  res.on("close", () => clearInterval(timer));
}

createServer((req, res) => {
  let body = "";
  req.on("data", (d) => (body += d));
  req.on("end", () => {
    appendFileSync(`${stateFile}.requests`, `${JSON.stringify({ method: req.method, url: req.url, accept: req.headers.accept, authorization: req.headers.authorization, body })}\n`);
    const state = readState();
    const url = new URL(req.url ?? "/", "http://api");
    // The API server without anonymous access: a request without a token is not authenticated.
    const code = req.headers.authorization ? denied[state] : 401;
    if (code) { res.writeHead(code).end(JSON.stringify({ kind: "Status", code })); return; }
    if (req.method === "POST" && /^\/api\/v1\/namespaces\/[a-z0-9-]+\/events$/.test(url.pathname)) {
      res.writeHead(201, { "content-type": "application/json" }).end(body);
      return;
    }
    const list = /^\/api\/v1\/namespaces\/[a-z0-9-]+\/configmaps$/.test(url.pathname);
    const selected = /^metadata\.name=([a-z0-9-]+)$/.exec(url.searchParams.get("fieldSelector") ?? "")?.[1];
    if (req.method === "GET" && list && url.searchParams.get("watch") === "1" && selected) {
      watch(res, selected);
      return;
    }
    const nodeGet = /^\/api\/v1\/nodes\/([a-z0-9.-]+)$/.exec(url.pathname);
    if (req.method === "GET" && nodeGet) {
      if (state === "nodeforbidden") res.writeHead(403).end(JSON.stringify({ kind: "Status", code: 403 }));
      else res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(node(nodeGet[1], state)));
      return;
    }
    const get = /^\/apis\/apps\/v1\/namespaces\/[a-z0-9-]+\/daemonsets\/([a-z0-9-]+)$/.exec(url.pathname);
    if (req.method !== "GET" || !get) { res.writeHead(400).end(); return; }
    if (state === "gone") res.writeHead(404).end(JSON.stringify({ kind: "Status", code: 404 }));
    else res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(daemonSet(get[1], state)));
  });
}).listen(Number(port), "127.0.0.1");
process.on("SIGTERM", () => process.exit(0));
