/**
 * node-init image > run: the rendered container commands, run with nothing but the image's own
 * files (tests/lib/pod.ts: chrooted into a copy of its tree, mounted as the kubelet would), in a
 * testbed node namespace. The rules land in that namespace, and each kube-proxy mode is detected
 * with the image's tools alone.
 */
import { spawn } from "node:child_process";
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addNetns, inNs, ownerTag, type Process, Processes, removeScratchCharts, requirePrograms, run, shIn, viaNetns } from "../../local/index.js";
import { type NodeInit, renderNodeInit } from "../lib/node-init.js";
import { type TestbedMode, Testbed } from "../lib/testbed.js";
import { type HostAccess, ImagePod, type PodVolumes, serviceAccountPath as SA } from "../lib/pod.js";

if (process.getuid?.() !== 0) throw new Error("node-init image > run: namespaces and chroot need root (CI runs as root)");
requirePrograms("chroot", "cp", "mount", "unshare", "ip", "nft", "iptables-nft", "iptables-legacy", "openssl", "curl");

const hostRuleset = run("nft", ["-s", "list", "ruleset"]).stdout;
afterAll(() => {
  removeScratchCharts();
  // The machine's own ruleset is exactly as it was.
  expect(run("nft", ["-s", "list", "ruleset"]).stdout).toBe(hostRuleset);
});

/**
 * A testbed node namespace and a pod of the image, made in beforeAll (so a skipped suite leaves
 * nothing) and removed in afterAll.
 */
