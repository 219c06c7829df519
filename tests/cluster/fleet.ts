/**
 * `npm run bench:fleet`: how long node-init takes to reach every node of a fleet, on the test
 * control plane (tests/cluster) with kwok nodes whose pods become Ready 4.5 s after they are
 * scheduled — what replacing one node-init pod takes on the real nodes (`kubectl rollout restart`,
 * tests/nodes) — so the simulated rollout costs what a fleet's would:
 *
 *   install   `helm install --wait` until every node runs a Ready node-init pod
 *   rollout   a value change (`nodeInit.resyncSeconds`) until every node runs a new, Ready pod
 *
 * Each is timed from the helm command to the DaemonSet reporting every pod updated and available
 * (what Argo CD's health check reads; `helm --wait` returns earlier, once all but maxUnavailable
 * are). Not a test. Options (environment): FLEET_SIZES (default "200,1000"), FLEET_READY_MS
 * (default 4500), FLEET_SET (extra `--set` values, comma separated, e.g. a maxUnavailable).
 */
import { ControlPlane, helms, removeScratchCharts, scratchChart } from "../../local/index.js";

const sizes = (process.env.FLEET_SIZES ?? "200,1000").split(",").map(Number);
const readyMs = Number(process.env.FLEET_READY_MS ?? 4500);
const extra = (process.env.FLEET_SET ?? "").split(",").filter(Boolean).flatMap((v) => ["--set", v]);
const helm = helms[0];

interface DaemonSetStatus { desiredNumberScheduled?: number; updatedNumberScheduled?: number; numberAvailable?: number; observedGeneration?: number }

/** Seconds until node-init's DaemonSet has `size` pods, all of the newest template and available. */
async function settled(cluster: ControlPlane, size: number, since: number): Promise<number> {
  await cluster.waitFor(async () => {
    const ds = (await cluster.api("GET", "/apis/apps/v1/namespaces/edge-node-init/daemonsets/edge-node-init")).body as { metadata?: { generation?: number }; status?: DaemonSetStatus };
    const s = ds.status ?? {};
    return s.observedGeneration === ds.metadata?.generation && s.desiredNumberScheduled === size && s.updatedNumberScheduled === size && s.numberAvailable === size;
  }, `node-init updated and available on ${size} nodes`, 3600);
  return (performance.now() - since) / 1000;
}

async function fleet(size: number): Promise<string> {
  const cluster = new ControlPlane({ kwokNodes: size, podReadyDelayMs: readyMs });
  try {
    await cluster.start();
    const chart = scratchChart();
    let started = performance.now();
    let r = await cluster.helmAsync(helm.path, ["install", "edge", chart, ...extra, "--wait", "--timeout", "60m"]);
    if (r.status !== 0) throw new Error(`helm install: ${r.stdout}${r.stderr}`);
    const helmInstall = (performance.now() - started) / 1000;
    const install = await settled(cluster, size, started);
    started = performance.now();
    r = await cluster.helmAsync(helm.path, ["upgrade", "edge", chart, ...extra, "--set", "nodeInit.resyncSeconds=31", "--wait", "--timeout", "60m"]);
    if (r.status !== 0) throw new Error(`helm upgrade: ${r.stdout}${r.stderr}`);
    const helmUpgrade = (performance.now() - started) / 1000;
    const rollout = await settled(cluster, size, started);
    return `  ${String(size).padStart(5)} nodes: install ${install.toFixed(0)} s (helm --wait returned after ${helmInstall.toFixed(0)} s), ` +
      `value change rolled to every node ${rollout.toFixed(0)} s (helm --wait ${helmUpgrade.toFixed(0)} s); ${(rollout / size * 1000).toFixed(0)} ms per node`;
  } finally {
    await cluster.stop();
  }
}

const lines = [`node-init on kwok fleets, pods Ready ${readyMs} ms after they are scheduled${extra.length ? ` (${extra.filter((_, i) => i % 2).join(", ")})` : ""}:`];
try {
  for (const size of sizes) {
    lines.push(await fleet(size));
    process.stderr.write(`bench:fleet: ${size} nodes done\n`);
  }
} finally {
  removeScratchCharts();
}
console.log(lines.join("\n"));
