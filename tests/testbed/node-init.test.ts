/**
 * node-init > rules: the rendered node-init.sh, run with the rendered environment inside a
 * network-namespace testbed, under the NodePort rules of each kube-proxy mode, with real HTTP
 * backends. Root is required (CI runs as root); the machine's own namespace is never touched.
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { removeScratchCharts } from "../lib/chart.js";
import { requirePrograms, run } from "../lib/tools.js";
import { type NodeInit, renderNodeInit, runsInNode, startRun, stopRuns, verb } from "./node-init.js";
import { addr, inNs, type ProxyMode, Testbed } from "./testbed.js";

if (process.getuid?.() !== 0) throw new Error("node-init > rules: the netns testbed needs root (CI runs as root)");

const here = new URL(".", import.meta.url).pathname;
const hostRuleset = run("nft", ["-s", "list", "ruleset"]).stdout;
afterAll(() => {
  removeScratchCharts();
  // The machine's own ruleset is exactly as it was.
  expect(run("nft", ["-s", "list", "ruleset"]).stdout).toBe(hostRuleset);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Bounded load from the client namespace; resolves with the load generator's counts. */
function load(tb: Testbed, url: string, count: number, expectPrefix: string) {
  const child = spawn("ip", ["netns", "exec", tb.client, process.execPath, join(here, "load.mjs"), url, String(count), "4", expectPrefix]);
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  return new Promise<{ ok: number; failed: number; errors: Record<string, number> }>((resolve, reject) =>
    child.on("exit", () => { try { resolve(JSON.parse(out)); } catch { reject(new Error(`load.mjs: ${out}`)); } }));
}

const modes: ProxyMode[] = ["iptables-nft", "iptables-legacy", "nftables", "ipvs"];

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
    const api = { NODE_INIT_API_URL: `http://127.0.0.1:${apiPort}`, NODE_INIT_RESYNC_SECONDS: String(resync) };
    // A check or an apply may take seconds on a loaded 2-core machine: allow two resyncs plus that.
    const withinResync = 2 * resync + 15;
    beforeAll(async () => {
      writeFileSync(apiState, "exists");
      spawn("ip", ["netns", "exec", tb.node, process.execPath, join(here, "api-stub.mjs"), apiPort, apiState], { stdio: "ignore" });
      await sleep(300);
    });
    beforeEach(() => {
      // A process left by an earlier test would re-apply its own configuration under this one.
      expect(runsInNode(tb), "node-init run processes left over in the node namespace").toEqual([]);
    });
    afterEach(async () => { await stopRuns(); });

    it("should re-apply within one resync after an external flush, and log it", async () => {
      const r = startRun(tb, ni, api);
      await tb.waitFor(() => verb(tb, ni, "check").status === 0, "run applied the rules");
      inNs(tb.node, "nft", ["delete", "table", "inet", "edge_node_init"]);
      expect(tb.curl(tb.client, `${v4}/`)).toMatch(/^ERR/);
      await tb.waitFor(() => tb.curl(tb.client, `${v4}/`).startsWith(backend(80)), "rules healed", withinResync);
      // The log line precedes the repair, but its pipe is read only when the event loop runs.
      await tb.waitFor(() => r.log().includes("drift: table inet edge_node_init is missing; re-applying"), "the drift logged");
      expect(await r.stop()).toBe(0);
      expect(r.log()).toContain("DaemonSet still exists: keeping rules");
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
      writeFileSync(join(state, "heartbeat"), `${Math.floor(Date.now() / 1000) - (2 * resync + 61)}\n`);
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
      expect(await second.stop()).toBe(0);
    });

    it.each(["gone", "deleting", "forbidden"])("should remove the rules when stopped and the DaemonSet is %s", async (state) => {
      writeFileSync(apiState, "exists");
      const r = startRun(tb, ni, api);
      await tb.waitFor(() => verb(tb, ni, "check").status === 0, "run applied the rules");
      writeFileSync(apiState, state);
      expect(await r.stop()).toBe(0);
      expect(r.log()).toContain("rules removed");
      expect(tb.ruleset()).toBe(before);
    });

    it("should keep the rules when stopped and the API cannot be reached", async () => {
      const r = startRun(tb, ni, { ...api, NODE_INIT_API_URL: "http://127.0.0.1:1" });
      await tb.waitFor(() => verb(tb, ni, "check").status === 0, "run applied the rules");
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
      const other = withValues(["nodeInit.sourceRanges={198.51.100.0/24}"]);
      expect(verb(tb, other, "apply").status).toBe(0);
      expect(tb.curl(tb.client, `${v4}/`)).toMatch(/^ERR/);
      expect(tb.curl(tb.client, `${v6}/`)).toMatch(/^ERR/);
      // The node's own connections are not subject to the client allowlist.
      expect(tb.curl(tb.node, `${v4}/`)).toMatch(new RegExp(`^${backend(80)} `));
    });

    it("should serve only traffic arriving on nodeInit.interfaces", () => {
      const elsewhere = withValues(["nodeInit.interfaces={eth9}"]);
      expect(verb(tb, elsewhere, "apply").status).toBe(0);
      expect(tb.curl(tb.client, `${v4}/`)).toMatch(/^ERR/);
      const prefix = withValues(["nodeInit.interfaces={eth*}"]);
      expect(verb(tb, prefix, "apply").status).toBe(0);
      expect(tb.curl(tb.client, `${v4}/`)).toMatch(new RegExp(`^${backend(80)} `));
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

describe("node-init > script input", () => {
  const tb = new Testbed("nftables", `${process.pid % 100000}v`);
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
    ["NODE_INIT_INTERFACES", "eth0\";", "is not an interface name"],
    ["NODE_INIT_INTERFACES", "averyveryverylongname", "is not an interface name"],
    ["NODE_INIT_PORTS", "80:30080 80:30081", "appears twice"],
    ["NODE_INIT_PORTS", "80:70000", "is not a port"],
    ["NODE_INIT_PORTS", "80:80", "maps a port to itself"],
    ["NODE_INIT_PORTS", "", "NODE_INIT_PORTS is empty"],
    ["NODE_INIT_METHOD", "ipvs", "is not one of auto, nftables, iptables-redirect"],
    ["NODE_INIT_RESYNC_SECONDS", "5s", "is not a whole number of seconds"],
  ])("should refuse %s=%j with a clear error and install nothing", (name, value, message) => {
    const r = verb(tb, ni, "apply", { [name]: value });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(message);
    expect(inNs(tb.node, "nft", ["list", "ruleset"]).stdout).toBe("");
  });

  it("should run on a busybox userland, as in the Alpine-based image", () => {
    const bin = join(tb.dir, "busybox-bin");
    mkdirSync(bin);
    const { busybox } = requirePrograms("busybox");
    for (const applet of ["sh", "awk", "cat", "date", "grep", "mkdir", "rm", "sleep", "sort", "wc"]) symlinkSync(busybox, join(bin, applet));
    for (const tool of ["nft", "ip", "curl"]) symlinkSync(run("sh", ["-c", `command -v ${tool}`]).stdout.trim(), join(bin, tool));
    const env = { PATH: bin, NODE_INIT_SOURCE_RANGES: "192.0.2.0/24 2001:db8::/32", NODE_INIT_INTERFACES: "eth*" };
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
    const r = verb(tb, ni, "apply", { PATH: bin });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("required tool 'nft' is not installed");
  });
});