function pod(mode: TestbedMode, tag: string, hostAccess: HostAccess) {
  let tb: Testbed | undefined;
  let ni: NodeInit;
  let image: ImagePod;
  let volumes: PodVolumes;
  const at = (name: string) => join(tb!.dir, name);
  beforeAll(() => {
    Testbed.reapStale();
    tb = new Testbed(mode, tag);
    tb.down();
    addNetns(tb.node);
    ni = renderNodeInit(tb.dir, [`nodeInit.hostAccess=${hostAccess}`]);
    image = new ImagePod(tb.dir);
    volumes = image.volumes(ni.script);
  });
  afterAll(() => tb?.destroy());

  /** The `ip netns exec` arguments and environment that run a container's command in the image. */
  const invocation = (verb: string, command?: string[]) => {
    const rendered = command ?? ni.init.command.map((a) => (a === "apply" ? verb : a));
    return { args: image.argv(hostAccess, volumes, rendered), env: image.env(ni.env) };
  };
  /** Runs the rendered command of a container (or probe) for `verb`, in the image, to its end. */
  const container = (verb: string, command?: string[]) => {
    const { args, env } = invocation(verb, command);
    return inNs(tb!.node, args[0]!, args.slice(1), { env, allowFail: true });
  };
  /** Starts a container's command in the image; with hostNetwork the process is the script's sh. */
  const start = (command: string[]) => {
    const { args, env } = invocation("", command);
    return spawn("ip", ["netns", "exec", tb!.node, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
  };
  return { container, start, rendered: () => ni, testbed: () => tb!, at };
}

const tableIn = (ns: string) => inNs(ns, "nft", ["list", "table", "inet", "edge_node_init"], { allowFail: true });

describe.each(["hostPID", "hostNetwork"] as const)("node-init image > run with nodeInit.hostAccess=%s", (hostAccess) => {
  const { container, start, rendered, testbed } = pod("nftables", `${ownerTag()}${hostAccess === "hostPID" ? "i" : "j"}`, hostAccess);
  // A node whose kube-proxy runs in nftables mode (its table is what node-init looks for).
  let before = "";
  beforeAll(() => {
    inNs(testbed().node, "nft", ["add", "table", "ip", "kube-proxy"]);
    before = inNs(testbed().node, "nft", ["list", "ruleset"]).stdout;
  });

  it("should run the rendered command with the image's nsenter or sh, and apply the rules in the node's namespace", () => {
    expect(rendered().init.command[0]).toBe(hostAccess === "hostPID" ? "nsenter" : "/bin/sh");
    const r = container("apply");
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain("rules in place: 80:30080 443:30443");
    const table = tableIn(testbed().node);
    expect(table.status, table.stderr).toBe(0);
    expect(table.stdout).toContain("tcp dport set 30080");
  });

  it("should pass the rendered readiness probe (ready), check the table and report status", () => {
    const probe = (rendered().main as unknown as { readinessProbe: { exec: { command: string[] } } }).readinessProbe.exec.command;
    expect(probe).toEqual(["/bin/sh", "/scripts/node-init.sh", "ready"]);
    // With hostPID the probe runs in the container's own network namespace: it needs none.
    const ready = container("ready", probe);
    expect(ready.status, ready.stderr).toBe(0);
    const check = container("check");
    expect(check.status, check.stderr).toBe(0);
    const status = container("status");
    expect(status.status, status.stderr).toBe(0);
    expect(status.stdout).toContain("kube-proxy mode: nftables");
    expect(status.stdout).toContain("rules: in place");
  });

  it.runIf(hostAccess === "hostNetwork")("should keep the rules with the image's run loop: nft monitor repairs a deleted table within a resync, and SIGTERM ends it", async () => {
    const main = rendered().main.command;
    expect(main).toContain("run");
    const child = start(main);
    let log = "";
    child.stdout!.on("data", (d) => (log += d));
    child.stderr!.on("data", (d) => (log += d));
    const exited = new Promise<number>((resolve) => child.on("exit", (code) => resolve(code ?? -1)));
    try {
      await testbed().waitFor(() => container("check").status === 0, "run applied the rules");
      inNs(testbed().node, "nft", ["delete", "table", "inet", "edge_node_init"]);
      // The rendered resync period is 30 s: a repair well within it came from nft monitor's event.
      const resync = Number(rendered().env.NODE_INIT_RESYNC_SECONDS);
      expect(resync).toBeGreaterThanOrEqual(30);
      await testbed().waitFor(() => tableIn(testbed().node).status === 0, "the table repaired", resync / 3);
      child.kill("SIGTERM");
      expect(await exited, log).toBe(0);
      // No API server here: the DaemonSet cannot be shown gone, so the rules stay.
      expect(log).toContain("keeping rules");
      expect(tableIn(testbed().node).status).toBe(0);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("should fail check once the table is altered, and delete it", () => {
    inNs(testbed().node, "nft", ["flush", "chain", "inet", "edge_node_init", "output"]);
    const check = container("check");
    expect(check.status).toBe(1);
    expect(check.stderr).toContain("was altered");
    const del = container("delete");
    expect(del.status, del.stderr).toBe(0);
    expect(tableIn(testbed().node).status).not.toBe(0);
    expect(inNs(testbed().node, "nft", ["list", "ruleset"]).stdout).toBe(before);
  });
});

describe("node-init image > run: kube-proxy detection with the image's tools", () => {
  // What each kube-proxy mode leaves in the node namespace that node-init looks for. The image
  // carries no iptables extensions: its nft still lists iptables-nft's chain (warning about the
  // xt expressions it cannot print), and /proc tells the legacy tables.
  const marks: Record<TestbedMode, string> = {
    "nftables": "nft add table ip kube-proxy",
    "iptables-nft": "iptables-nft -t nat -N KUBE-SERVICES && iptables-nft -t nat -A KUBE-SERVICES -m addrtype --dst-type LOCAL -m comment --comment nodeports -j RETURN",
    "iptables-legacy": "iptables-legacy -t nat -N KUBE-SERVICES",
    "ipvs": "ip link add kube-ipvs0 type veth peer name kube-ipvs0-peer && ip addr add 10.96.0.10/32 dev kube-ipvs0",
  };
  describe.each(Object.keys(marks) as TestbedMode[])("%s", (mode) => {
    const { container, testbed } = pod(mode, `${ownerTag()}k`, "hostPID");

    it(`should detect ${mode} mode and install its method's rules`, () => {
      shIn(testbed().node, marks[mode]);
      const r = container("apply");
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toContain(`kube-proxy mode: ${mode}; method: ${mode === "ipvs" ? "iptables-redirect" : "nftables"} (auto)`);
      expect(tableIn(testbed().node).stdout).toContain(mode === "ipvs" ? "redirect to :30080" : "tcp dport set 30080");
      expect(container("delete").status).toBe(0);
    });
  });
});

describe("node-init image > run: the API call over TLS", () => {
  // The call `run` makes when stopped (is the DaemonSet gone?), with the image's curl, against an
  // HTTPS server whose certificate a test CA signed, as the ServiceAccount's ca.crt provides it.
  const { container, testbed, at } = pod("nftables", `${ownerTag()}t`, "hostNetwork");
  let pki = "";
  let serviceAccount = "";
  const url = "https://127.0.0.1:6443/apis/apps/v1/namespaces/edge-node-init/daemonsets/edge-node-init";
  let server: Process | undefined;
  const openssl = (args: string[]) => {
    const r = run("openssl", args, { cwd: pki });
    if (r.status !== 0) throw new Error(`openssl ${args.join(" ")}: ${r.stderr}`);
  };
  const newCa = (name: string) =>
    openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", `/CN=${name}`, "-keyout", `${name}.key`, "-out", `${name}.crt`]);

  beforeAll(async () => {
    pki = at("pki");
    serviceAccount = at("serviceaccount");
    mkdirSync(pki);
    newCa("cluster-ca");
    newCa("other-ca");
    openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=kube-apiserver", "-keyout", "server.key", "-out", "server.csr"]);
    writeFileSync(join(pki, "san.ext"), "subjectAltName=IP:127.0.0.1\n");
    openssl(["x509", "-req", "-in", "server.csr", "-CA", "cluster-ca.crt", "-CAkey", "cluster-ca.key", "-set_serial", "1", "-days", "1", "-extfile", "san.ext", "-out", "server.crt"]);
    // An API server stand-in: answers 404 (the DaemonSet is gone) and echoes what it was sent.
    const code = `require("https").createServer({ key: require("fs").readFileSync("server.key"), cert: require("fs").readFileSync("server.crt") },
      (q, r) => { r.writeHead(404, { "content-type": "application/json" }); r.end(JSON.stringify({ path: q.url, authorization: q.headers.authorization })); }).listen(6443, "127.0.0.1");`;
    server = new Processes(pki).start("api-stand-in", process.execPath, ["-e", code], { via: viaNetns(testbed().node) });
    inNs(testbed().node, "ip", ["link", "set", "lo", "up"]);
    await testbed().waitFor(() => inNs(testbed().node, "curl", ["-sk", "-o", "/dev/null", "https://127.0.0.1:6443/"], { allowFail: true }).status === 0, "the HTTPS stand-in");
    writeFileSync(join(serviceAccount, "token"), "test-token");
  });
  afterAll(() => { server?.signal("SIGKILL"); });

  /** The script's request, run by the image's sh and curl with `ca` as the ServiceAccount's ca.crt. */
  const call = (ca: string | undefined) => {
    rmSync(join(serviceAccount, "ca.crt"), { force: true });
    if (ca) copyFileSync(join(pki, ca), join(serviceAccount, "ca.crt"));
    return container("", ["/bin/sh", "-c", `set -- --silent --show-error --max-time 5 --write-out ' %{http_code}'
      set -- "$@" --header "Authorization: Bearer $(cat ${SA}/token)"
      [ ! -r ${SA}/ca.crt ] || set -- "$@" --cacert ${SA}/ca.crt
      curl "$@" ${url}`]);
  };

  it("should verify the API server's certificate with the ServiceAccount's CA and send the token", () => {
    const r = call("cluster-ca.crt");
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${JSON.stringify({ path: new URL(url).pathname, authorization: "Bearer test-token" })} 404`);
  });

  it.each([
    ["another CA's file", "other-ca.crt", 60, "SSL certificate problem: unable to get local issuer certificate"],
    // The image has no CA bundle: without the ServiceAccount's file curl trusts nothing.
    ["no CA file", undefined, 77, "/etc/ssl/certs/ca-certificates.crt"],
  ] as const)("should refuse the server with %s", (_, ca, status, message) => {
    const r = call(ca);
    expect(r.status).toBe(status);
    expect(r.stderr).toContain(message);
  });
});
