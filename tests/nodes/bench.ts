/**
 * `npm run bench:nodes`: the data path through real kube-proxy on the real nodes of tests/nodes,
 * in its iptables and its nftables mode, from the client outside the nodes to a Kong stand-in pod
 * (images/kong-stand-in, not Kong) after `helm install edge ./`:
 *
 *   node:80   node address :80 → node-init's rules → kube-proxy's NodePort → pod :8000
 *   nodePort  node address :30080 → kube-proxy's NodePort → pod :8000
 *   pod       pod address :8000 (routed through its node, no NAT)
 *
 * Each run is ab (apache2-utils) with -k (keep-alive) or without (a new connection per request).
 * A round runs node:80 and nodePort BENCH_PAIRS times each, alternating which goes first (so that a
 * drift of the machine's speed during the round cancels), and its ratio node:80 / nodePort is that
 * of the two targets' median runs (one run stalled by the machine moves a median, not a mean, by
 * little); pod runs once per round, for scale. Reported: medians of each target, and the median and spread (min–max) of the
 * per-round ratios, against a goal of ±3 %: node:80 cannot beat the NodePort it is rewritten to,
 * so a ratio above 1 is noise, and a spread within ±3 % is what lets a regression of the rewrite
 * show. The release runs with the `source-ip` preset (externalTrafficPolicy Local), so that every
 * connection to node a takes one path, to the Kong pod on node a, whichever target: with `Cluster`
 * each connection picks a pod on either node, and a run's share of the other node's hop (16
 * keep-alive connections: a coin toss each) moved its rate by more than the rewrite costs. The
 * Kong stand-in pods keep no TIME_WAIT sockets (as `npm run bench`'s nginx): through
 * the NodePort every client is masqueraded to a node address, and new SYNs would otherwise hit
 * TIME_WAIT tuples of earlier connections (a 1 s retransmit each), an artefact of one client
 * machine that would dwarf the rules' cost. Not a test. Options (environment): BENCH_ROUNDS
 * (default 7), BENCH_PAIRS (default 6), BENCH_REQUESTS (new-connection requests per run, default 10000; keep-alive runs
 * make ten times as many).
 */
import { join } from "node:path";
import { edgeImages, inNs, installEdge, NodeCluster, removeScratchCharts, requirePrograms } from "../../local/index.js";
import { repoRoot } from "../lib/paths.js";
import type { ProxyMode } from "../../local/index.js";

if (process.getuid?.() !== 0) throw new Error("bench:nodes: real nodes need root");
requirePrograms("ab");
const rounds = Number(process.env.BENCH_ROUNDS ?? 7);
/** Runs of each of node:80 and nodePort per round, alternating which goes first. */
const pairs = Number(process.env.BENCH_PAIRS ?? 6);
/** The spread (min–max) of per-round ratios that is small enough: ±3 % of their median. */
const spreadGoal = 0.03;
const requests = Number(process.env.BENCH_REQUESTS ?? 10000);

interface Run { rps: number; p50: number; p99: number }

/** One ab run from the client: requests per second and the 50th/99th percentile in ms. */
function ab(cluster: NodeCluster, url: string, keepAlive: boolean): Run {
  const out = inNs(cluster.client, "ab", ["-q", "-n", String(keepAlive ? 10 * requests : requests), "-c", "16", ...(keepAlive ? ["-k"] : []), url]).stdout;
  const field = (re: RegExp) => Number(re.exec(out)?.[1]);
  const run = { rps: field(/Requests per second:\s+([\d.]+)/), p50: field(/^\s+50%\s+(\d+)/m), p99: field(/^\s+99%\s+(\d+)/m) };
  if (!(run.rps > 0) || field(/Failed requests:\s+(\d+)/) !== 0 || /Non-2xx/.test(out)) throw new Error(`bench:nodes: ab ${url} failed:\n${out}`);
  return run;
}

/** The median (of an even count, the mean of the middle two). */
const mid = (values: number[]) => {
  const v = [...values].sort((a, b) => a - b), h = Math.floor(v.length / 2);
  return v.length % 2 ? v[h]! : (v[h - 1]! + v[h]!) / 2;
};

