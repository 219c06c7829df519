/**
 * node-init > rules: the rendered node-init.sh, run from the node-init image's own tree with the
 * rendered environment inside a network-namespace testbed, under the NodePort rules of each kube-proxy mode, with real HTTP
 * backends. Root is required (CI runs as root); the machine's own namespace is never touched.
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { capabilityDrop } from "../lib/pod.js";
import { inNs, ownerTag, removeScratchCharts, requirePrograms, run, shIn, sleep } from "../../local/index.js";
import { imagePod, inPod, type NodeInit, renderNodeInit, runsInNode, sessionProcesses, startRun, stopRuns, verb, verbOnHost } from "../lib/node-init.js";
import { addr, type TestbedMode, Testbed } from "../lib/testbed.js";

if (process.getuid?.() !== 0) throw new Error("node-init > rules: the netns testbed needs root (CI runs as root)");

const here = new URL(".", import.meta.url).pathname;
const hostRuleset = run("nft", ["-s", "list", "ruleset"]).stdout;
afterAll(() => {
  removeScratchCharts();
  // The machine's own ruleset is exactly as it was.
  expect(run("nft", ["-s", "list", "ruleset"]).stdout).toBe(hostRuleset);
});


/** One kept-alive connection from the client namespace: `next()` makes a request on it. */
function keptAlive(tb: Testbed, url: string) {
  const child = spawn("ip", ["netns", "exec", tb.client, process.execPath, join(here, "keepalive.mjs"), url], { stdio: ["pipe", "pipe", "inherit"] });
  const lines: string[] = [];
  let buffer = "";
  child.stdout.on("data", (d) => { buffer += d; const parts = buffer.split("\n"); buffer = parts.pop()!; lines.push(...parts); });
  return {
    async next(): Promise<{ body?: string; localPort?: number; error?: string }> {
      const want = lines.length + 1;
      child.stdin.write("\n");
      await tb.waitFor(() => lines.length >= want, "a kept-alive request");
      return JSON.parse(lines[want - 1]!);
    },
    close: () => child.kill(),
  };
}

/** Bounded load from the client namespace; resolves with the load generator's counts. */
function load(tb: Testbed, url: string, count: number, expectPrefix: string) {
  const child = spawn("ip", ["netns", "exec", tb.client, process.execPath, join(here, "load.mjs"), url, String(count), "4", expectPrefix]);
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  return new Promise<{ ok: number; failed: number; errors: Record<string, number> }>((resolve, reject) =>
    child.on("exit", () => { try { resolve(JSON.parse(out)); } catch { reject(new Error(`load.mjs: ${out}`)); } }));
}

const modes: TestbedMode[] = ["iptables-nft", "iptables-legacy", "nftables", "ipvs"];

