/**
 * node-init > privileges: each host-access mode's container command, run from the node-init
 * image (tests/lib/pod.ts) under exactly the capabilities its rendered securityContext grants,
 * works; without any one of them it fails. hostPID is reproduced as pod.ts describes: the rendered
 * `nsenter --target 1 --net` lands in the testbed node, never in the machine's own namespace.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { capabilityDrop, type HostAccess, ImagePod, type PodVolumes } from "../lib/pod.js";
import { inNs, ownerTag, removeScratchCharts, requirePrograms, run } from "../../local/index.js";
import { type NodeInit, renderNodeInit } from "../lib/node-init.js";
import { Testbed } from "../lib/testbed.js";

if (process.getuid?.() !== 0) throw new Error("node-init > privileges: needs root (CI runs as root)");

requirePrograms("setpriv", "ldd", "unshare", "chroot", "mount");
afterAll(removeScratchCharts);

/** The rendered command of the init container, with `verb` for apply. */
const commandOf = (ni: NodeInit, verb: "apply" | "delete"): string[] => ni.init.command.map((a) => (a === "apply" ? verb : a));

describe.each([
  { hostAccess: "hostPID", expected: ["NET_ADMIN", "SYS_ADMIN", "SYS_PTRACE"] },
  { hostAccess: "hostNetwork", expected: ["NET_ADMIN"] },
])("node-init > privileges with nodeInit.hostAccess=$hostAccess", ({ hostAccess, expected }) => {
  const tb = new Testbed("nftables", `${ownerTag()}${hostAccess === "hostPID" ? "p" : "n"}`);
  let ni: NodeInit;
  let pod: ImagePod;
  let volumes: PodVolumes;

  beforeAll(() => {
    tb.down();
    run("ip", ["netns", "add", tb.node]);
    // A bare namespace has no kube-proxy: force the method so there are rules to install.
    ni = renderNodeInit(tb.dir, [`nodeInit.hostAccess=${hostAccess}`, "nodeInit.method=nftables"]);
    pod = new ImagePod(tb.dir);
    volumes = pod.volumes(ni.script);
  });
  afterAll(() => tb.destroy());

  /** Runs `command` in the image as the kubelet would start the container, with only `caps`. */
  const inPod = (caps: readonly string[], command: readonly string[]) => {
    const argv = pod.argv(hostAccess as HostAccess, volumes, command, capabilityDrop(pod, caps));
    return inNs(tb.node, argv[0]!, argv.slice(1), { env: pod.env(ni.env), allowFail: true });
  };
  /** Runs the rendered container command with only `caps`. */
  const container = (caps: readonly string[], verb: "apply" | "delete" = "apply") => inPod(caps, commandOf(ni, verb));
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
    const why = { NET_ADMIN: "cannot read what decides the rules: Operation not permitted", SYS_ADMIN: "reassociate to namespace 'ns/net' failed: Operation not permitted", SYS_PTRACE: "cannot open /proc/1/ns/net: Permission denied" }[missing];
    expect(r.stderr).toContain(why);
  });

  it.runIf(hostAccess === "hostPID")("should not reach the node's namespace from the container's own without nsenter", () => {
    // The same capabilities, but the script run directly: it acts on the container's namespace.
    const r = inPod(expected, ["/bin/sh", "/scripts/node-init.sh", "apply"]);
    expect(r.status, r.stderr).toBe(0);
    expect(tableExists()).toBe(false);
  });
});
