/**
 * `npm run demo [-- up|status|down]`: the chart on a two-node cluster on this machine, for a
 * newcomer with no cluster (as kind, k3d and minikube have it, with verbs):
 *
 *   up (default)  starts a control plane and two real nodes (containerd, kubelet, kube-proxy in
 *                 nftables mode) and a client, installs `edge ./` (Kong's image is the Kong
 *                 stand-in, NOT Kong, unless a real Kong chart and image are given), prints each
 *                 node's answer on :80 and :443 and how to explore it, and leaves it running in
 *                 the background;
 *   status        whether it runs, its nodes and pods, and each node's answer now;
 *   down          ends every process it started and removes its namespaces and folders.
 *
 * Needs root (namespaces, mounts), like the tests.
 */
import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ApiClient } from "./api.js";
import { kongChart, removeScratchCharts } from "./chart.js";
import { edgeImages, installEdge, nodeAnswers } from "./edge.js";
import { up } from "./index.js";
import { lan } from "./nodes.js";
import { inNs } from "./sys/netns.js";
import { repoRoot, toolsDir } from "./sys/paths.js";
import { waitFor } from "./sys/wait.js";

const dir = join(repoRoot, ".cache", "demo");
const stateFile = join(dir, "demo.json");
const logFile = join(dir, "demo.log");

/** What the background process writes once the demo is up (or why it is not). */
interface State {
  pid: number;
  error?: string;
  kubeconfig: string;
  api: { port: number; ca: string; cert: string; key: string };
  client: string;
  addresses: string[];
  answers: string[];
  kong: string;
  seconds: number;
}

const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };
const readState = (): State | undefined => existsSync(stateFile) ? JSON.parse(readFileSync(stateFile, "utf8")) as State : undefined;
/** The background process of a demo that runs, if any. */
const running = (): State | undefined => { const s = readState(); return s && alive(s.pid) ? s : undefined; };

/** The background process: starts the cluster, installs edge, and holds it all until SIGTERM. */
async function serve(): Promise<void> {
  const started = performance.now();
  const images = edgeImages();
  const local = await up({ real: { proxyMode: "nftables", images: [images.nodeInit, images.standIn] } });
  const cluster = local.cluster!;
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    await local.down();
    removeScratchCharts();
    if (code === 0) rmSync(stateFile, { force: true });
    process.exit(code);
  };
  process.on("SIGTERM", () => void stop(0));
  process.on("SIGINT", () => void stop(0));
  try {
    await installEdge(cluster, images.standIn, { args: ["--wait", "--timeout", "300s"] });
    const answers = await nodeAnswers(cluster);
    const c = cluster.control;
    const state: State = {
      pid: process.pid, kubeconfig: local.kubeconfig, client: cluster.client,
      api: { port: c.apiPort, ca: join(c.dir, "ca.crt"), cert: join(c.dir, "admin.crt"), key: join(c.dir, "admin.key") },
      addresses: cluster.nodes.map((_, i) => cluster.address(i)), answers, kong: kongChart().kind,
      seconds: (performance.now() - started) / 1000,
    };
    writeFileSync(stateFile, JSON.stringify(state, null, 2));
  } catch (e) {
    console.error(e);
    writeFileSync(stateFile, JSON.stringify({ pid: process.pid, error: String(e) }));
    await stop(1);
  }
}

async function upVerb(): Promise<void> {
  const previous = running();
  if (previous) {
    console.log(`demo: already running (process ${previous.pid}); \`npm run demo -- status\` shows it, \`npm run demo -- down\` stops it`);
    return;
  }
  mkdirSync(dir, { recursive: true });
  rmSync(stateFile, { force: true });
  console.log(`demo: starting a control plane and two nodes, then helm install edge ./ (log: ${logFile}) …`);
  const log = openSync(logFile, "w");
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, "serve"], { detached: true, stdio: ["ignore", log, log] });
  closeSync(log);
  child.unref();
  await waitFor(() => existsSync(stateFile) || !alive(child.pid!), "the demo to start", { seconds: 900, everyMs: 1000 });
  const state = readState();
  if (!state || state.error) throw new Error(`demo: the cluster did not start: ${state?.error ?? `see ${logFile}`}`);
  console.log(`
edge is installed on two real nodes in ${state.seconds.toFixed(0)} s (kube-proxy nftables mode; Kong chart: ${state.kong}; Kong's image is the Kong stand-in, not Kong).
Each node's :80 and :443, from a client outside the nodes:
${state.answers.map((a) => `  ${a}`).join("\n")}

Try it:      ip netns exec ${state.client} curl http://${state.addresses[0]}/
Explore it:  export KUBECONFIG=${state.kubeconfig}
             ${join(toolsDir, "bin", "kubectl")} get nodes,pods -A -o wide   (logs and exec are not reachable: the API server cannot reach the kubelets)
The nodes' gateway is ${lan.gateway}; node addresses ${state.addresses.join(", ")}.
Check it:    npm run demo -- status
Stop it:     npm run demo -- down`);
}

async function statusVerb(): Promise<void> {
  const state = running();
  if (!state) {
    console.log("demo: not running; `npm run demo` starts it");
    return;
  }
  const api = new ApiClient({ port: () => state.api.port, ca: state.api.ca, cert: state.api.cert, key: state.api.key });
  type Item = { metadata: { name: string; namespace?: string }; spec?: { nodeName?: string }; status?: { conditions?: { type: string; status: string }[] } };
  const items = async (path: string) => ((await api.request("GET", path)).body as { items?: Item[] }).items ?? [];
  const ready = (o: Item) => o.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ? "Ready" : "not Ready";
  const nodes = await items("/api/v1/nodes");
  const pods = [...await items("/api/v1/namespaces/kong/pods"), ...await items("/api/v1/namespaces/edge-node-init/pods")];
  console.log(`demo: running (process ${state.pid}); KUBECONFIG=${state.kubeconfig}`);
  console.log(nodes.map((n) => `  node ${n.metadata.name}: ${ready(n)}`).join("\n") || "  no node answers: the API server is not reachable");
  console.log(pods.map((p) => `  pod ${p.metadata.namespace}/${p.metadata.name} on ${p.spec?.nodeName ?? "no node"}: ${ready(p)}`).join("\n"));
  for (const address of state.addresses) {
    for (const url of [`http://${address}/`, `https://${address}/`]) {
      const r = inNs(state.client, "curl", ["-sS", "--max-time", "3", "--insecure", url], { allowFail: true });
      console.log(`  ${url} -> ${r.status === 0 ? r.stdout.trim() : `ERR ${r.status} ${r.stderr.trim()}`}`);
    }
  }
}

async function downVerb(): Promise<void> {
  const state = running();
  if (!state) {
    console.log("demo: not running");
    return;
  }
  console.log(`demo: stopping the cluster (process ${state.pid}) …`);
  process.kill(state.pid, "SIGTERM");
  await waitFor(() => !alive(state.pid), `process ${state.pid} to end`, { seconds: 120, everyMs: 500 }).catch(() => undefined);
  console.log(alive(state.pid) ? `demo: process ${state.pid} is still running; see ${logFile}` : "demo: stopped; everything it started is gone");
}

const verbs: Record<string, () => Promise<void>> = { up: upVerb, status: statusVerb, down: downVerb, serve };
const verb = process.argv[2] ?? "up";
const refuse = (why: string) => { console.error(`npm run demo: ${why}`); process.exit(2); };
if (!verbs[verb]) refuse(`unknown verb ${verb}; use up (the default), status or down`);
if (process.getuid?.() !== 0) refuse("needs root: it builds network, PID and mount namespaces");
await verbs[verb]!();