describe.each(modes)("node-init > rules under kube-proxy %s mode", (mode) => {
  const tb = new Testbed(mode);
  const kong = mode === "ipvs" ? "kong-ipvs" : "kong";
  // Under IPVS the REDIRECT delivers to the node's own NodePort listener; elsewhere kube-proxy's
  // DNAT delivers to the Kong pod's container port.
  const backend = (publicPort: 80 | 443) => mode === "ipvs" ? `${kong} ${publicPort === 80 ? 30080 : 30443}` : `${kong} ${publicPort === 80 ? 8000 : 8443}`;
  let ni: NodeInit;
  let before = "";
  const v4 = `http://${addr.node4}`;
  const v6 = `http://[${addr.node6}]`;

  beforeAll(async () => {
    await tb.up();
    ni = renderNodeInit(tb.dir);
    before = tb.ruleset();
  });
  afterAll(() => {
    verb(tb, ni, "delete");
    tb.destroy();
  });

  it("should leave node:80 unanswered before apply, while the NodePort answers", () => {
    expect(tb.curl(tb.client, `${v4}/`)).toMatch(/^ERR/);
    expect(tb.curl(tb.client, `${v4}:30080/`)).toMatch(new RegExp(`^${kong} `));
  });

  it(`should detect kube-proxy mode ${mode} and pick its method`, () => {
    const r = verb(tb, ni, "apply");
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain(`kube-proxy mode: ${mode}; method: ${mode === "ipvs" ? "iptables-redirect" : "nftables"} (auto)`);
  });

  it("should send node:80 and node:443 to Kong over IPv4 and IPv6", () => {
    expect(tb.curl(tb.client, `${v4}/`)).toMatch(new RegExp(`^${backend(80)} `));
    expect(tb.curl(tb.client, `${v4}:443/`)).toMatch(new RegExp(`^${backend(443)} `));
    expect(tb.curl(tb.client, `${v6}/`)).toMatch(new RegExp(`^${backend(80)} `));
    expect(tb.curl(tb.client, `${v6}:443/`)).toMatch(new RegExp(`^${backend(443)} `));
  });

  it("should keep the NodePorts answering directly", () => {
    expect(tb.curl(tb.client, `${v4}:30080/`)).toMatch(new RegExp(`^${kong} `));
    expect(tb.curl(tb.client, `${v6}:30443/`)).toMatch(new RegExp(`^${kong} `));
  });

  it("should forward connections from the node to its own address", () => {
    expect(tb.curl(tb.node, `${v4}/`)).toMatch(new RegExp(`^${backend(80)} `));
    expect(tb.curl(tb.node, `${v6}:443/`)).toMatch(new RegExp(`^${backend(443)} `));
  });

  it("should leave loopback alone", () => {
    expect(tb.curl(tb.node, "http://127.0.0.1/")).toMatch(/^ERR/);
    expect(tb.curl(tb.node, "http://[::1]/")).toMatch(/^ERR/);
  });

  it("should leave pods' egress to external :80/:443 alone", () => {
    expect(tb.curl(tb.app, `http://${addr.client4}/`)).toMatch(/^external 80 /);
    expect(tb.curl(tb.app, `http://${addr.client4}:443/`)).toMatch(/^external 443 /);
    expect(tb.curl(tb.app, `http://[${addr.client6}]/`)).toMatch(/^external 80 /);
  });

  it("should leave routed traffic to a pod's port 80 alone", () => {
    expect(tb.curl(tb.client, `http://${addr.app4}/`)).toMatch(/^app 80 /);
    expect(tb.curl(tb.client, `http://[${addr.app6}]:443/`)).toMatch(/^app 443 /);
  });

  it("should leave other ports of the node alone", () => {
    expect(tb.curl(tb.client, `${v4}:8081/`)).toMatch(/^node 8081 /);
  });

  it(mode === "nftables"
    ? "should serve only the addresses in kube-proxy's nodeport-ips (its primary default), leaving a secondary address's listener alone"
    : "should serve every local address, where kube-proxy serves NodePorts too", () => {
    for (const url of [`http://${addr.secondary4}/`, `http://[${addr.secondary6}]/`]) {
      expect(tb.curl(tb.client, url)).toMatch(mode === "nftables" ? /^node-secondary 80 / : new RegExp(`^${backend(80)} `));
    }
  });

  it("should keep a connection that outlives a replacement and a removal of the table", async () => {
    const connection = keptAlive(tb, `${v4}/`);
    try {
      const first = await connection.next();
      expect(verb(tb, ni, "apply").status).toBe(0);
      const afterReplace = await connection.next();
      expect(verb(tb, ni, "delete").status).toBe(0);
      const afterDelete = await connection.next();
      for (const r of [first, afterReplace, afterDelete]) expect(r.body).toMatch(new RegExp(`^${backend(80)} `));
      expect(new Set([first, afterReplace, afterDelete].map((r) => r.localPort)).size).toBe(1);
    } finally {
      connection.close();
      expect(verb(tb, ni, "apply").status).toBe(0);
    }
  });

  it.runIf(mode === "ipvs")("should leave Service addresses on kube-ipvs0 alone", () => {
    expect(tb.curl(tb.app, `http://${addr.service4}/`)).toMatch(/^service 80 /);
    expect(tb.curl(tb.app, `http://[${addr.service6}]/`)).toMatch(/^service 80 /);
  });

  it("should be idempotent: apply again changes nothing", () => {
    const once = tb.ruleset();
    for (let i = 0; i < 5; i++) expect(verb(tb, ni, "apply").status).toBe(0);
    expect(tb.ruleset()).toBe(once);
    expect(verb(tb, ni, "check").status).toBe(0);
  });

  it("should report per-port counters and the mode in status", () => {
    tb.curl(tb.client, `${v4}/`);
    const r = verb(tb, ni, "status");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`kube-proxy mode: ${mode}`);
    expect(r.stdout).toContain("rules: in place");
    const packets = Number(/port 80 -> 30080: (\d+) packets/.exec(r.stdout)?.[1]);
    expect(packets).toBeGreaterThan(0);
    expect(r.stdout).toMatch(/port 443 -> 30443: \d+ packets, \d+ bytes/);
    expect(r.stdout).toContain(`NodePort addresses: ${mode === "nftables" ? `IPv4 ${addr.node4}; IPv6 ${addr.node6}` : "IPv4 every local address; IPv6 every local address"}`);
  });

  it("should prove in status that node:80 reaches Kong, with a request from the node itself", () => {
    const r = verb(tb, ni, "status");
    expect(r.stdout).toMatch(new RegExp(`probe http://${addr.node4}:80/: HTTP 200, Server: ${kong}, [0-9.]+s`));
    expect(r.stdout).toMatch(new RegExp(`probe http://\\[${addr.node6}\\]:80/: HTTP 200, Server: ${kong}, [0-9.]+s`));
    // The testbed's "Kong" speaks plain HTTP behind 443, so the TLS probe reports the failure.
    expect(r.stdout).toContain(`probe https://${addr.node4}:443/: failed: curl: (35)`);
  });

  it("should fail check, naming why, when someone alters the rules", () => {
    inNs(tb.node, "nft", ["flush", "chain", "inet", "edge_node_init", "output"]);
    const r = verb(tb, ni, "check");
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("was altered");
    expect(verb(tb, ni, "apply").status).toBe(0);
    expect(verb(tb, ni, "check").status).toBe(0);
  });

  it("should drop no request while apply is re-run under load", async () => {
    const result = load(tb, `${v4}/`, 3000, backend(80));
    for (let i = 0; i < 15; i++) {
      expect(verb(tb, ni, "apply").status).toBe(0);
      await sleep(50);
    }
    const r = await result;
    expect(r.failed, JSON.stringify(r.errors)).toBe(0);
    expect(r.ok).toBe(3000);
  });

  it("should restore the ruleset exactly on delete, and delete twice without error", () => {
    expect(verb(tb, ni, "delete").status).toBe(0);
    expect(tb.ruleset()).toBe(before);
    const again = verb(tb, ni, "delete");
    expect(again.status).toBe(0);
    expect(again.stderr).toContain("no rules to remove");
    expect(tb.curl(tb.client, `${v4}/`)).toMatch(/^ERR/);
  });

  describe("run", () => {
    const apiPort = "16443";
    const apiState = join(tb.dir, "api-state");
    const resync = 2;
    // The node's name comes from the downward API in the chart.
    const api = { NODE_INIT_API_URL: `http://127.0.0.1:${apiPort}`, NODE_INIT_RESYNC_SECONDS: String(resync), NODE_INIT_NODE_NAME: "node-a" };
    // A check or an apply may take seconds on a loaded 2-core machine: allow two resyncs plus that.
    const withinResync = 2 * resync + 15;
    // Ruleset changes wake `run` at once (nft monitor); `npm run bench` measures how fast. The
    // tests run it with a resync of an hour, so only an event can explain a repair, and allow a
    // loaded 2-core machine this long.
    const eventOnly = { ...api, NODE_INIT_RESYNC_SECONDS: "3600" };
    const withinEvent = 3;
    /**
     * Seconds from running `action` (shell, in the node) until node-init's table is back, timed
     * by one shell in the node that polls every 20 ms (no process spawned per poll from here).
     */
    const repairSeconds = (action: string) => {
      const out = shIn(tb.node, `start=$(date +%s%N)
${action}
i=0
until nft list table inet edge_node_init >/dev/null 2>&1; do
  i=$((i + 1)); [ $i -le ${withinEvent * 50} ] || { echo "not repaired within ${withinEvent} s"; exit 1; }
  sleep 0.02
done
echo $(( $(date +%s%N) - start ))`).stdout.trim();
      return Number(out) / 1e9;
    };
    /**
     * The median of three repair times, each from `action` (shell, in the node): the loop's
     * latency, not one scheduling hiccup of a loaded 2-core machine running other suites.
     */
    const medianRepairSeconds = async (action: () => string) => {
      const times: number[] = [];
      for (let i = 0; i < 3; i++) {
        times.push(repairSeconds(action()));
        await sleep(300); // the repair records what it installed
      }
      return times.sort((a, b) => a - b)[1]!;
    };
    const deleteTable = () => "nft delete table inet edge_node_init";
    /** The metrics file `run` keeps in the pod's state. */
    const metricsText = () => readFileSync(join(tb.dir, "state", "metrics", "metrics"), "utf8");
    /** Starts `run` and waits until it watches the ruleset. */
    const watching = async (env: Record<string, string>) => {
      const r = startRun(tb, ni, env);
      await tb.waitFor(() => r.log().includes("watching ruleset changes"), "run watching");
      await sleep(1000); // nft monitor subscribes a moment after it starts (longer on a loaded host)
      return r;
    };
    const reapplies = (log: string) => log.split("\n").filter((l) => /re-applying|plan changed/.test(l));
    /** What `run` sent the API stub, in order. */
    const requests = (): { method: string; url: string; accept?: string; authorization?: string; body: string }[] =>
      readFileSync(`${apiState}.requests`, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
    /** The Events `run` posted, in order. */
    const events = () => requests().filter((q) => q.method === "POST").map((q) => JSON.parse(q.body));
    const token = join(tb.dir, "serviceaccount", "token");
    beforeAll(async () => {
      writeFileSync(apiState, "exists");
      // The pod's ServiceAccount token, as the projected volume mounts it.
      mkdirSync(join(tb.dir, "serviceaccount"), { recursive: true });
      writeFileSync(token, "edge-test-token\n");
      spawn("ip", ["netns", "exec", tb.node, process.execPath, join(here, "api-stub.mjs"), apiPort, apiState], { stdio: "ignore" });
      await sleep(300);
    });
    beforeEach(() => {
      // A process left by an earlier test would re-apply its own configuration under this one.
      expect(runsInNode(tb), "node-init run processes left over in the node namespace").toEqual([]);
      // What an earlier run's watch saw of its DaemonSet (the pod's state is per pod).
      rmSync(join(tb.dir, "state", "owner-deleted"), { force: true });
    });
    afterEach(async () => { await stopRuns(); });

    it("should repair within a second when its table is deleted, without waiting for a resync, and log it", async () => {
      const r = await watching(eventOnly);
      expect(await medianRepairSeconds(deleteTable)).toBeLessThan(1);
      expect(tb.curl(tb.client, `${v4}/`).startsWith(backend(80))).toBe(true);
      // The log line precedes the repair, but its pipe is read only when the event loop runs.
      await tb.waitFor(() => r.log().includes("drift: table inet edge_node_init is missing; re-applying"), "the drift logged");
      expect(await r.stop()).toBe(0);
      expect(r.log()).toContain("DaemonSet still exists and selects this node: keeping rules");
    });

    it("should keep its state as Prometheus metrics (rules per port and family, repairs, probes) and serve them with serve-metrics, as nobody, on the one address it is given", async () => {
      writeFileSync(apiState, "exists");
      const r = await watching(eventOnly);
      let text = metricsText();
      for (const [port, nodePort] of [["80", "30080"], ["443", "30443"]]) {
        for (const family of ["ipv4", "ipv6"]) expect(text).toContain(`edge_node_init_rules_installed{port="${port}",nodeport="${nodePort}",family="${family}"} 1`);
      }
      expect(text).not.toContain("edge_node_init_rules_withheld{");
      expect(text).toMatch(/^edge_node_init_repairs_total 0$/m);
      expect(text).toMatch(/^edge_node_init_plan_errors_total 0$/m);
      const applied = Number(/^edge_node_init_last_apply_timestamp_seconds (\d+)$/m.exec(text)?.[1]);
      expect(Math.abs(applied - Date.now() / 1000)).toBeLessThan(60);
      // Every sample has its HELP and TYPE.
      const names = [...text.matchAll(/^(edge_[a-z_]+)[{ ]/gm)].map((m) => m[1]);
      for (const name of new Set(names)) expect(text).toMatch(new RegExp(`^# TYPE ${name} (gauge|counter)$`, "m"));
      expect(repairSeconds(deleteTable())).toBeLessThan(withinEvent);
      await tb.waitFor(() => /^edge_node_init_repairs_total 1$/m.test(metricsText()), "the repair counted");
      // The probe's last result, once a tick has passed.
      expect(await r.stop()).toBe(0);
      const ticking = await watching({ ...api, NODE_INIT_RESYNC_SECONDS: "1" });
      // A probe is one request per address, each given 3 s: on a loaded machine one may time out,
      // and the next tick's probe tells again. Both families must be seen answering.
      const answered = (address: string) => `edge_node_init_probe_success{address="${address}",port="80"} 1`;
      await tb.waitFor(() => [addr.node4, addr.node6].every((a) => metricsText().includes(answered(a))), "the probe in the metrics", withinResync);

      // The metrics container: non-root, no capability, the node's IPv4 address only.
      const wrap = capabilityDrop(imagePod(tb), [], { uid: 65534 });
      const { argv, env } = inPod(tb, ni, [...wrap, "/bin/sh", "/scripts/node-init.sh", "serve-metrics"],
        { NODE_INIT_METRICS_ADDRESS: addr.node4, NODE_INIT_METRICS_PORT: "19850" });
      const server = spawn("ip", ["netns", "exec", tb.node, ...argv], { env, stdio: ["ignore", "pipe", "pipe"], detached: true });
      let said = "";
      server.stdout.on("data", (d) => (said += d));
      server.stderr.on("data", (d) => (said += d));
      try {
        await tb.waitFor(() => tb.curl(tb.client, `http://${addr.node4}:19850/metrics`).includes("edge_node_init_repairs_total"), "the metrics served")
          .catch((e: Error) => { throw new Error(`${e.message}; serve-metrics said:\n${said}`); });
        expect(tb.curl(tb.client, `http://${addr.secondary4}:19850/metrics`)).toMatch(/^ERR 7/);
        expect(tb.curl(tb.client, `http://[${addr.node6}]:19850/metrics`)).toMatch(/^ERR 7/);
        const httpd = run("ip", ["netns", "pids", tb.node]).stdout.split(/\s+/).filter(Boolean).find((pid) => {
          try { return readFileSync(`/proc/${pid}/cmdline`, "latin1").startsWith("mini_httpd\0"); } catch { return false; }
        });
        expect(httpd, "mini_httpd running in the node").toBeDefined();
        const status = readFileSync(`/proc/${httpd}/status`, "utf8");
        expect(status).toMatch(/^Uid:\s+65534\s+65534\s+65534\s+65534$/m);
        expect(status).toMatch(/^CapEff:\s+0+$/m);
      } finally {
        try { process.kill(-server.pid!, "SIGKILL"); } catch { /* ended */ }
      }
      expect(await ticking.stop()).toBe(0);
    });

    it("should repair within a second while every probe of Kong hangs (the probe never holds up the loop)", async () => {
      // What serves the NodePorts drops every packet: each probe waits its full 3 s per address and port.
      const [ns, ports] = mode === "ipvs" ? [tb.node, "30080, 30443"] : [tb.kong, "8000, 8443"];
      shIn(ns, `nft -f - <<'EOF'
table inet blackhole {
  chain input { type filter hook input priority 0; policy accept; tcp dport { ${ports} } drop; }
}
EOF`);
      // The probes' curl processes in the node, each waiting out its 3 s.
      const probing = () => run("ip", ["netns", "pids", tb.node]).stdout.split(/\s+/).filter(Boolean).some((pid) => {
        try { return readFileSync(`/proc/${pid}/cmdline`, "latin1").startsWith("curl\0"); } catch { return false; }
      });
      try {
        const r = await watching(eventOnly);
        expect(probing()).toBe(true);
        expect(await medianRepairSeconds(deleteTable)).toBeLessThan(1);
        expect(probing()).toBe(true);
        expect(await r.stop()).toBe(0);
      } finally {
        inNs(ns, "nft", ["delete", "table", "inet", "blackhole"]);
      }
    });

    it("should repair within a second of a firewall reload (nft flush ruleset) once kube-proxy restored its rules", async () => {
      const r = await watching(eventOnly);
      const reload = () => {
        inNs(tb.node, "nft", ["flush", "ruleset"]);
        // kube-proxy rewrites what the flush took (its nftables tables, or iptables' nf_tables
        // backend); legacy iptables rules and IPVS's kube-ipvs0 are not in nftables and survive.
        if (mode === "nftables" || mode === "iptables-nft") tb.installKubeProxy();
        // Timed from the end of kube-proxy's restore (it writes its rules in many steps).
        return ":";
      };
      expect(await medianRepairSeconds(reload)).toBeLessThan(1);
      await tb.waitFor(() => tb.curl(tb.client, `${v4}/`).startsWith(backend(80)), "rules repaired", withinEvent);
      // kube-proxy writes its rules in many steps (IPv4, then IPv6): node-init may plan once more.
      await tb.waitFor(() => verb(tb, ni, "check").status === 0, "ready", withinEvent);
      expect(await r.stop()).toBe(0);
    });

    it.runIf(mode === "nftables")("should plan again at once when nft monitor lost events (its socket overflowed), its table's deletion among them", async () => {
      const r = await watching(eventOnly);
      const monitor = run("ip", ["netns", "pids", tb.node]).stdout.split(/\s+/).filter(Boolean).find((pid) => {
        try { return readFileSync(`/proc/${pid}/cmdline`, "latin1") === "nft\0monitor\0"; } catch { return false; }
      });
      expect(monitor, "nft monitor running in the node").toBeDefined();
      // While the monitor is stopped, one transaction of 300,000 set elements (one event each)
      // overflows its socket's 16 MiB buffer, and the deletion of node-init's table after it is lost.
      const flood = join(tb.dir, "flood.nft");
      const elements = Array.from({ length: 300_000 }, (_, i) => `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`);
      writeFileSync(flood, `table ip edge_flood { set s { type ipv4_addr; elements = { ${elements.join(", ")} }; }; }\n`);
      process.kill(Number(monitor), "SIGSTOP");
      try {
        inNs(tb.node, "nft", ["-f", flood]);
        inNs(tb.node, "nft", ["delete", "table", "ip", "edge_flood"]);
        inNs(tb.node, "nft", ["delete", "table", "inet", "edge_node_init"]);
      } finally {
        process.kill(Number(monitor), "SIGCONT");
      }
      // The resync is an hour away: only nft's "# ERROR: We lost some netlink events!" explains a repair.
      await tb.waitFor(() => inNs(tb.node, "nft", ["list", "table", "inet", "edge_node_init"], { allowFail: true }).status === 0, "the table back", withinResync);
      // The log precedes the repair, but its pipe is read only when the event loop runs.
      const lost = /nft monitor lost events \(its socket overflowed\); planning again\n.*drift: table inet edge_node_init is missing; re-applying/;
      await tb.waitFor(() => lost.test(r.log()), "the lost events and the repair logged", withinEvent);
      expect(await r.stop()).toBe(0);
    });

    it("should never re-apply while kube-proxy rewrites its own rules, and drop no request", async () => {
      const r = await watching(api);
      const result = load(tb, `${v4}/`, 2000, backend(80));
      // What kube-proxy does at every Service or endpoint change, 50 times: rewrite its rules in
      // one transaction each, NodePort addresses included.
      const churn = {
        nftables: `nft -f - <<'EOF'
add chain ip kube-proxy service-churn
flush chain ip kube-proxy service-churn
add rule ip kube-proxy service-churn counter
flush set ip kube-proxy nodeport-ips
add element ip kube-proxy nodeport-ips { ${addr.node4} }
EOF
nft delete chain ip kube-proxy service-churn`,
        "iptables-nft": `iptables-nft-restore --noflush <<'EOF'
*nat
:KUBE-SERVICES - [0:0]
:KUBE-SVC-CHURN - [0:0]
-A KUBE-SVC-CHURN -j RETURN
-A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
COMMIT
EOF
iptables-nft -t nat -F KUBE-SVC-CHURN; iptables-nft -t nat -X KUBE-SVC-CHURN`,
        "iptables-legacy": "iptables-legacy -t nat -N KUBE-SVC-CHURN; iptables-legacy -t nat -A KUBE-SVC-CHURN -j RETURN; iptables-legacy -t nat -F KUBE-SVC-CHURN; iptables-legacy -t nat -X KUBE-SVC-CHURN",
        ipvs: "iptables-nft -t nat -N KUBE-SVC-CHURN; iptables-nft -t nat -A KUBE-SVC-CHURN -j RETURN; iptables-nft -t nat -F KUBE-SVC-CHURN; iptables-nft -t nat -X KUBE-SVC-CHURN",
      }[mode];
      shIn(tb.node, `i=0; while [ $i -lt 50 ]; do\n${churn}\nsleep 0.05; i=$((i + 1)); done`);
      const counts = await result;
      expect(counts.failed, JSON.stringify(counts.errors)).toBe(0);
      await sleep(2 * resync * 1000); // a tick too
      expect(reapplies(r.log()), r.log()).toEqual([]);
      expect(await r.stop()).toBe(0);
    });

    it.runIf(mode === "ipvs")("should follow the Service addresses kube-proxy binds to kube-ipvs0 and unbinds, without a tick", async () => {
      const r = await watching(eventOnly);
      const services = () => inNs(tb.node, "nft", ["list", "set", "inet", "edge_node_init", "services4"]).stdout;
      const added = "10.96.77.77";
      // What kube-proxy does for a new Service, then for many at once (one sync binds them all).
      inNs(tb.node, "ip", ["addr", "add", `${added}/32`, "dev", "kube-ipvs0"]);
      await tb.waitFor(() => services().includes(added), "the new Service address in services4", withinEvent);
      const batch = join(tb.dir, "ipvs-batch");
      writeFileSync(batch, Array.from({ length: 500 }, (_, i) => `addr add 10.97.${i >> 8}.${i & 255}/32 dev kube-ipvs0\n`).join(""));
      inNs(tb.node, "ip", ["-batch", batch]);
      // Each plan reads every address: a loaded machine may take a few plans to catch up.
      await tb.waitFor(() => services().includes("10.97.1.243"), "the last of 500 Service addresses in services4", withinResync);
      // 500 addresses woke run a few times, not once per address.
      expect(r.log().split("\n").filter((l) => l.includes("plan changed")).length).toBeLessThan(20);
      writeFileSync(batch, readFileSync(batch, "utf8").replaceAll("addr add", "addr del"));
      inNs(tb.node, "ip", ["-batch", batch]);
      inNs(tb.node, "ip", ["addr", "del", `${added}/32`, "dev", "kube-ipvs0"]);
      await tb.waitFor(() => !services().includes(added) && !services().includes("10.97."), "the unbound addresses out of services4", withinResync);
      expect(services()).toContain(addr.service4);
      expect(await r.stop()).toBe(0);
    });

    it.runIf(mode === "nftables")("should follow kube-proxy's nodeport-ips as its addresses change, withholding :80 while the secondary address's listener would be shadowed", async () => {
      const r = await watching(eventOnly);
      const secondary443 = `http://${addr.secondary4}:443/`;
      expect(tb.curl(tb.client, secondary443)).toMatch(/^ERR/);
      inNs(tb.node, "nft", ["add", "element", "ip", "kube-proxy", "nodeport-ips", `{ ${addr.secondary4} }`]);
      try {
        await tb.waitFor(() => tb.curl(tb.client, secondary443).startsWith(backend(443)), "the secondary address served", withinEvent);
        // The host process on the secondary address's :80 now sits where the rewrite would reach it.
        expect(tb.curl(tb.client, `http://${addr.secondary4}/`)).toMatch(/^node-secondary 80 /);
        expect(verb(tb, ni, "check").stderr).toContain(`rules withheld: port 80: a host process listens on ${addr.secondary4}:80`);
      } finally {
        inNs(tb.node, "nft", ["delete", "element", "ip", "kube-proxy", "nodeport-ips", `{ ${addr.secondary4} }`]);
      }
      await tb.waitFor(() => tb.curl(tb.client, secondary443).startsWith("ERR"), "the secondary address left alone", withinEvent);
      await tb.waitFor(() => tb.curl(tb.client, `${v4}/`).startsWith(backend(80)), "port 80 served again", withinEvent);
      await tb.waitFor(() => reapplies(r.log()).length >= 2, "both changes logged");
      expect(reapplies(r.log()), r.log()).toHaveLength(2);
      expect(await r.stop()).toBe(0);
    });

    it.each(["iptables", "nftables"] as const)("should withhold port 80 while a CNI hostPort (portmap, %s backend) claims it, keep serving 443, stay Ready, say why and send an Event, and serve 80 again when it is gone", async (portmap) => {
      writeFileSync(`${apiState}.requests`, "");
      const r = await watching({ ...eventOnly, NODE_INIT_POD_NAME: "edge-node-init-abcde", NODE_INIT_POD_UID: "0f0e0d0c-0000-4000-8000-000000000001", NODE_INIT_NODE_NAME: "node-a" });
      tb.addHostPort(80, portmap);
      try {
        // The hostPort's own DNAT answers: edge no longer shadows it; 443 is still edge's.
        await tb.waitFor(() => tb.curl(tb.client, `${v4}/`).startsWith("app 80"), "the hostPort answering", withinEvent);
        expect(tb.curl(tb.client, `${v4}:443/`)).toMatch(new RegExp(`^${backend(443)} `));
        const why = `port 80: a CNI hostPort (portmap, ${portmap} backend)`;
        expect(verb(tb, ni, "ready").status).toBe(0);
        const check = verb(tb, ni, "check");
        expect(check.status).toBe(1);
        expect(check.stderr).toContain(`rules withheld: ${why}`);
        expect(verb(tb, ni, "status").stdout).toContain(`rules: rules withheld: ${why}`);
        await tb.waitFor(() => r.log().includes(`rules in place for 443:30443 only, withheld: ${why}`), "the reason logged");
        await tb.waitFor(() => events().some((e) => e.reason === "RulesWithheld"), "the Event sent");
        const text = metricsText();
        expect(text).toContain('edge_node_init_rules_withheld{port="80",reason="hostport"} 1');
        expect(text).toContain('edge_node_init_rules_installed{port="80",nodeport="30080",family="ipv4"} 0');
        expect(text).toContain('edge_node_init_rules_installed{port="443",nodeport="30443",family="ipv4"} 1');
      } finally {
        tb.removeHostPort(portmap);
      }
      await tb.waitFor(() => tb.curl(tb.client, `${v4}/`).startsWith(backend(80)), "rules back", withinEvent);
      await tb.waitFor(() => verb(tb, ni, "check").status === 0, "check passing again", withinEvent);
      await tb.waitFor(() => events().some((e) => e.reason === "RulesInstalled"), "the Event of the return");
      const [withheld, installed] = events();
      expect(withheld).toMatchObject({
        type: "Warning", reason: "RulesWithheld",
        involvedObject: { kind: "Pod", name: "edge-node-init-abcde", namespace: "edge-node-init", uid: "0f0e0d0c-0000-4000-8000-000000000001" },
        source: { component: "edge-node-init", host: "node-a" },
      });
      expect(withheld!.message).toContain(`node-init withholds rules on this node: port 80: a CNI hostPort (portmap, ${portmap} backend)`);
      expect(installed).toMatchObject({ type: "Normal", reason: "RulesInstalled" });
      expect(events()).toHaveLength(2);
      expect(await r.stop()).toBe(0);
    });

    it("should withhold port 80 while a host process listens on it (an old nginx), without shadowing it, and serve 80 again once it stops", async () => {
      const r = await watching(api);
      const nginx = tb.serve(tb.node, [`old-nginx@${addr.node4}:80`]);
      try {
        await tb.waitFor(() => tb.curl(tb.client, `${v4}/`).startsWith("old-nginx 80"), "the host process answering", withinResync);
        expect(tb.curl(tb.client, `${v4}:443/`)).toMatch(new RegExp(`^${backend(443)} `));
        const check = verb(tb, ni, "check");
        expect(check.status).toBe(1);
        expect(check.stderr).toContain(`rules withheld: port 80: a host process listens on ${addr.node4}:80`);
        expect(verb(tb, ni, "ready").status).toBe(0);
      } finally {
        nginx.signal("SIGTERM");
      }
      await tb.waitFor(() => tb.curl(tb.client, `${v4}/`).startsWith(backend(80)), "port 80 served again", withinResync);
      expect(await r.stop()).toBe(0);
    });

    it("should be ready from the pod's files while run keeps the rules (it repairs a deletion within a second)", async () => {
      await watching(eventOnly);
      expect(verb(tb, ni, "ready").status).toBe(0);
      // The probe reads the pod's files: the loop answers for the table, and has it back at once.
      expect(await medianRepairSeconds(deleteTable)).toBeLessThan(1);
      expect(verb(tb, ni, "ready").status).toBe(0);
      expect(verb(tb, ni, "check").status).toBe(0);
      // Were the loop gone (killed: its rules stay), the probe would still read "in place":
      // that is the liveness probe's case (no heartbeat), and `check` names the truth.
      await stopRuns();
      inNs(tb.node, "nft", ["delete", "table", "inet", "edge_node_init"]);
      expect(verb(tb, ni, "ready").status).toBe(0);
      expect(verb(tb, ni, "check").stderr).toContain("table inet edge_node_init is missing");
      expect(verb(tb, ni, "apply").status).toBe(0);
    });

    it("should be alive while the loop beats, through drift, and not once the loop is stuck", async () => {
      const state = join(tb.dir, "alive-state");
      const alive = () => verb(tb, ni, "alive", { ...api, NODE_INIT_STATE_DIR: state });
      expect(alive().stderr).toContain("no heartbeat yet");
      const r = startRun(tb, ni, { ...api, NODE_INIT_STATE_DIR: state });
      await tb.waitFor(() => alive().status === 0, "the first heartbeat");
      // Drift is the loop's business: liveness stays green, so the kubelet never restarts node-init for it.
      inNs(tb.node, "nft", ["delete", "table", "inet", "edge_node_init"]);
      expect(alive().status).toBe(0);
      await tb.waitFor(() => r.log().includes("drift: table inet edge_node_init is missing"), "the repair", withinResync);
      expect(alive().status).toBe(0);
      // A loop that stopped beating (stuck in a hung nft, say) fails once two resyncs and a minute passed.
      r.child.kill("SIGSTOP");
      const stale = Date.now() / 1000 - (2 * resync + 61);
      utimesSync(join(state, "heartbeat"), stale, stale);
      const stuck = alive();
      expect(stuck.status).toBe(1);
      expect(stuck.stderr).toMatch(/run loop stuck: last heartbeat \d+s ago \(limit 64s\)/);
      r.child.kill("SIGCONT");
      expect(await r.stop()).toBe(0);
    });

    it("should drop no request while the pod restarts (rules kept while the DaemonSet exists)", async () => {
      writeFileSync(apiState, "exists");
      const first = startRun(tb, ni, api);
      await tb.waitFor(() => verb(tb, ni, "check").status === 0, "first pod ready");
      const result = load(tb, `${v4}/`, 3000, backend(80));
      await sleep(300);
      expect(await first.stop()).toBe(0);
      expect(inNs(tb.node, "nft", ["list", "table", "inet", "edge_node_init"], { allowFail: true }).status).toBe(0);
      // The replacement pod: its init container applies, then its main container runs.
      expect(verb(tb, ni, "apply").status).toBe(0);
      const second = startRun(tb, ni, api);
      const r = await result;
      expect(r.failed, JSON.stringify(r.errors)).toBe(0);
      expect(r.ok).toBe(3000);
      await tb.waitFor(() => second.log().includes("watching ruleset changes"), "the second pod running");
      expect(await second.stop()).toBe(0);
    });

    it("should end, leaving no process behind, whenever it is stopped, even while it starts", async () => {
      writeFileSync(apiState, "exists");
      // The kubelet may stop a pod at any moment of its start: before the trap is set (killed by
      // the signal, -1 here), or anywhere after (exit 0). Either way nothing may keep running.
      for (let ms = 0; ms <= 800; ms += 40) {
        const r = startRun(tb, ni, api);
        await sleep(ms);
        r.child.kill("SIGTERM");
        const code = await Promise.race([r.exited, sleep(15_000).then(() => "still running after 15 s")]);
        const why = `stopped ${ms} ms after its start: ${code}\n${sessionProcesses(r.child.pid!).join("\n")}\n${r.log()}`;
        expect([0, -1], why).toContain(code);
        // A probe's curl killed with its report may take its last seconds (3 s at most).
        await tb.waitFor(() => sessionProcesses(r.child.pid!).length === 0, `no process left: ${why}`, 5);
      }
    });

    // gone: deleted (GET 404); deleting: a foreground deletion (deletionTimestamp); uninstalled:
    // the DaemonSet, its Role, then its ConfigMap deleted (the watch saw it, the GET gets 403).
    it.each(["gone", "deleting", "uninstalled"])("should remove the rules when stopped and the release is %s", async (state) => {
      writeFileSync(apiState, "exists");
      // Earlier tests changed kube-proxy's rules (a flush, churn, a hostPort): compare to now.
      verb(tb, ni, "delete");
      const without = tb.ruleset();
      const r = await watching(api);
      await tb.waitFor(() => r.log().includes("watching node-init's ConfigMap"), "the watch on its ConfigMap");
      writeFileSync(apiState, state);
      expect(await r.stop()).toBe(0);
      expect(r.log()).toContain("rules removed");
      expect(tb.ruleset()).toBe(without);
    });

    // What a nodeSelector, affinity or toleration change does to a node: the DaemonSet's
    // controller deletes its pod and starts none there again.
    it.each([
      ["unselected", "nodeSelector edge.example.com/ingress=true does not match"],
      ["unaffine", "its required node affinity does not match"],
      ["evicting", "taint edge.example.com/maintenance=true:NoExecute is not tolerated"],
    ])("should remove the rules when stopped and the DaemonSet no longer selects the node (%s)", async (state, why) => {
      writeFileSync(apiState, "exists");
      verb(tb, ni, "delete");
      const without = tb.ruleset();
      const r = await watching(api);
      writeFileSync(apiState, state);
      expect(await r.stop()).toBe(0);
      expect(r.log()).toContain(`the DaemonSet no longer selects this node: ${why}`);
      expect(r.log()).toContain("rules removed");
      expect(tb.ruleset()).toBe(without);
      writeFileSync(apiState, "exists");
    });

    it("should keep the rules when stopped and the DaemonSet may no longer select the node but the Node cannot be read", async () => {
      writeFileSync(apiState, "exists");
      const r = await watching(api);
      writeFileSync(apiState, "nodeforbidden");
      expect(await r.stop()).toBe(0);
      expect(r.log()).toContain("cannot read node node-a (HTTP 403): taking it as still selected");
      expect(verb(tb, ni, "check").status).toBe(0);
      writeFileSync(apiState, "exists");
    });

    it("should leave another release's table alone: withhold, name its owner, never re-apply over it or remove it, and take over once it is gone", async () => {
      writeFileSync(apiState, "exists");
      verb(tb, ni, "delete");
      const other = { ...api, NODE_INIT_DAEMONSET: "edge-other-node-init", NODE_INIT_STATE_DIR: join(tb.dir, "state-other") };
      const theirs = await watching(other);
      const theirTable = tb.ruleset();
      const ours = await watching(api);
      await sleep(4000); // two ticks of the 2 s period of a node that withholds its rules
      expect(reapplies(theirs.log())).toEqual([]);
      expect(reapplies(ours.log())).toEqual([]);
      expect(tb.ruleset()).toBe(theirTable);
      const refused = verb(tb, ni, "check");
      expect(refused.status).toBe(1);
      expect(refused.stderr).toMatch(/belongs to another release of edge \(DaemonSet [a-z0-9-]+\/edge-other-node-init\)/);
      // Our uninstall leaves their rules.
      writeFileSync(apiState, "gone");
      expect(await ours.stop()).toBe(0);
      expect(ours.log()).toMatch(/belongs to DaemonSet [a-z0-9-]+\/edge-other-node-init: left alone/);
      expect(tb.ruleset()).toBe(theirTable);
      // Their uninstall: this release serves within a tick.
      writeFileSync(apiState, "exists");
      const again = await watching(api);
      writeFileSync(apiState, "gone");
      expect(await theirs.stop()).toBe(0);
      expect(theirs.log()).toContain("rules removed");
      await tb.waitFor(() => verb(tb, ni, "check").status === 0, "this release serving", withinResync);
      expect(tb.curl(tb.client, `${v4}/`).startsWith(backend(80))).toBe(true);
      writeFileSync(apiState, "exists");
      expect(await again.stop()).toBe(0);
    });

    it("should keep the rules when stopped and the DaemonSet merely mentions deletionTimestamp in a label or an annotation", async () => {
      writeFileSync(apiState, "annotated");
      const r = await watching(api);
      expect(await r.stop()).toBe(0);
      expect(r.log()).toContain("DaemonSet still exists and selects this node: keeping rules");
      expect(verb(tb, ni, "check").status).toBe(0);
      writeFileSync(apiState, "exists");
    });

    it("should send the ServiceAccount token to the API as a header read from curl's standard input, never as an argument", async () => {
      const secret = "edge-test-token-0123456789";
      writeFileSync(token, `${secret}\n`);
      writeFileSync(`${apiState}.requests`, "");
      try {
        const r = await watching(api);
        expect(await r.stop()).toBe(0);
        // The watch on its ConfigMap (metadata only), from the start; when stopped, the GET of
        // its DaemonSet and of its Node.
        const sent = requests();
        expect(sent[0]?.accept).toBe("application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1");
        expect(sent.map((q) => q.url)).toEqual([
          expect.stringMatching(/^\/api\/v1\/namespaces\/[a-z0-9-]+\/configmaps\?watch=1&fieldSelector=metadata\.name%3D[a-z0-9-]+&timeoutSeconds=\d+$/),
          expect.stringMatching(/^\/apis\/apps\/v1\/namespaces\/[a-z0-9-]+\/daemonsets\/[a-z0-9-]+$/),
          "/api/v1/nodes/node-a",
        ]);
        expect(sent.map((q) => q.authorization)).toEqual([`Bearer ${secret}`, `Bearer ${secret}`, `Bearer ${secret}`]);
        // The one place the script names the header feeds curl's --config from stdin.
        const script = readFileSync(ni.script, "utf8");
        expect(script.match(/Authorization/g)).toHaveLength(1);
        expect(script).toContain(`token_config() { [ -z "$TOKEN" ] || printf 'header = "Authorization: Bearer %s"\\n' "$TOKEN"; }`);
        expect(script.match(/token_config \| curl "\$@" /g)).toHaveLength(2);
        expect(script.match(/curl "\$@"/g)).toHaveLength(2);
        expect(script).toContain("--config -");
      } finally {
        writeFileSync(token, "edge-test-token\n");
      }
    });

    it.each(["forbidden", "unauthorized"])("should keep the rules when stopped while the API answers %s and no deletion was seen (an authorization or authentication outage), saying how to remove them", async (state) => {
      writeFileSync(apiState, "exists");
      const r = await watching(api);
      writeFileSync(apiState, state);
      expect(await r.stop()).toBe(0);
      expect(r.log()).toMatch(/API answered HTTP 40[13] and no deletion of the release was seen: keeping rules\..*nft delete table inet edge_node_init/);
      expect(verb(tb, ni, "check").status).toBe(0);
      writeFileSync(apiState, "exists");
    });

    it("should keep the rules when stopped without a ServiceAccount token (automounting turned off by a policy)", async () => {
      writeFileSync(apiState, "exists");
      rmSync(token);
      writeFileSync(`${apiState}.requests`, "");
      try {
        const r = await watching(eventOnly);
        await tb.waitFor(() => r.log().includes("cannot watch node-init's ConfigMap (no answer, or not allowed)"), "the failed watch logged");
        // Tried again a second later, not only at the next tick (an hour away here).
        await tb.waitFor(() => requests().filter((q) => q.url.includes("watch=1")).length === 2, "the watch tried again", 5);
        expect(await r.stop()).toBe(0);
        expect(r.log()).toContain("API answered HTTP 401 and no deletion of the release was seen: keeping rules");
        expect(verb(tb, ni, "check").status).toBe(0);
      } finally {
        writeFileSync(token, "edge-test-token\n");
      }
    });

    it("should keep the rules when stopped and the API cannot be reached", async () => {
      const r = await watching({ ...api, NODE_INIT_API_URL: "http://127.0.0.1:1" });
      expect(await r.stop()).toBe(0);
      expect(r.log()).toContain("keeping rules");
      expect(verb(tb, ni, "check").status).toBe(0);
      verb(tb, ni, "delete");
    });
  });

  describe("hardening", () => {
    const withValues = (set: string[]) => renderNodeInit(mkdtempSync(join(tb.dir, "r-")), set);
    afterAll(() => { verb(tb, ni, "delete"); });

    it("should serve only clients inside nodeInit.sourceRanges", () => {
      const allowed = withValues(["nodeInit.sourceRanges={192.0.2.0/24,2001:db8:1::/64}"]);
      expect(verb(tb, allowed, "apply").status).toBe(0);
      expect(tb.curl(tb.client, `${v4}/`)).toMatch(new RegExp(`^${backend(80)} `));
      expect(tb.curl(tb.client, `${v6}/`)).toMatch(new RegExp(`^${backend(80)} `));
      expect(tb.curl(tb.client, `${v4}:30080/`)).toMatch(new RegExp(`^${kong} `));
      const other = withValues(["nodeInit.sourceRanges={198.51.100.0/24}"]);
      expect(verb(tb, other, "apply").status).toBe(0);
      expect(tb.curl(tb.client, `${v4}/`)).toMatch(/^ERR/);
      expect(tb.curl(tb.client, `${v6}/`)).toMatch(/^ERR/);
      // Nor through Kong's NodePorts: the allowlist guards them too.
      expect(tb.curl(tb.client, `${v4}:30080/`)).toMatch(/^ERR/);
      expect(tb.curl(tb.client, `${v6}:30443/`)).toMatch(/^ERR/);
      // The node's own connections are not subject to the client allowlist.
      expect(tb.curl(tb.node, `${v4}/`)).toMatch(new RegExp(`^${backend(80)} `));
      expect(tb.curl(tb.node, `${v4}:30080/`)).toMatch(new RegExp(`^${kong} `));
    });

    it("should serve only traffic arriving on nodeInit.interfaces", () => {
      const elsewhere = withValues(["nodeInit.interfaces={eth9}"]);
      expect(verb(tb, elsewhere, "apply").status).toBe(0);
      expect(tb.curl(tb.client, `${v4}/`)).toMatch(/^ERR/);
      expect(tb.curl(tb.client, `${v4}:30080/`)).toMatch(/^ERR/);
      const prefix = withValues(["nodeInit.interfaces={eth*}"]);
      expect(verb(tb, prefix, "apply").status).toBe(0);
      expect(tb.curl(tb.client, `${v4}/`)).toMatch(new RegExp(`^${backend(80)} `));
      expect(tb.curl(tb.client, `${v4}:30080/`)).toMatch(new RegExp(`^${kong} `));
    });

    it("should never expand a value as a file name: interface e* stays a prefix match", () => {
      const prefix = withValues(["nodeInit.interfaces={e*}"]);
      expect(verb(tb, prefix, "apply").status).toBe(0);
      const table = inNs(tb.node, "nft", ["list", "table", "inet", "edge_node_init"]).stdout;
      expect(table).toContain('iifname "e*"');
      expect(table).not.toMatch(/iifname "(etc|eth0)"/);
      expect(tb.curl(tb.client, `${v4}/`)).toMatch(new RegExp(`^${backend(80)} `));
    });

    it("should merge overlapping source ranges instead of failing (nft auto-merge)", () => {
      const r = verb(tb, ni, "apply", { NODE_INIT_SOURCE_RANGES: "192.0.2.0/24 192.0.2.0/25 2001:db8:1::/64 2001:db8::/32" });
      expect(r.status, r.stderr).toBe(0);
      expect(tb.curl(tb.client, `${v4}/`)).toMatch(new RegExp(`^${backend(80)} `));
      expect(tb.curl(tb.client, `${v6}/`)).toMatch(new RegExp(`^${backend(80)} `));
      expect(verb(tb, ni, "check", { NODE_INIT_SOURCE_RANGES: "192.0.2.0/24 192.0.2.0/25 2001:db8:1::/64 2001:db8::/32" }).status).toBe(0);
    });

    it.runIf(mode === "iptables-nft")("should fail closed, installing nothing new, when a listing it decides by fails", () => {
      const bin = join(tb.dir, "failing-nft");
      mkdirSync(bin, { recursive: true });
      const nft = run("sh", ["-c", "command -v nft"]).stdout.trim();
      writeFileSync(join(bin, "nft"), `#!/bin/sh\n[ "$1 $2" != "list chain" ] || { echo "Error: simulated failure" >&2; exit 1; }\nexec ${nft} "$@"\n`, { mode: 0o755 });
      verb(tb, ni, "delete");
      const r = verbOnHost(tb, ni, "apply", { PATH: `${bin}:/usr/sbin:/usr/bin:/sbin:/bin` });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain("cannot read what decides the rules: Error: simulated failure");
      expect(inNs(tb.node, "nft", ["list", "table", "inet", "edge_node_init"], { allowFail: true }).status).not.toBe(0);
    });

    it("should forward only the enabled listeners", () => {
      const httpsOnly = withValues(["kong.proxy.http.enabled=false"]);
      expect(httpsOnly.env.NODE_INIT_PORTS).toBe("443:30443");
      expect(verb(tb, httpsOnly, "apply").status).toBe(0);
      expect(tb.curl(tb.client, `${v4}/`)).toMatch(/^ERR/);
      expect(tb.curl(tb.client, `${v4}:443/`)).toMatch(new RegExp(`^${backend(443)} `));
    });
  });
});

describe.each(modes)("node-init > a node whose kube-proxy (%s mode) has not written its rules yet", (mode) => {
  const tb = new Testbed(mode, `${ownerTag()}w`);
  let ni: NodeInit;
  beforeAll(async () => {
    await tb.up({ kubeProxy: false });
    ni = renderNodeInit(tb.dir);
  });
  afterAll(async () => {
    await stopRuns();
    verb(tb, ni, "delete");
    tb.destroy();
  });
  const tableExists = () => inNs(tb.node, "nft", ["list", "table", "inet", "edge_node_init"], { allowFail: true }).status === 0;

  it("should install no rules and say why, without failing (no crash loop)", () => {
    const r = verb(tb, ni, "apply");
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain("kube-proxy mode: none; method: none (auto)");
    expect(r.stderr).toContain("no rules installed: no kube-proxy found");
    expect(tableExists()).toBe(false);
  });

  it("should be Ready (it has decided: a refusal never stops a rollout), fail check and tell in status what it found and what to do", () => {
    expect(verb(tb, ni, "ready").status).toBe(0);
    const r = verb(tb, ni, "check");
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("rules withheld: no kube-proxy found");
    const status = verb(tb, ni, "status").stdout;
    expect(status).toContain("kube-proxy mode: none");
    expect(status).toContain("A cluster without kube-proxy (Cilium's kube-proxy replacement, Calico eBPF) serves NodePorts before netfilter");
    expect(status).not.toContain("probe ");
  });

  it("should take no leftover table named like kube-proxy's (kube-proxy-old) for kube-proxy", () => {
    inNs(tb.node, "nft", ["add", "table", "ip", "kube-proxy-old"]);
    try {
      const r = verb(tb, ni, "apply");
      expect(r.stderr).toContain("kube-proxy mode: none; method: none (auto)");
      expect(tableExists()).toBe(false);
    } finally {
      inNs(tb.node, "nft", ["delete", "table", "ip", "kube-proxy-old"]);
    }
  });

  it("should install a forced nodeInit.method all the same", () => {
    const r = verb(tb, ni, "apply", { NODE_INIT_METHOD: "nftables" });
    expect(r.stderr).toContain("kube-proxy mode: none; method: nftables (forced)");
    expect(tableExists()).toBe(true);
    expect(verb(tb, ni, "delete").status).toBe(0);
  });

  it(`should apply as soon as kube-proxy's rules appear (${mode === "nftables" || mode === "iptables-nft" ? "woken by nft monitor" : "nftables reports nothing here: the 2 s wait tick"})`, async () => {
    const r = startRun(tb, ni, { NODE_INIT_API_URL: "http://127.0.0.1:1", NODE_INIT_RESYNC_SECONDS: "3600" });
    await tb.waitFor(() => r.log().includes("watching ruleset changes"), "run watching");
    await sleep(1000);
    expect(tableExists()).toBe(false);
    tb.installKubeProxy();
    const v4 = `http://${addr.node4}/`;
    await tb.waitFor(() => tb.curl(tb.client, v4).startsWith(mode === "ipvs" ? "kong-ipvs 30080" : "kong 8000"), "node:80 served", 8);
    // kube-proxy writes its rules in many steps (IPv4, then IPv6): node-init may plan once more.
    await tb.waitFor(() => verb(tb, ni, "check").status === 0, "rules checked");
    expect(verb(tb, ni, "ready").status).toBe(0);
    await tb.waitFor(() => r.log().includes(`plan changed: kube-proxy mode ${mode}`), "the change logged");
    expect(await r.stop()).toBe(0);
  });
});

describe("node-init > script input", () => {
  const tb = new Testbed("nftables", `${ownerTag()}v`);
  let ni: NodeInit;
  beforeAll(() => {
    for (const ns of tb.namespaces) run("ip", ["netns", "del", ns]);
    run("ip", ["netns", "add", tb.node]);
    ni = renderNodeInit(tb.dir);
  });
  afterAll(() => tb.destroy());

  it.each([
    ["NODE_INIT_SOURCE_RANGES", "10.0.0.0/8; flush ruleset", "is not an IPv4 or IPv6 CIDR"],
    ["NODE_INIT_SOURCE_RANGES", "10.0.0.256/8", "is not an IPv4 or IPv6 CIDR"],
    ["NODE_INIT_SOURCE_RANGES", "fd00::/129", "is not an IPv4 or IPv6 CIDR"],
    ["NODE_INIT_SOURCE_RANGES", "010.0.0.0/8", "is not an IPv4 or IPv6 CIDR"],
    ["NODE_INIT_SOURCE_RANGES", "10.0.0.0/08", "is not an IPv4 or IPv6 CIDR"],
    ["NODE_INIT_INTERFACES", "abcdefghijklmno*", "is not an interface name"],
    ["NODE_INIT_PORTS", "080:30080", "is not a port"],
    ["NODE_INIT_PORTS", "80:30080 080:30081", "is not a port"],
    ["NODE_INIT_INTERFACES", "eth0\";", "is not an interface name"],
    ["NODE_INIT_INTERFACES", "averyveryverylongname", "is not an interface name"],
    ["NODE_INIT_PORTS", "80:30080 80:30081", "appears twice"],
    ["NODE_INIT_PORTS", "80:70000", "is not a port"],
    ["NODE_INIT_PORTS", "80:80", "maps a port to itself"],
    ["NODE_INIT_PORTS", "", "NODE_INIT_PORTS is empty"],
    ["NODE_INIT_METHOD", "ipvs", "is not one of auto, nftables, iptables-redirect"],
    ["NODE_INIT_RESYNC_SECONDS", "5s", "is not a whole number of seconds"],
    ["NODE_INIT_TLS_PORTS", "8443", "is not one of the public ports of NODE_INIT_PORTS"],
  ])("should refuse %s=%j with a clear error and install nothing", (name, value, message) => {
    const r = verb(tb, ni, "apply", { [name]: value });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(message);
    expect(inNs(tb.node, "nft", ["list", "ruleset"]).stdout).toBe("");
  });

  it("should run on a busybox userland, as in an Alpine-based image set in nodeInit.image", () => {
    const bin = join(tb.dir, "busybox-bin");
    mkdirSync(bin);
    const { busybox } = requirePrograms("busybox");
    for (const applet of ["sh", "awk", "cat", "date", "grep", "mkdir", "mv", "rm", "sleep", "sort", "wc"]) symlinkSync(busybox, join(bin, applet));
    for (const tool of ["nft", "ip", "curl"]) symlinkSync(run("sh", ["-c", `command -v ${tool}`]).stdout.trim(), join(bin, tool));
    // A bare namespace has no kube-proxy: force the method so there are rules to install.
    const env = { PATH: bin, NODE_INIT_METHOD: "nftables", NODE_INIT_SOURCE_RANGES: "192.0.2.0/24 2001:db8::/32", NODE_INIT_INTERFACES: "eth*" };
    const sh = (verbName: string) => inNs(tb.node, join(bin, "sh"), [ni.script, verbName], {
      env: { ...ni.env, NODE_INIT_STATE_DIR: join(tb.dir, "bb-state"), ...env }, allowFail: true });
    const apply = sh("apply");
    expect(apply.status, apply.stderr).toBe(0);
    expect(sh("check").status).toBe(0);
    expect(sh("status").stdout).toMatch(/port 443 -> 30443: 0 packets, 0 bytes/);
    expect(sh("delete").status).toBe(0);
    expect(inNs(tb.node, "nft", ["list", "ruleset"]).stdout).toBe("");
  });

  it("should name a missing tool", () => {
    const bin = join(tb.dir, "bin");
    mkdirSync(bin);
    for (const tool of ["sh", "ip", "awk", "grep", "sort", "date"]) {
      symlinkSync(run("sh", ["-c", `command -v ${tool}`]).stdout.trim(), join(bin, tool));
    }
    const r = verbOnHost(tb, ni, "apply", { PATH: bin });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("required tool 'nft' is not installed");
  });
});
