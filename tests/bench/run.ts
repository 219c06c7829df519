/**
 * `npm run bench`: the data path through node-init measured side by side with the paths it adds
 * to, in one run, in the netns testbed (kube-proxy nftables-mode rules, nginx as the Kong pod):
 *
 *   node:80   client → node address :80 → node-init port rewrite → NodePort DNAT → pod :8000
 *   nodePort  client → node address :30080 → NodePort DNAT → pod :8000
 *   pod       client → pod :8000 (routed through the node, no NAT)
 *
 * Keep-alive runs use wrk; new-connection runs use ab without -k (each request a new TCP
 * connection, counted in the node's conntrack table to prove it). Targets are interleaved round by
 * round and medians reported, as single runs vary by several percent. Then node-init's own
 * footprint, run from its image: CPU per readiness probe and per `check`, CPU of `run` per resync
 * while nothing changes, peak RSS of `run` and its children, and how fast `run` repairs its table
 * after 20 deletions or flushes, also while every probe of Kong hangs. Then what a large
 * cluster costs it: CPU of `run` while kube-proxy rewrites thousands of Service chains, beside
 * the floor (`nft monitor` read by `cat`) measured over the same churn at the same time; and, in
 * an IPVS testbed, CPU per tick with 10,000 IPv4 and 2,000 IPv6 Service addresses on kube-ipvs0.
 *
 * Options (environment): BENCH_ROUNDS (default 5), BENCH_SECONDS (wrk duration, default 3),
 * BENCH_REQUESTS (ab requests per run, default 4000), BENCH_RESYNCS (default 30),
 * BENCH_BASELINE_SCRIPT (another node-init.sh whose footprint to measure alongside),
 * BENCH_CHURN_TRANSACTIONS (default 20) of BENCH_CHURN_CHAINS chains each (default 2000).
 */
import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { inNs, ownerTag, removeScratchCharts, requirePrograms, shIn } from "../../local/index.js";
import { inPod, type NodeInit, renderNodeInit, startRun, verb } from "../lib/node-init.js";
import { addr, Testbed } from "../lib/testbed.js";

if (process.getuid?.() !== 0) throw new Error("bench: the netns testbed needs root");
requirePrograms("wrk", "ab", "nginx", "conntrack");

const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const seconds = Number(process.env.BENCH_SECONDS ?? 3);
const requests = Number(process.env.BENCH_REQUESTS ?? 4000);
const resyncs = Number(process.env.BENCH_RESYNCS ?? 30);
const baseline = process.env.BENCH_BASELINE_SCRIPT;
const churnTransactions = Number(process.env.BENCH_CHURN_TRANSACTIONS ?? 20);
const churnChains = Number(process.env.BENCH_CHURN_CHAINS ?? 2000);
const targets = {
  "node:80": `http://${addr.node4}:80/`,
  nodePort: `http://${addr.node4}:30080/`,
  pod: `http://${addr.kong4}:8000/`,
} as const;
type Target = keyof typeof targets;

interface Sample { rps: number; p50: number; p99: number; connections?: number }

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** wrk's latency figure ("1.23ms", "850.00us", "1.02s") in milliseconds. */
const ms = (v: string) => {
  const n = parseFloat(v);
  return v.endsWith("us") ? n / 1000 : v.endsWith("ms") ? n : v.endsWith("s") ? n * 1000 : n;
};

function keepAlive(tb: Testbed, url: string): Sample {
  const out = inNs(tb.client, "wrk", ["-t1", "-c16", `-d${seconds}s`, "--latency", url]).stdout;
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const p50 = ms(/\s50%\s+(\S+)/.exec(out)?.[1] ?? "NaN");
  const p99 = ms(/\s99%\s+(\S+)/.exec(out)?.[1] ?? "NaN");
  if (!(rps > 0) || /Non-2xx|Socket errors/.test(out)) throw new Error(`bench: wrk run failed:\n${out}`);
  return { rps, p50, p99 };
}