async function benchMode(mode: ProxyMode): Promise<string[]> {
  const { nodeInit, standIn } = edgeImages();
  const cluster = new NodeCluster({ mode, images: [nodeInit, standIn] });
  try {
    await cluster.start();
    await installEdge(cluster, standIn, { args: ["-f", join(repoRoot, "presets", "source-ip.yaml"), "--wait", "--timeout", "300s"], seconds: 120 });
    const pods = ((await cluster.control.api("GET", "/api/v1/namespaces/kong/pods?labelSelector=app.kubernetes.io%2Fname%3Dkong")).body as {
      items: { spec: { nodeName: string }; status: { podIP: string; containerStatuses?: { name: string; containerID?: string }[] } }[];
    }).items;
    for (const pod of pods) {
      const id = pod.status.containerStatuses?.find((c) => c.name === "proxy")?.containerID?.replace(/^containerd:\/\//, "");
      const node = cluster.nodes.find((n) => n.name === pod.spec.nodeName);
      if (!id || !node) throw new Error("bench:nodes: a Kong pod without a running proxy container");
      // The pod's own network namespace (its /proc/sys/net is the pod's once entered).
      const r = node.exec("nsenter", ["--target", node.containerPid(id), "--net", "--", "sh", "-c", "echo 0 > /proc/sys/net/ipv4/tcp_max_tw_buckets"]);
      if (r.status !== 0) throw new Error(`bench:nodes: no TIME_WAIT in ${pod.status.podIP}: ${r.stderr}`);
    }
    const local = pods.find((p) => p.spec.nodeName === cluster.nodes[0]!.name);
    if (!local) throw new Error("bench:nodes: no Kong pod on node a");
    const targets = {
      "node:80": `http://${cluster.address(0)}/`,
      nodePort: `http://${cluster.address(0)}:30080/`,
      pod: `http://${local.status.podIP}:8000/`,
    };
    const lines = [`kube-proxy ${mode} mode, ${rounds} rounds of ab -c 16 (${requests} requests per run with a new connection each, ${10 * requests} with keep-alive):`];
    for (const keepAlive of [true, false]) {
      const runs: Record<keyof typeof targets, Run[]> = { "node:80": [], nodePort: [], pod: [] };
      const ratios: number[] = [];
      for (let i = 0; i < rounds; i++) {
        const rates: Record<"node:80" | "nodePort", number[]> = { "node:80": [], nodePort: [] };
        for (let pair = 0; pair < pairs; pair++) {
          for (const t of pair % 2 ? (["nodePort", "node:80"] as const) : (["node:80", "nodePort"] as const)) {
            const r = ab(cluster, targets[t], keepAlive);
            runs[t].push(r);
            rates[t].push(r.rps);
          }
        }
        runs.pod.push(ab(cluster, targets.pod, keepAlive));
        ratios.push(mid(rates["node:80"]) / mid(rates.nodePort));
      }
      const median = mid([...ratios]);
      const spread = Math.max(median - Math.min(...ratios), Math.max(...ratios) - median) / median;
      const base = mid(runs.pod.map((x) => x.rps));
      lines.push(`  ${keepAlive ? "keep-alive" : "new connection per request"}: node:80 / nodePort per round median ${median.toFixed(3)}, ` +
        `min–max ${Math.min(...ratios).toFixed(3)}–${Math.max(...ratios).toFixed(3)} (±${(spread * 100).toFixed(1)} %, ${spread <= spreadGoal ? "within" : "above"} the ±${spreadGoal * 100} % goal)`);
      for (const [name, rs] of Object.entries(runs)) {
        const rps = mid(rs.map((x) => x.rps));
        lines.push(`    ${name.padEnd(9)} ${rps.toFixed(0).padStart(7)} req/s (${((rps / base) * 100).toFixed(0)}% of pod)  p50 ${mid(rs.map((x) => x.p50))} ms  p99 ${mid(rs.map((x) => x.p99))} ms`);
      }
    }
    return lines;
  } finally {
    await cluster.stop();
    removeScratchCharts();
  }
}

const report: string[] = [];
for (const mode of ["iptables", "nftables"] as const) report.push(...(await benchMode(mode)));
console.log(report.join("\n"));
