/**
 * `npm run bench:nodes`: the data path through real kube-proxy on the real nodes of tests/nodes,
 * in its iptables and its nftables mode, from the client outside the nodes to a Kong stand-in pod
 * (images/kong-stand-in, not Kong) after `helm install edge ./`:
 *
 *   node:80   node address :80 → node-init's rules → kube-proxy's NodePort → pod :8000
 *   nodePort  node address :30080 → kube-proxy's NodePort → pod :8000
 *   pod       pod address :8000 (routed through its node, no NAT)
 *
 * Each run is ab (apache2-utils) with -k (keep-alive) or without (a new connection per request);
 * targets are interleaved round by round and medians reported, with the ratio node:80 / nodePort
 * of each round: its median and its spread (min–max). node:80 cannot beat the NodePort it is
 * rewritten to, so a ratio above 1 is noise; rounds are added (up to BENCH_MAX_ROUNDS) until the
 * spread is within ±3 % of the median, so that a regression of the rewrite would show. Not a test.
 * Options (environment): BENCH_ROUNDS (at least, default 5), BENCH_MAX_ROUNDS (default 20),
 * BENCH_REQUESTS (per run, default 4000).
 */
import { join } from "node:path";
import { builtImage } from "../image/image.js";
import { removeScratchCharts, scratchChart } from "../lib/chart.js";
import { helms, requirePrograms } from "../lib/tools.js";
import { inNs } from "../testbed/testbed.js";
import { goImage, NodeCluster, standInValues } from "./cluster.js";
import type { ProxyMode } from "./node.js";

if (process.getuid?.() !== 0) throw new Error("bench:nodes: real nodes need root");
requirePrograms("ab");
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const maxRounds = Number(process.env.BENCH_MAX_ROUNDS ?? 20);
/** The spread (min–max) of per-round ratios that is small enough: ±3 % of their median. */
const spreadGoal = 0.03;
const requests = Number(process.env.BENCH_REQUESTS ?? 4000);

interface Run { rps: number; p50: number; p99: number }

/** One ab run from the client: requests per second and the 50th/99th percentile in ms. */
function ab(cluster: NodeCluster, url: string, keepAlive: boolean): Run {
  const out = inNs(cluster.client, "ab", ["-q", "-n", String(requests), "-c", "16", ...(keepAlive ? ["-k"] : []), url]).stdout;
  const field = (re: RegExp) => Number(re.exec(out)?.[1]);
  const run = { rps: field(/Requests per second:\s+([\d.]+)/), p50: field(/^\s+50%\s+(\d+)/m), p99: field(/^\s+99%\s+(\d+)/m) };
  if (!(run.rps > 0) || field(/Failed requests:\s+(\d+)/) !== 0 || /Non-2xx/.test(out)) throw new Error(`bench:nodes: ab ${url} failed:\n${out}`);
  return run;
}

const mid = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function benchMode(mode: ProxyMode): Promise<string[]> {
  const nodeInit = builtImage();
  const standIn = goImage("kong-stand-in");
  const cluster = new NodeCluster({ mode, images: [{ name: "node-init", archive: join(nodeInit.out, "edge-node-init.oci.tar") }, standIn] });
  try {
    await cluster.start();
    const r = cluster.helm(helms[0].path, ["install", "edge", scratchChart(), ...standInValues(standIn), "--wait", "--timeout", "300s"]);
    if (r.status !== 0) throw new Error(`helm install: ${r.stdout}${r.stderr}`);
    await cluster.control.waitFor(async () => cluster.curl(`http://${cluster.address(0)}/`).startsWith("kong-stand-in"), "node a :80", 120);
    const pods = ((await cluster.control.api("GET", "/api/v1/namespaces/kong/pods?labelSelector=app.kubernetes.io%2Fname%3Dkong")).body as { items: { status: { podIP: string } }[] }).items;
    const targets: Record<string, string> = {
      "node:80": `http://${cluster.address(0)}/`,
      nodePort: `http://${cluster.address(0)}:30080/`,
      pod: `http://${pods[0]!.status.podIP}:8000/`,
    };
    const lines = [`kube-proxy ${mode} mode, interleaved rounds of ${requests} requests (ab -c 16), medians:`];
    for (const keepAlive of [true, false]) {
      const runs: Record<string, Run[]> = Object.fromEntries(Object.keys(targets).map((t) => [t, []]));
      const ratios: number[] = [];
      const spread = () => Math.max(mid([...ratios]) - Math.min(...ratios), Math.max(...ratios) - mid([...ratios])) / mid([...ratios]);
      while (ratios.length < rounds || (spread() > spreadGoal && ratios.length < maxRounds)) {
        for (const [name, url] of Object.entries(targets)) runs[name]!.push(ab(cluster, url, keepAlive));
        ratios.push(runs["node:80"]!.at(-1)!.rps / runs.nodePort!.at(-1)!.rps);
      }
      const base = mid(runs.pod!.map((x) => x.rps));
      lines.push(`  ${keepAlive ? "keep-alive" : "new connection per request"}, ${ratios.length} rounds: node:80 / nodePort per round median ${mid([...ratios]).toFixed(3)}, ` +
        `min–max ${Math.min(...ratios).toFixed(3)}–${Math.max(...ratios).toFixed(3)} (±${(spread() * 100).toFixed(1)} %${spread() > spreadGoal ? `, above the ±${spreadGoal * 100} % goal after ${maxRounds} rounds` : ""})`);
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