let sourceIndex = 20;
/** New connection per request; each run from a fresh client address so TIME_WAIT never piles up. */
function newConnections(tb: Testbed, url: string): Sample {
  const source = `192.0.2.${sourceIndex++}`;
  inNs(tb.client, "ip", ["addr", "add", `${source}/24`, "dev", "eth0"]);
  inNs(tb.node, "conntrack", ["-F"], { allowFail: true });
  const out = inNs(tb.client, "ab", ["-q", "-n", String(requests), "-c", "16", "-B", source, url]).stdout;
  const connections = inNs(tb.node, "conntrack", ["-L", "-p", "tcp", "-s", source], { allowFail: true }).stdout.split("\n").filter(Boolean).length;
  const rps = Number(/Requests per second:\s+([\d.]+)/.exec(out)?.[1]);
  const failed = Number(/Failed requests:\s+(\d+)/.exec(out)?.[1]);
  const p50 = Number(/^\s*50%\s+(\d+)/m.exec(out)?.[1]);
  const p99 = Number(/^\s*99%\s+(\d+)/m.exec(out)?.[1]);
  if (!(rps > 0) || failed !== 0) throw new Error(`bench: ab run failed:\n${out}`);
  return { rps, p50, p99, connections };
}

function nginx(tb: Testbed): void {
  const conf = join(tb.dir, "nginx.conf");
  writeFileSync(conf, `daemon off; worker_processes 1; pid ${tb.dir}/nginx.pid; error_log ${tb.dir}/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off; keepalive_requests 1000000;
  client_body_temp_path ${tb.dir}; proxy_temp_path ${tb.dir}; fastcgi_temp_path ${tb.dir}; uwsgi_temp_path ${tb.dir}; scgi_temp_path ${tb.dir};
  server { listen 8000 reuseport; listen [::]:8000; location / { return 200 "kong\\n"; } }
}
`);
  spawn("ip", ["netns", "exec", tb.kong, "nginx", "-c", conf], { stdio: "ignore" });
}

const pause = (ms: number) => new Promise((res) => setTimeout(res, ms));

/**
 * CPU seconds (self + waited-for children), RSS, PSS and private (anonymous) RSS of `pid` and its
 * live descendants. Most of RSS is shared library pages; the private part is what a process adds.
 */
