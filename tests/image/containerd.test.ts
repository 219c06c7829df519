/**
 * node-init image > containerd: Debian's containerd imports the OCI archive build.sh writes, and
 * runs node-init.sh from it under runc — read-only root, only CAP_NET_ADMIN, in a testbed node
 * namespace (as a hostNetwork pod). containerd and runc come from Debian's packages, unpacked
 * under .cache (never installed). The daemon runs in a mount namespace of its own with its own
 * /run (it keeps the machine's /sys, whose cgroup mounts runc needs); it listens only on a unix
 * socket in the test's folder, and its containers join the node namespace.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../lib/paths.js";
import { addNetns, builtImage, inNs, ownerTag, type Process, Processes, requirePrograms, type Run, run } from "../../local/index.js";
import { Testbed } from "../lib/testbed.js";

if (process.getuid?.() !== 0) throw new Error("node-init image > containerd: needs root (CI runs as root)");
requirePrograms("apt-get", "dpkg-deb", "nsenter", "setpriv", "unshare", "ip", "nft");

/** containerd, ctr, its runc shim and runc from Debian, unpacked once into .cache. */
function debianContainerd(): string {
  const dir = join(repoRoot, ".cache", "images", "containerd");
  const bin = join(dir, "usr", "bin");
  if (existsSync(join(bin, "ctr")) && existsSync(join(bin, "runc"))) return bin;
  const debs = join(dir, "debs");
  mkdirSync(debs, { recursive: true });
  const r = run("apt-get", ["download", "containerd", "runc"], { cwd: debs });
  if (r.status !== 0) throw new Error(`apt-get download containerd runc: ${r.stderr}`);
  for (const deb of readdirSync(debs)) run("dpkg-deb", ["-x", join(debs, deb), dir]);
  return bin;
}

describe("node-init image > containerd", () => {
  // Made in beforeAll, so that a skipped suite leaves nothing behind.
  let tb: Testbed | undefined;
  let base = "";
  let socket = "";
  let netns = "";
  let daemon: Process | undefined;
  let bin = "";
  let digest = "";
  let archive = "";
  let imported: Run;

  /** ctr inside the daemon's namespaces (its /run holds the shims' sockets and stdio FIFOs). */
  const ctr = (args: string[]) =>
    run("nsenter", ["--target", String(daemon!.child.pid), "--mount", "--", join(bin, "ctr"), "--address", socket, ...args],
      { env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });

  beforeAll(async () => {
    const image = builtImage();
    digest = image.digest;
    archive = join(image.out, "edge-node-init.oci.tar");
    bin = debianContainerd();
    Testbed.reapStale();
    tb = new Testbed("nftables", `${ownerTag()}c`);
    base = join(tb.dir, "containerd");
    socket = join(base, "containerd.sock");
    netns = join(base, "netns");
    tb.down();
    addNetns(tb.node);
    // A node whose kube-proxy runs in nftables mode.
    inNs(tb.node, "nft", ["add", "table", "ip", "kube-proxy"]);
    mkdirSync(join(base, "state-dir"), { recursive: true });
    mkdirSync(base, { recursive: true });
    writeFileSync(join(base, "config.toml"), `version = 2
root = "${base}/root"
state = "${base}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "${socket}"
`);
    // containerd 1.6 keeps shim sockets under /run/containerd: a /run of its own hides them. The
    // node namespace's file is bound first, for the containers to join.
    writeFileSync(netns, "");
    // The runner's parent-death signal: the daemon dies with this test process, however that ends.
    daemon = new Processes(base).start("containerd", "unshare", ["--mount", "--propagation", "private", "--", "sh", "-c",
      `mount --bind "/run/netns/$1" "$2" && mount -t tmpfs tmpfs /run && mkdir /run/containerd && exec containerd --config "$0"`,
      join(base, "config.toml"), tb.node, netns], { env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
    await tb.waitFor(() => existsSync(socket) && ctr(["version"]).status === 0, "containerd");
    imported = ctr(["images", "import", "--all-platforms", archive]);
  });
  afterAll(() => {
    // The daemon, and any shim a failed test left (their command lines name this test's socket).
    daemon?.signal("SIGKILL");
    for (const pid of socket ? readdirSync("/proc").filter((p) => /^\d+$/.test(p)) : []) {
      try {
        if (readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(socket)) process.kill(Number(pid), "SIGKILL");
      } catch { /* gone */ }
    }
    tb?.destroy();
  });

  it("should import the OCI archive as the multi-arch index build.sh names, with both platforms", () => {
    expect(imported.status, imported.stderr).toBe(0);
    const listed = ctr(["images", "ls"]).stdout.split("\n").find((l) => l.startsWith("ghcr.io/edge-chart/edge-node-init:"));
    expect(listed).toBeDefined();
    expect(listed).toContain(digest);
    expect(listed).toContain("linux/amd64,linux/arm64/v8");
  });

  /** The chart's hostNetwork container: node-init.sh read-only at /scripts, the state folder, `caps`. */
  const runVerb = (verb: string, caps: string[], env: string[] = []) => {
    const name = readFileSync(join(repoRoot, "Chart.yaml"), "utf8").match(/^version: *(\S+)/m)![1]!;
    return ctr(["run", "--rm", "--read-only", ...caps.flatMap((c) => ["--cap-add", `CAP_${c}`]),
      "--with-ns", `network:${netns}`,
      "--mount", `type=bind,src=${join(repoRoot, "files")},dst=/scripts,options=rbind:ro`,
      "--mount", `type=bind,src=${join(base, "state-dir")},dst=/run/edge-node-init,options=rbind:rw`,
      ...["NODE_INIT_PORTS=80:30080 443:30443", "NODE_INIT_STATE_DIR=/run/edge-node-init", ...env].flatMap((e) => ["--env", e]),
      `ghcr.io/edge-chart/edge-node-init:${name}`, `node-init-${verb}-${caps.length}`, "/bin/sh", "/scripts/node-init.sh", verb]);
  };
  const tableExists = () => inNs(tb!.node, "nft", ["list", "table", "inet", "edge_node_init"], { allowFail: true }).status === 0;

  it("should run apply, check, status and delete under runc with a read-only root and only NET_ADMIN", () => {
    const apply = runVerb("apply", ["NET_ADMIN"]);
    expect(apply.status, apply.stderr).toBe(0);
    expect(tableExists()).toBe(true);
    expect(runVerb("check", ["NET_ADMIN"]).status).toBe(0);
    const status = runVerb("status", ["NET_ADMIN"]);
    expect(status.stdout).toContain("rules: in place");
    expect(runVerb("delete", ["NET_ADMIN"]).status).toBe(0);
    expect(tableExists()).toBe(false);
  });

  it("should fail apply without NET_ADMIN, naming it, installing nothing (nft cannot even list its chains)", () => {
    const apply = runVerb("apply", []);
    expect(apply.status).not.toBe(0);
    expect(apply.stderr).toContain("cannot read what decides the rules");
    expect(tableExists()).toBe(false);
    rmSync(join(base, "state-dir"), { recursive: true, force: true });
  });
});
