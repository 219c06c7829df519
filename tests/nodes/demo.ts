/**
 * `npm run demo`: the chart on a two-node cluster on this machine, for a newcomer with no cluster.
 * The first invocation starts the cluster of tests/nodes (control plane, two real nodes running
 * containerd, kubelet and kube-proxy in nftables mode, a client), installs `edge ./` with only the
 * image repositories pointed at the images built here (Kong's is the Kong stand-in, NOT Kong,
 * unless you run your own image), prints each node's answer on :80 and :443 and a KUBECONFIG, and
 * leaves the cluster running in the background. The second invocation tears everything down.
 * Needs root (namespaces, mounts), like the tests.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { builtImage } from "../image/image.js";
import { kongChart, removeScratchCharts, scratchChart } from "../lib/chart.js";
import { repoRoot } from "../lib/paths.js";
import { helms } from "../lib/tools.js";
import { goImage, lan, NodeCluster, ociImage, standInValues } from "./cluster.js";

const dir = join(repoRoot, ".cache", "demo");
const stateFile = join(dir, "demo.json");
const logFile = join(dir, "demo.log");

interface State { pid: number; kubeconfig: string; client: string; addresses: string[]; answers: string[]; kong: string }

const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The background process: holds the cluster until SIGTERM. */
async function serve(): Promise<void> {
  const standIn = goImage("kong-stand-in");
  const nodeInit = builtImage();
  const cluster = new NodeCluster({ mode: "nftables", images: [ociImage(join(nodeInit.out, "edge-node-init.oci.tar")), standIn] });
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await cluster.stop();
    removeScratchCharts();
    rmSync(stateFile, { force: true });
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  try {
    await cluster.start();
    const kong = kongChart();
    const r = cluster.helm(helms[0].path, ["install", "edge", scratchChart(), "--wait", "--timeout", "300s", ...standInValues(standIn)]);
    if (r.status !== 0) throw new Error(`helm install: ${r.stdout}${r.stderr}`);
    const addresses = cluster.nodes.map((_, i) => cluster.address(i));
    const urls = addresses.flatMap((a) => [`http://${a}/`, `https://${a}/`]);
    const answers: string[] = [];
    for (const url of urls) {
      let answer = "";
      for (let i = 0; i < 60 && !answer.startsWith("kong-stand-in"); i++, await sleep(1000)) answer = cluster.curl(url, ["--insecure"]);
      answers.push(`${url} -> ${answer}`);
    }
    const state: State = { pid: process.pid, kubeconfig: cluster.kubeconfig, client: cluster.client, addresses, answers, kong: kong.kind };
    writeFileSync(stateFile, JSON.stringify(state, null, 2));
  } catch (e) {
    console.error(e);
    writeFileSync(stateFile, JSON.stringify({ pid: process.pid, error: String(e) }));
    await stop();
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("npm run demo needs root: it builds network, PID and mount namespaces");
  if (process.argv[2] === "--serve") return serve();
  mkdirSync(dir, { recursive: true });
  const previous = existsSync(stateFile) ? (JSON.parse(readFileSync(stateFile, "utf8")) as State) : undefined;
  if (previous && alive(previous.pid)) {
    console.log(`demo: stopping the cluster (process ${previous.pid}) …`);
    process.kill(previous.pid, "SIGTERM");
    for (let i = 0; i < 120 && alive(previous.pid); i++) await sleep(500);
    console.log(alive(previous.pid) ? `demo: process ${previous.pid} is still running; see ${logFile}` : "demo: stopped; everything it started is gone");
    return;
  }
  rmSync(stateFile, { force: true });
  console.log(`demo: starting a control plane and two nodes, then helm install edge ./ (log: ${logFile}) …`);
  const log = openSync(logFile, "w");
  const child: ChildProcess = spawn(process.execPath, [...process.execArgv, process.argv[1]!, "--serve"], { detached: true, stdio: ["ignore", log, log] });
  closeSync(log);
  child.unref();
  for (let i = 0; i < 600 && !existsSync(stateFile) && alive(child.pid!); i++) await sleep(1000);
  const state = existsSync(stateFile) ? (JSON.parse(readFileSync(stateFile, "utf8")) as State & { error?: string }) : undefined;
  if (!state || state.error) throw new Error(`demo: the cluster did not start: ${state?.error ?? "see " + logFile}`);
  console.log(`
edge is installed on two real nodes (kube-proxy nftables mode; Kong chart: ${state.kong}; Kong's image is the Kong stand-in, not Kong).
Each node's :80 and :443, from a client outside the nodes:
${state.answers.map((a) => `  ${a}`).join("\n")}

Try it:      ip netns exec ${state.client} curl http://${state.addresses[0]}/
Explore it:  export KUBECONFIG=${state.kubeconfig}
             ${join(repoRoot, ".tools", "bin", "kubectl")} get nodes,pods -A -o wide   (the cluster's version; logs and exec are not reachable: the API server cannot reach the kubelets)
The nodes' gateway is ${lan.gateway}; node addresses ${state.addresses.join(", ")}.
Stop it:     npm run demo   (again)`);
}

await main();
