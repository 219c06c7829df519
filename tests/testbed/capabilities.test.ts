/**
 * node-init > privileges: each host-access mode's container command, run under exactly the
 * capabilities its rendered securityContext grants, works; without any one of them it fails.
 *
 * hostPID is reproduced faithfully without touching the machine's PID 1: a new PID namespace
 * whose PID 1 sits in the testbed's node namespace, and the "container" in a network namespace of
 * its own, so the rendered `nsenter --target 1 --net` lands in the testbed node.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { removeScratchCharts } from "../lib/chart.js";
import { requirePrograms, run } from "../lib/tools.js";
import { containerEnv, type NodeInit, renderNodeInit } from "./node-init.js";
import { inNs, Testbed } from "./testbed.js";

if (process.getuid?.() !== 0) throw new Error("node-init > privileges: needs root (CI runs as root)");

requirePrograms("setpriv", "unshare", "nsenter");
afterAll(removeScratchCharts);

/** setpriv arguments that leave exactly `caps` (Kubernetes names, e.g. NET_ADMIN) to the command. */
const onlyCaps = (caps: readonly string[]): string[] => {
  const list = ["-all", ...caps.map((c) => `+${c.toLowerCase()}`)].join(",");
  return ["setpriv", `--bounding-set=${list}`, "--inh-caps=-all", "--ambient-caps=-all", "--"];
};

/** The rendered command of a container with the ConfigMap's mount path replaced by the test's copy. */
const commandOf = (ni: NodeInit, verb: "apply" | "delete"): string[] =>
  ni.init.command.map((a) => (a === "/scripts/node-init.sh" ? ni.script : a === "apply" ? verb : a));

describe.each([
  { hostAccess: "hostPID", expected: ["NET_ADMIN", "SYS_ADMIN", "SYS_PTRACE"] },
  { hostAccess: "hostNetwork", expected: ["NET_ADMIN"] },
])("node-init > privileges with nodeInit.hostAccess=$hostAccess", ({ hostAccess, expected }) => {
  const tb = new Testbed("nftables", `${process.pid % 100000}${hostAccess === "hostPID" ? "p" : "n"}`);
  let ni: NodeInit;

  beforeAll(() => {
    tb.down();
    run("ip", ["netns", "add", tb.node]);
    // A bare namespace has no kube-proxy: force the method so there are rules to install.
    ni = renderNodeInit(tb.dir, [`nodeInit.hostAccess=${hostAccess}`, "nodeInit.method=nftables"]);
  });
  afterAll(() => tb.destroy());

  /** Runs the container command as the kubelet would start it, with only `caps`. */
  const container = (caps: readonly string[], verb: "apply" | "delete" = "apply") => {
    const env = containerEnv(ni, { NODE_INIT_STATE_DIR: join(tb.dir, "state") });
    const command = [...onlyCaps(caps), ...commandOf(ni, verb)];
    if (hostAccess === "hostNetwork") return inNs(tb.node, command[0]!, command.slice(1), { env, allowFail: true });
    // PID 1 of a new PID namespace stays in the node namespace; the container gets its own
    // network namespace. `; exit` keeps sh from exec'ing (PID 1 must not move).
    const quoted = command.map((a) => `'${a}'`).join(" ");
    return inNs(tb.node, "unshare", ["--pid", "--fork", "--mount-proc", "sh", "-c", `unshare --net -- ${quoted}; exit $?`], { env, allowFail: true });
  };
  const tableExists = () => inNs(tb.node, "nft", ["list", "table", "inet", "edge_node_init"], { allowFail: true }).status === 0;

  it(`should grant exactly ${expected.join(", ")}, drop ALL and never run privileged`, () => {
    for (const c of [ni.init, ni.main]) {
      expect(c.securityContext.capabilities.add).toEqual(expected);
      expect(c.securityContext.capabilities.drop).toEqual(["ALL"]);
      expect((c.securityContext as { privileged?: boolean }).privileged).toBe(false);
    }
    expect(ni.podSpec.hostPID ?? false).toBe(hostAccess === "hostPID");
    expect(ni.podSpec.hostNetwork ?? false).toBe(hostAccess === "hostNetwork");
  });

  it("should install the rules in the node's namespace with exactly the granted capabilities", () => {
    const r = container(expected);
    expect(r.status, r.stderr).toBe(0);
    expect(tableExists()).toBe(true);
    const d = container(expected, "delete");
    expect(d.status, d.stderr).toBe(0);
    expect(tableExists()).toBe(false);
  });

  it.each(expected)("should fail without %s", (missing) => {
    const r = container(expected.filter((c) => c !== missing));
    expect(r.status).not.toBe(0);
    expect(tableExists()).toBe(false);
    // nsenter cannot open PID 1's namespace / cannot setns() into it; nft cannot load the table.
    const why = { NET_ADMIN: "nft cannot read the ruleset", SYS_ADMIN: "reassociate to namespace 'ns/net' failed: Operation not permitted", SYS_PTRACE: "cannot open /proc/1/ns/net: Permission denied" }[missing];
    expect(r.stderr).toContain(why);
  });

  it.runIf(hostAccess === "hostPID")("should not reach the node's namespace from the container's own without nsenter", () => {
    // The same capabilities, but the script run directly: it acts on the container's namespace.
    const env = containerEnv(ni, { NODE_INIT_STATE_DIR: join(tb.dir, "state") });
    const r = inNs(tb.node, "unshare", ["--net", ...onlyCaps(expected), "sh", ni.script, "apply"], { env, allowFail: true });
    expect(r.status, r.stderr).toBe(0);
    expect(tableExists()).toBe(false);
  });
});