function usage(root: number): { cpu: number; rss: number; pss: number; anon: number } {
  const tick = 100; // USER_HZ on Linux
  const stats = readdirSync("/proc").filter((d) => /^\d+$/.test(d)).flatMap((d) => {
    try { return [{ pid: Number(d), stat: readFileSync(`/proc/${d}/stat`, "utf8").split(") ")[1]!.split(" "), status: readFileSync(`/proc/${d}/status`, "utf8") }]; } catch { return []; }
  });
  const tree = new Set([root]);
  for (let grew = true; grew;) {
    grew = false;
    for (const p of stats) if (!tree.has(p.pid) && tree.has(Number(p.stat[1]))) { tree.add(p.pid); grew = true; }
  }
  let cpu = 0, rss = 0, pss = 0, anon = 0;
  for (const p of stats.filter((x) => tree.has(x.pid))) {
    cpu += (Number(p.stat[11]) + Number(p.stat[12]) + Number(p.stat[13]) + Number(p.stat[14])) / tick;
    rss += Number(/VmRSS:\s+(\d+)/.exec(p.status)?.[1] ?? 0) * 1024;
    anon += Number(/RssAnon:\s+(\d+)/.exec(p.status)?.[1] ?? 0) * 1024;
    // PSS shares each page among the processes mapping it: shared libraries counted once in all.
    try { pss += Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${p.pid}/smaps_rollup`, "utf8"))?.[1] ?? 0) * 1024; } catch { /* exited */ }
  }
  return { cpu, rss, pss, anon };
}

/** CPU milliseconds per run of `verbName`, from the image, over `count` runs in one shell. */
function verbCpuMs(tb: Testbed, ni: NodeInit, verbName: string, count: number): number {
  // The shell's own /proc stat at the end holds the CPU time of every run it waited for.
  const loop = `i=0; while [ $i -lt ${count} ]; do sh /scripts/node-init.sh ${verbName} || exit 1; i=$((i + 1)); done; cat /proc/$$/stat`;
  const { argv, env } = inPod(tb, ni, ["/bin/sh", "-c", loop]);
  const stat = inNs(tb.node, argv[0]!, argv.slice(1), { env }).stdout.split(") ")[1]!.split(" ");
  return ((Number(stat[13]) + Number(stat[14])) * 10) / count;
}

/** Seconds from removing or emptying node-init's table until `run` has put it back, each time. */
function repairLatencies(tb: Testbed, times: number): number[] {
  const script = `
    i=0
    while [ $i -lt ${times} ]; do
      start=$(date +%s%N)
      if [ $((i % 2)) = 0 ]; then
        nft delete table inet edge_node_init
        until nft list chain inet edge_node_init prerouting 2>/dev/null | grep -q 'edge 80->'; do :; done
      else
        nft flush chain inet edge_node_init prerouting
        until nft list chain inet edge_node_init prerouting 2>/dev/null | grep -q 'edge 80->'; do :; done
      fi
      echo $(( $(date +%s%N) - start ))
      sleep 0.5
      i=$((i + 1))
    done`;
  return shIn(tb.node, script).stdout.trim().split("\n").map((ns) => Number(ns) / 1e9);
}

interface Footprint { probe: string; probeMs: number; checkMs: number; resyncMs: number; rssKiB: number; pssKiB: number; anonKiB: number; repairs?: number[] }

/**
 * node-init's own cost, for `ni.script` (the chart's, or a baseline to compare with): `run` at a
 * 1 s resync for `resyncs` resyncs while nothing changes (CPU per resync, whatever the script
 * does on some of them only, and peak memory), then the readiness probe's verb `probe` and the
 * `check` verb, then repairs.
 */
async function footprint(tb: Testbed, ni: NodeInit, probe: string, measureRepairs: boolean): Promise<Footprint> {
  const r = startRun(tb, ni, { NODE_INIT_RESYNC_SECONDS: "1", NODE_INIT_API_URL: "http://127.0.0.1:1" });
  try {
    await tb.waitFor(() => verb(tb, ni, "check").status === 0, "run applied the rules");
    await pause(3000);
    // The shell of `run` (ip netns exec execs into it, so the child's pid is the shell's).
    const pid = r.child.pid!;
    const start = usage(pid);
    let rss = 0, pss = 0, anon = 0;
    for (let i = 0; i < resyncs; i++) {
      await pause(1000);
      const now = usage(pid);
      rss = Math.max(rss, now.rss);
      pss = Math.max(pss, now.pss);
      anon = Math.max(anon, now.anon);
    }
    const resyncMs = ((usage(pid).cpu - start.cpu) * 1000) / resyncs;
    const probeMs = verbCpuMs(tb, ni, probe, 50);
    const checkMs = verbCpuMs(tb, ni, "check", 50);
    const repairs = measureRepairs ? repairLatencies(tb, 20) : undefined;
    return { probe, probeMs, checkMs, resyncMs, rssKiB: rss / 1024, pssKiB: pss / 1024, anonKiB: anon / 1024, repairs };
  } finally {
    await r.stop();
  }
}

/** Drops every packet to `ports` in namespace `ns` until the returned function is called: probes of Kong hang. */
function blackhole(ns: string, ports: string): () => void {
  shIn(ns, `nft -f - <<'EOF'
table inet blackhole {
  chain input { type filter hook input priority 0; policy accept; tcp dport { ${ports} } drop; }
}
EOF`);
  return () => { inNs(ns, "nft", ["delete", "table", "inet", "blackhole"]); };
}

/** Seconds of repair after deletions and flushes while every probe of Kong hangs (3 s per address and port). */
async function repairsWhileProbesHang(tb: Testbed, ni: NodeInit): Promise<number[]> {
  const open = blackhole(tb.kong, "8000, 8443");
  // Resync 1 s: a probe every 10 ticks, each hanging 3 s per address and port, so one is nearly always in flight.
  const r = startRun(tb, ni, { NODE_INIT_RESYNC_SECONDS: "1", NODE_INIT_API_URL: "http://127.0.0.1:1" });
  try {
    await tb.waitFor(() => r.log().includes("watching ruleset changes"), "run watching");
    await pause(1000);
    return repairLatencies(tb, 10);
  } finally {
    await r.stop();
    open();
  }
}

interface Churn { runCpu: number; floorCpu: number; reapplies: number; lines: number }

/**
 * CPU seconds of `run` (and its children) while kube-proxy-sized transactions rewrite `chains`
 * Service chains each (added with a rule, then removed), beside the floor: `nft monitor` read by
 * `cat`, started before and measured over the same churn.
 */
async function churn(tb: Testbed, ni: NodeInit): Promise<Churn> {
  const add = join(tb.dir, "churn-add.nft"), del = join(tb.dir, "churn-del.nft");
  const ids = Array.from({ length: churnChains }, (_, i) => i);
  writeFileSync(add, ids.map((i) => `add chain ip kube-proxy service-${i}-churn\nadd rule ip kube-proxy service-${i}-churn ip daddr 10.96.${i >> 8}.${i & 255} tcp dport 80 counter\n`).join(""));
  writeFileSync(del, ids.map((i) => `flush chain ip kube-proxy service-${i}-churn\ndelete chain ip kube-proxy service-${i}-churn\n`).join(""));
  const r = startRun(tb, ni, { NODE_INIT_RESYNC_SECONDS: "3600", NODE_INIT_API_URL: "http://127.0.0.1:1" });
  const floor = spawn("ip", ["netns", "exec", tb.node, "sh", "-c", `nft monitor | cat > ${join(tb.dir, "churn-floor.log")}`], { stdio: "ignore", detached: true });
  try {
    await tb.waitFor(() => r.log().includes("watching ruleset changes"), "run watching");
    await pause(1500);
    const before = { run: usage(r.child.pid!).cpu, floor: usage(floor.pid!).cpu };
    shIn(tb.node, `i=0; while [ $i -lt ${churnTransactions} ]; do nft -f ${add}; nft -f ${del}; i=$((i + 2)); done`);
    // Until both readers have drained the stream: their CPU time stops growing.
    let after = { run: usage(r.child.pid!).cpu, floor: usage(floor.pid!).cpu };
    for (let still = 0; still < 3;) {
      await pause(500);
      const now = { run: usage(r.child.pid!).cpu, floor: usage(floor.pid!).cpu };
      still = now.run - after.run < 0.015 && now.floor - after.floor < 0.015 ? still + 1 : 0;
      after = now;
    }
    const lines = readFileSync(join(tb.dir, "churn-floor.log"), "utf8").split("\n").length - 1;
    const reapplies = r.log().split("\n").filter((l) => /re-applying|plan changed/.test(l)).length;
    return { runCpu: after.run - before.run, floorCpu: after.floor - before.floor, reapplies, lines };
  } finally {
    try { process.kill(-floor.pid!, "SIGKILL"); } catch { /* gone */ }
    await r.stop();
  }
}

/**
 * In kube-proxy IPVS mode with `v4` IPv4 and `v6` IPv6 Service addresses on kube-ipvs0: CPU
 * milliseconds of one `apply` (the plan every tick makes, plus one install), and, for the chart's
 * script, of `run` over 20 ticks at a 1 s resync, sampled every second: the median (a tick) and
 * the highest (the tick that checks everything, every tenth, with the probe). `script`: another
 * node-init.sh (apply only).
 */
async function ipvsCost(v4: number, v6: number, script?: string): Promise<{ applyMs: number; tickMs?: number; fullTickMs?: number }> {
  const tb = new Testbed("ipvs", `${ownerTag()}i`);
  try {
    await tb.up();
    const batch = join(tb.dir, "ipvs-addresses");
    writeFileSync(batch, [
      ...Array.from({ length: v4 }, (_, i) => `addr add 10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32 dev kube-ipvs0`),
      ...Array.from({ length: v6 }, (_, i) => `addr add fd00:96::${i.toString(16)}/128 dev kube-ipvs0 nodad`),
    ].join("\n") + "\n");
    inNs(tb.node, "ip", ["-batch", batch]);
    const rendered = renderNodeInit(tb.dir);
    const ni = script ? { ...rendered, script: join(tb.dir, "baseline", "node-init.sh") } : rendered;
    if (script) {
      mkdirSync(join(tb.dir, "baseline"));
      writeFileSync(ni.script, readFileSync(script, "utf8"));
    }
    const applyMs = verbCpuMs(tb, ni, "apply", 3);
    if (script) return { applyMs };
    const r = startRun(tb, ni, { NODE_INIT_RESYNC_SECONDS: "1", NODE_INIT_API_URL: "http://127.0.0.1:1" });
    try {
      await tb.waitFor(() => r.log().includes("watching ruleset changes"), "run watching", 120);
      await pause(2000);
      const samples: number[] = [];
      let last = usage(r.child.pid!).cpu;
      for (let i = 0; i < 20; i++) {
        await pause(1000);
        const now = usage(r.child.pid!).cpu;
        samples.push((now - last) * 1000);
        last = now;
      }
      samples.sort((a, b) => a - b);
      return { applyMs, tickMs: samples[10]!, fullTickMs: samples[19]! };
    } finally {
      await r.stop();
    }
  } finally {
    tb.destroy();
  }
}

async function main() {
  const tb = new Testbed("nftables", `${ownerTag()}b`);
  try {
    await tb.up({ kongBackend: false });
    nginx(tb);
    // nginx closes each HTTP/1.0 connection first, so TIME_WAIT piles up in the pod. Through the
    // NodePort every client is masqueraded to one node address, and new SYNs soon hit those
    // TIME_WAIT tuples (a 1 s retransmit each): a testbed artefact that would dwarf the rules'
    // cost. No TIME_WAIT in the pod namespace gives each path the same fresh state.
    shIn(tb.kong, "sysctl -qw net.ipv4.tcp_max_tw_buckets=0");
    const ni = renderNodeInit(tb.dir);
    if (verb(tb, ni, "apply").status !== 0) throw new Error("bench: apply failed");
    await tb.waitFor(() => tb.curl(tb.client, targets["node:80"]) === "kong", "nginx through node:80");

    const results: Record<"keepAlive" | "newConnection", Record<Target, Sample[]>> = {
      keepAlive: { "node:80": [], nodePort: [], pod: [] },
      newConnection: { "node:80": [], nodePort: [], pod: [] },
    };
    const order = Object.keys(targets) as Target[];
    for (let round = 0; round < rounds; round++) {
      // Rotate the order each round so no target always runs first or last.
      const rotated = [...order.slice(round % 3), ...order.slice(0, round % 3)];
      for (const t of rotated) results.keepAlive[t].push(keepAlive(tb, targets[t]));
      for (const t of rotated) results.newConnection[t].push(newConnections(tb, targets[t]));
      process.stderr.write(`bench: round ${round + 1}/${rounds} done\n`);
    }

    const lines: string[] = [];
    lines.push(`edge bench — netns testbed, kube-proxy nftables-mode rules, nginx as the Kong pod; ${rounds} interleaved rounds`);
    for (const kind of ["keepAlive", "newConnection"] as const) {
      lines.push("", kind === "keepAlive" ? `keep-alive (wrk -t1 -c16 -d${seconds}s), medians:` : `new connection per request (ab -n ${requests} -c 16, no -k), medians:`);
      lines.push("  target      req/s      p50 ms   p99 ms" + (kind === "newConnection" ? "   conntrack entries/run" : ""));
      for (const t of order) {
        const s = results[kind][t];
        lines.push(`  ${t.padEnd(10)} ${median(s.map((x) => x.rps)).toFixed(0).padStart(8)}   ${median(s.map((x) => x.p50)).toFixed(2).padStart(6)}   ${median(s.map((x) => x.p99)).toFixed(2).padStart(6)}` +
          (kind === "newConnection" ? `   ${median(s.map((x) => x.connections ?? 0)).toFixed(0).padStart(8)}` : ""));
      }
      const ratio = (a: Target, b: Target) => median(results[kind][a].map((x, i) => x.rps / results[kind][b][i]!.rps));
      lines.push(`  ratio node:80 / nodePort = ${ratio("node:80", "nodePort").toFixed(3)}   node:80 / pod = ${ratio("node:80", "pod").toFixed(3)}   (median of per-round ratios)`);
    }
    const describe = (name: string, fp: Footprint) => {
      lines.push(`  ${name}: readiness probe (\`${fp.probe}\` verb) ${fp.probeMs.toFixed(1)} ms CPU; \`check\` verb ${fp.checkMs.toFixed(1)} ms CPU`);
      lines.push(`  ${name}: run ${fp.resyncMs.toFixed(1)} ms CPU per resync while nothing changes, so ${(fp.resyncMs * 2).toFixed(0)} ms per idle minute at the default 30 s resync`);
      lines.push(`  ${name}: peak RSS ${fp.rssKiB.toFixed(0)} KiB, PSS ${fp.pssKiB.toFixed(0)} KiB, private ${fp.anonKiB.toFixed(0)} KiB (run and its children; RSS counts a shared library once per process, PSS once in all)`);
      if (fp.repairs) {
        const sorted = [...fp.repairs].sort((a, b) => a - b);
        lines.push(`  ${name}: repair after ${sorted.length} deletions/flushes of its table: median ${(median(sorted) * 1000).toFixed(0)} ms, worst ${(sorted.at(-1)! * 1000).toFixed(0)} ms`);
      }
    };
    lines.push("", `node-init footprint, from its image (run over ${resyncs} resyncs at 1 s; probe and check over 50 runs each):`);
    const probe = ni.main.readinessProbe!.exec.command.at(-1)!;
    describe("node-init", await footprint(tb, ni, probe, true));
    if (baseline) {
      // The same measurements for another version of the script, e.g. the previous release's.
      // Its own /scripts folder; its readiness probe was `check`.
      const old = { ...ni, script: join(tb.dir, "baseline", "node-init.sh") };
      mkdirSync(join(tb.dir, "baseline"));
      writeFileSync(old.script, readFileSync(baseline, "utf8"));
      verb(tb, ni, "delete");
      if (verb(tb, old, "apply").status !== 0) throw new Error("bench: the baseline script's apply failed");
      describe(`baseline ${baseline}`, await footprint(tb, old, "check", false));
    }
    const hung = [...await repairsWhileProbesHang(tb, ni)].sort((a, b) => a - b);
    lines.push(`  node-init: repair after ${hung.length} deletions/flushes while every probe of Kong hangs (3 s per address and port): median ${(median(hung) * 1000).toFixed(0)} ms, worst ${(hung.at(-1)! * 1000).toFixed(0)} ms`);

    lines.push("", `kube-proxy churn: ${churnTransactions} transactions of ${churnChains} Service chains each, each script measured side by side with the floor (nft monitor | cat):`);
    const churnLine = (name: string, c: Churn) =>
      `  ${name}: run ${(c.runCpu * 1000).toFixed(0)} ms CPU, floor ${(c.floorCpu * 1000).toFixed(0)} ms CPU over ${c.lines} nft monitor lines: ratio ${(c.runCpu / c.floorCpu).toFixed(2)}; re-applies ${c.reapplies}`;
    lines.push(churnLine("node-init", await churn(tb, ni)));
    if (baseline) {
      const old = { ...ni, script: join(tb.dir, "baseline", "node-init.sh") };
      verb(tb, ni, "delete");
      if (verb(tb, old, "apply").status !== 0) throw new Error("bench: the baseline script's apply failed");
      lines.push(churnLine(`baseline ${baseline}`, await churn(tb, old)));
      verb(tb, old, "delete");
      verb(tb, ni, "apply");
    }

    lines.push("", "kube-proxy IPVS mode (every tick plans again; kube-ipvs0's Service addresses are read when ip monitor reports a change, and compared in full every tenth tick): CPU per apply, and per second of run at a 1 s resync (median, and highest: the full check):");
    for (const [v4, v6] of [[0, 0], [10_000, 0], [0, 2_000]] as const) {
      const now = await ipvsCost(v4, v6);
      const before = baseline ? `; baseline apply ${(await ipvsCost(v4, v6, baseline)).applyMs.toFixed(0)} ms` : "";
      lines.push(`  ${String(v4).padStart(6)} IPv4 + ${String(v6).padStart(5)} IPv6 Service addresses: apply ${now.applyMs.toFixed(0)} ms, run ${now.tickMs!.toFixed(0)} ms per tick, ${now.fullTickMs!.toFixed(0)} ms at a full check${before}`);
    }
    console.log(lines.join("\n"));
  } finally {
    tb.destroy();
    removeScratchCharts();
  }
}

await main();
