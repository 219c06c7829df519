/**
 * nodes > e2e: `helm install edge ./` on two real nodes (tests/nodes: containerd, runc, CNI bridge,
 * kubelet and kube-proxy in namespaces of their own), in kube-proxy's iptables mode and in its
 * nftables mode (default --nodeport-addresses primary). Only image repositories and tags are
 * overridden: Kong's and its ingress controller's run the Kong stand-in (images/kong-stand-in,
 * NOT Kong: it serves what the Kong pod spec asks of its image), node-init runs its own image.
 * With the real Kong chart (EDGE_KONG_CHART) the pods are the real chart's; with the test
 * stand-in chart they are its stand-in Deployment and NodePort Service (shaped like the real
 * chart's). From a client outside the nodes, :80 and :443 of each node answer from a Kong pod.
 *
 * The machine's own ruleset, links and kernel settings are checked unchanged after each cluster.
 */
import { appendFileSync, cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { builtImage, edgeImages, helms, installEdge, kongChart, kubeletSysctls, lan, NodeCluster, pinnedName, type PortmapBackend, type ProxyMode, removeScratchCharts, repositoryAndTag, requirePrograms, run, scratchChart, standInValues } from "../../local/index.js";
import { formatListings, type Listings, parseListings, recordListings } from "../lib/listings.js";
import { repoRoot } from "../lib/paths.js";

if (process.getuid?.() !== 0) throw new Error("nodes > e2e: needs root (CI runs as root)");
requirePrograms("ip", "nft", "curl", "tar");

const kong = kongChart();
const chartVersion = /^version: *(\S+)/m.exec(readFileSync(join(repoRoot, "Chart.yaml"), "utf8"))![1]!;
/** The digest the chart pins node-init's image by. */
const chartDigest = /^ {4}digest: *"?(sha256:[0-9a-f]{64})/m.exec(readFileSync(join(repoRoot, "values.yaml"), "utf8"))![1]!;
/** node-init's image, imported into each node: a pod that runs curl. */
/** node-init's image as the nodes hold it: pulled by the chart's digest, so named by it alone. */
const nodeInitImage = `ghcr.io/edge-chart/edge-node-init@${chartDigest}`;
const helm = helms[0];
const images = edgeImages();
const standIn = images.standIn;
const standInTag = repositoryAndTag(standIn.name)[1];
const imageValues = standInValues(standIn);

/** What must be the same before and after: the machine's nftables ruleset, links and the kernel settings kubelet checks. */
function machineState(): { ruleset: string; links: string; sysctls: Record<string, string> } {
  return {
    ruleset: run("nft", ["list", "ruleset"]).stdout,
    links: run("ip", ["-o", "link"]).stdout.replace(/\s+link\/.*$/gm, ""),
    sysctls: Object.fromEntries(Object.keys(kubeletSysctls).map((k) => [k, readFileSync(`/proc/sys/${k}`, "utf8").trim()])),
  };
}

interface Pod {
  metadata: { name: string; namespace: string; uid: string; deletionTimestamp?: string };
  spec: { nodeName?: string; containers: { name: string; image: string }[] };
  status: { phase?: string; podIP?: string; conditions?: { type: string; status: string }[]; containerStatuses?: { name: string; containerID?: string; imageID: string }[] };
}

/** What node-init's Events hold that the tests read. */
interface NodeInitEvent { reason: string; message: string; involvedObject: { name: string } }

/** Linux capability bits (include/uapi/linux/capability.h). */
const CAP = { NET_ADMIN: 12, SYS_PTRACE: 19, SYS_ADMIN: 21 };
const capMask = (...caps: number[]) => caps.reduce((m, c) => m | (1n << BigInt(c)), 0n).toString(16).padStart(16, "0");

/**
 * Each kube-proxy mode runs with one node-init access mode (hostPID is the non-default one, set
 * explicitly) and one CNI portmap backend; the rolling upgrade switches to the other access mode.
 */
const setups: { mode: ProxyMode; hostAccess: "hostPID" | "hostNetwork"; portmap: PortmapBackend }[] = [
  { mode: "iptables", hostAccess: "hostPID", portmap: "iptables" },
  { mode: "nftables", hostAccess: "hostNetwork", portmap: "nftables" },
];

describe.each(setups)("nodes > edge on two real nodes, kube-proxy in $mode mode, node-init $hostAccess, portmap $portmap", ({ mode, hostAccess, portmap }) => {
  let nodes: NodeCluster | undefined;
  let before: ReturnType<typeof machineState>;
  let failed = false;
  let installSeconds = 0;

  const pods = async (namespace: string, selector: string): Promise<Pod[]> =>
    ((await nodes!.control.api("GET", `/api/v1/namespaces/${namespace}/pods?labelSelector=${encodeURIComponent(selector)}`)).body as { items?: Pod[] }).items ?? [];
  const ready = (p: Pod) => !p.metadata.deletionTimestamp && p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true;
  const kongPods = () => pods("kong", "app.kubernetes.io/name=kong,app.kubernetes.io/component=app");
  const nodeInitPods = () => pods("edge-node-init", "app.kubernetes.io/component=node-init");
  /**
   * From now on, keeps what each Ready node-init pod logs, polled every 100 ms: kubelet removes a
   * pod's log with the pod, and what it said while stopping explains a failure.
   */
  const recordNodeInitLogs = async () => {
    const watched = (await nodeInitPods()).filter(ready).map((pod) => ({ pod, node: nodes!.nodes.find((n) => n.name === pod.spec.nodeName)! }));
    const logs = new Map<string, string>();
    const record = () => {
      for (const { pod, node } of watched) {
        const now = node.podLog("edge-node-init", pod.metadata.name, "node-init");
        if (now.length >= (logs.get(node.name) ?? "").length) logs.set(node.name, now);
      }
    };
    const timer = setInterval(record, 100);
    return {
      log: (node: string) => { record(); return logs.get(node) ?? ""; },
      stop: () => clearInterval(timer),
    };
  };

  beforeAll(async () => {
    before = machineState();
    nodes = new NodeCluster({ mode, portmap, images: [images.nodeInit, standIn] });
    try {
      await nodes.start();
      console.log(`nodes > ${mode}: control plane and 2 nodes Ready in ${nodes.startSeconds.toFixed(1)} s (Kong chart: ${kong.kind})`);
      installSeconds = await installEdge(nodes, standIn, { args: hostAccess === "hostPID" ? ["--set", "nodeInit.hostAccess=hostPID"] : [] });
      console.log(`nodes > ${mode}: helm install to the first answer on node a :80 in ${installSeconds.toFixed(1)} s`);
    } catch (e) {
      failed = true;
      throw e;
    }
  }, 420_000);
  afterEach((context) => {
    if (context.task.result?.state === "fail") failed = true;
  });
  afterAll(async () => {
    await nodes?.stop(failed);
    removeScratchCharts();
    const left = nodes?.leftovers() ?? [];
    if (left.length) throw new Error(`nodes > ${mode}: left behind: ${left.join(", ")}`);
    const after = machineState();
    if (JSON.stringify(after) !== JSON.stringify(before)) {
      throw new Error(`nodes > ${mode}: the machine changed:\n${JSON.stringify({ before, after }, null, 1)}`);
    }
  }, 120_000);

  it("should register both nodes Ready", async () => {
    expect((await nodes!.readyNodes()).sort()).toEqual(["edge-node-a", "edge-node-b"]);
  });

  it("should run a Ready node-init pod on each node (its readiness probe checks the rules)", async () => {
    await nodes!.control.waitFor(async () => (await nodeInitPods()).filter(ready).length === 2, "2 Ready node-init pods", 120);
    expect((await nodeInitPods()).filter(ready).map((p) => p.spec.nodeName).sort()).toEqual(["edge-node-a", "edge-node-b"]);
  });

  it(`should run Ready Kong pods, spread over both nodes (${kong.kind} Kong chart, Kong stand-in image)`, async () => {
    await nodes!.control.waitFor(async () => (await kongPods()).filter(ready).length >= 2, "2 Ready Kong pods", 120);
    expect(new Set((await kongPods()).filter(ready).map((p) => p.spec.nodeName))).toEqual(new Set(["edge-node-a", "edge-node-b"]));
  });

  it("should answer on :80 and :443 of each node from a Kong pod", async () => {
    const names = (await kongPods()).map((p) => p.metadata.name);
    for (const i of [0, 1]) {
      const http = nodes!.curl(`http://${nodes!.address(i)}/edge`);
      const https = nodes!.curl(`https://${nodes!.address(i)}/edge`, ["--insecure"]);
      expect(http).toMatch(/^kong-stand-in \S+ :8000 \/edge$/);
      expect(https).toMatch(/^kong-stand-in \S+ :8443 \/edge$/);
      expect(names).toContain(http.split(" ")[1]);
      expect(names).toContain(https.split(" ")[1]);
    }
  });

  it("should still answer on the NodePorts 30080 and 30443", () => {
    for (const i of [0, 1]) {
      expect(nodes!.curl(`http://${nodes!.address(i)}:30080/`)).toMatch(/^kong-stand-in \S+ :8000 \/$/);
      expect(nodes!.curl(`https://${nodes!.address(i)}:30443/`, ["--insecure"])).toMatch(/^kong-stand-in \S+ :8443 \/$/);
    }
  });

  it("should refuse a client outside nodeInit.sourceRanges on :80 and on Kong's NodePort alike, and serve it once the range includes it", async () => {
    const access = hostAccess === "hostPID" ? ["--set", "nodeInit.hostAccess=hostPID"] : [];
    const upgrade = (set: string[]) => nodes!.helm(helm.path, ["upgrade", "edge", scratchChart(), ...imageValues, ...access, ...set, "--wait", "--timeout", "120s"]);
    const refused = (i: number) => nodes!.curl(`http://${nodes!.address(i)}/`).startsWith("ERR") && nodes!.curl(`http://${nodes!.address(i)}:30080/`).startsWith("ERR");
    const served = (i: number) => nodes!.curl(`http://${nodes!.address(i)}/`).startsWith("kong-stand-in") && nodes!.curl(`http://${nodes!.address(i)}:30080/`).startsWith("kong-stand-in");
    let r = upgrade(["--set", "nodeInit.sourceRanges={198.51.100.0/24}"]);
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    await nodes!.control.waitFor(async () => refused(0) && refused(1), "both nodes refusing the client on :80 and :30080", 90);
    r = upgrade(["--set", `nodeInit.sourceRanges={${lan.prefix}.0/24}`]);
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    await nodes!.control.waitFor(async () => served(0) && served(1), "both nodes serving the client again", 90);
    r = upgrade([]);
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    await nodes!.control.waitFor(async () => (await nodeInitPods()).filter(ready).length === 2 && served(0) && served(1), "node-init back to its defaults on both nodes", 90);
  }, 360_000);

  it("should remove node-init's table from a node the DaemonSet no longer selects, closing only that node's :80, and serve there again once it is selected", async () => {
    const access = hostAccess === "hostPID" ? ["--set", "nodeInit.hostAccess=hostPID"] : [];
    const upgrade = (set: string[]) => nodes!.control.helmAsync(helm.path, ["upgrade", "edge", scratchChart(), ...imageValues, ...access, ...set, "--wait", "--timeout", "120s"]);
    const nodeA = (await nodes!.control.api("GET", "/api/v1/nodes/edge-node-a")).body as { metadata: { labels: Record<string, string> } };
    const hostname = nodeA.metadata.labels["kubernetes.io/hostname"];
    expect(hostname).toBeTruthy();
    const [a, b] = nodes!.nodes;
    const logs = await recordNodeInitLogs();
    try {
      const r = await upgrade(["--set-string", `nodeInit.nodeSelector.kubernetes\\.io/hostname=${hostname}`]);
      expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
      await b!.waitFor(() => !b!.hasNodeInitTable(), "node-init's table to go from node b", 60)
        .catch((e: Error) => { throw new Error(`${e.message}; node-init's log on node b:\n${logs.log(b!.name)}`); });
      expect(logs.log(b!.name)).toContain("the DaemonSet no longer selects this node: nodeSelector kubernetes.io/hostname=");
    } finally {
      logs.stop();
    }
    expect(nodes!.curl(`http://${nodes!.address(1)}/`)).toMatch(/^ERR 7 /);
    // Kong's NodePort on node b is kube-proxy's, not node-init's: still served.
    expect(nodes!.curl(`http://${nodes!.address(1)}:30080/`)).toMatch(/^kong-stand-in /);
    // Node a keeps its table and serves; its pod is replaced (the template changed) and Ready.
    expect(a!.hasNodeInitTable()).toBe(true);
    expect(nodes!.curl(`http://${nodes!.address(0)}/`)).toMatch(/^kong-stand-in /);
    await nodes!.control.waitFor(async () => (await nodeInitPods()).filter(ready).map((p) => p.spec.nodeName).join() === "edge-node-a", "one Ready node-init pod, on node a", 60);
    const r = await upgrade([]);
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    await nodes!.control.waitFor(async () => (await nodeInitPods()).filter(ready).length === 2 && nodes!.curl(`http://${nodes!.address(1)}/`).startsWith("kong-stand-in"), "node b selected and serving again", 90);
  }, 300_000);

  it(`should serve node-init's metrics from each pod's IP (${hostAccess === "hostNetwork" ? "the node's own address" : "the pod network"}) as a non-root container: the rules installed per port and family, and the probe through Kong`, async () => {
    const access = hostAccess === "hostPID" ? ["--set", "nodeInit.hostAccess=hostPID"] : [];
    const upgrade = (set: string[]) => nodes!.control.helmAsync(helm.path, ["upgrade", "edge", scratchChart(), ...imageValues, ...access, ...set, "--wait", "--timeout", "120s"]);
    let r = await upgrade(["--set", "nodeInit.metrics.enabled=true"]);
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    const withMetrics = async () => (await nodeInitPods()).filter((p) => ready(p) && p.status.containerStatuses?.some((c) => c.name === "metrics"));
    await nodes!.control.waitFor(async () => (await withMetrics()).length === 2, "both node-init pods Ready with their metrics container", 90);
    for (const pod of await withMetrics()) {
      const node = nodes!.nodes.find((n) => n.name === pod.spec.nodeName)!;
      const i = nodes!.nodes.indexOf(node);
      if (hostAccess === "hostNetwork") expect(pod.status.podIP).toBe(nodes!.address(i));
      const url = `http://${pod.status.podIP}:9850/metrics`;
      let text = "";
      await node.waitFor(() => {
        text = node.exec("curl", ["-sS", "--max-time", "2", url]).stdout;
        return text.includes('edge_node_init_probe_success{address="');
      }, `node-init's metrics with a probe result on ${node.name}`, 60).catch((e: Error) => { throw new Error(`${e.message}; last answer:\n${text}`); });
      expect(text).toContain('edge_node_init_rules_installed{port="80",nodeport="30080",family="ipv4"} 1');
      expect(text).toContain('edge_node_init_rules_installed{port="443",nodeport="30443",family="ipv4"} 1');
      expect(text).toMatch(/^edge_node_init_repairs_total 0$/m);
      expect(text).toContain(`edge_node_init_probe_success{address="${nodes!.address(i)}",port="80"} 1`);
      // The metrics container runs as nobody, with no capability, as the kernel sees it.
      const id = pod.status.containerStatuses!.find((c) => c.name === "metrics")!.containerID!.replace(/^containerd:\/\//, "");
      const { status } = node.containerProcess(id);
      expect(status.Uid).toMatch(/^65534\s+65534\s+65534\s+65534$/);
      expect(status.CapEff).toBe("0000000000000000");
    }
    // Under hostNetwork it listens on the node's address only: not on its loopback.
    if (hostAccess === "hostNetwork") expect(nodes!.nodes[0]!.exec("curl", ["-sS", "--max-time", "2", "http://127.0.0.1:9850/metrics"]).status).toBe(7);
    r = await upgrade([]);
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    await nodes!.control.waitFor(async () => (await nodeInitPods()).filter((p) => ready(p) && p.status.containerStatuses?.length === 1).length === 2, "node-init back to one container on both nodes", 90);
  }, 300_000);

  it("should have pulled every image through the lan's registry by digest: pause, node-init by the chart's digest, the Kong stand-in by the digest its tag is pinned to", async () => {
    const requests = nodes!.registry.log().split("\n");
    // containerd names the registry it mirrors in a query (?ns=ghcr.io).
    const pulled = (node: string, path: string, reference: string) =>
      requests.some((l) => l.startsWith(`${node} `) && new RegExp(`"(HEAD|GET) /v2/${path}/manifests/${reference}(\\?ns=[^ "]+)? `).test(l));
    for (const node of nodes!.nodes) {
      const address = node.options.address;
      expect(pulled(address, "pause", nodes!.pause!.digest), `pause pulled by ${node.name}`).toBe(true);
      expect(pulled(address, "edge-chart/edge-node-init", chartDigest), `node-init pulled by ${node.name}`).toBe(true);
      expect(pulled(address, "kong-stand-in", standIn.digest), `the Kong stand-in pulled by ${node.name}`).toBe(true);
      // Nothing was resolved by a tag.
      expect(requests.filter((l) => l.startsWith(`${address} `)).filter((l) => /\/manifests\/(?!sha256:)/.test(l)), `tags ${node.name} resolved`).toEqual([]);
    }
    // What pulling cost, as kubelet reports it (pause, the sandbox image, is containerd's own pull).
    const pulls = ((await nodes!.control.api("GET", "/api/v1/events?fieldSelector=reason%3DPulled")).body as { items: { message: string; source?: { host?: string } }[] }).items
      .map((e) => /pulled image "([^"]+)" in ([\d.]+m?s)/.exec(e.message)).filter((m) => m !== null).map((m) => `${m[1]!.replace(/@sha256:.*/, "")} ${m[2]}`);
    console.log(`nodes > ${mode}: image pulls (kubelet): ${pulls.join(", ")}`);
    // The CRI names what a container runs by the reference it was pulled by (once it has started).
    const imageIds = async () => (await nodeInitPods()).map((p) => p.status.containerStatuses?.find((c) => c.name === "node-init")?.imageID ?? "");
    await nodes!.control.waitFor(async () => (await imageIds()).every(Boolean), "node-init's containers started", 60);
    expect(await imageIds()).toEqual(nodes!.nodes.map(() => `ghcr.io/edge-chart/edge-node-init@${chartDigest}`));
  });

  it("should upgrade from the chart in the registry (oci://) and pull node-init by the chart's digest from a registry mirror filled by the README's air-gapped steps", async () => {
    // The mirror: the registry on the nodes' lan (its gateway address), HTTPS with its own CA, which
    // each node's containerd trusts through a hosts.toml, as an air-gapped cluster's nodes would;
    // here under a repository of the mirror's own naming, set by nodeInit.image.repository.
    const registry = nodes!.registry;
    for (const node of nodes!.nodes) registry.hostsToml(node.registryConfigPath);
    // The release's image archive copied into the mirror (README: `oras cp --from-oci-layout`).
    const digest = registry.pushArchive(join(builtImage().out, "edge-node-init.oci.tar"), chartVersion, "edge/edge-node-init");
    expect(digest).toBe(chartDigest);
    const repository = `${registry.host}/edge/edge-node-init`;
    const access = hostAccess === "hostPID" ? ["--set", "nodeInit.hostAccess=hostPID"] : [];
    // The chart too, from the registry (README: helm push, then helm upgrade oci://… --version …),
    // run from the lan where the registry is.
    const pkg = join(nodes!.dir, "package");
    const packaged = run(helm.path, ["package", scratchChart(), "--destination", pkg]);
    expect(packaged.status, packaged.stderr).toBe(0);
    const pushed = nodes!.helmOnLan(helm.path, ["push", join(pkg, `edge-${chartVersion}.tgz`), `oci://${registry.host}/charts`]);
    expect(pushed.status, pushed.stderr).toBe(0);
    const oldNodeInit = new Set((await nodeInitPods()).map((p) => p.metadata.uid));
    const r = nodes!.helmOnLan(helm.path, ["upgrade", "edge", `oci://${registry.host}/charts/edge`, "--version", chartVersion, ...imageValues, ...access,
      "--set", `nodeInit.image.repository=${repository}`, "--wait", "--timeout", "180s"]);
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(registry.log()).toMatch(new RegExp(`"GET /v2/charts/edge/manifests/(${chartVersion}|sha256:[0-9a-f]{64}) `));
    await nodes!.control.waitFor(async () => {
      const now = await nodeInitPods();
      return now.length === 2 && now.every((p) => !oldNodeInit.has(p.metadata.uid) && ready(p));
    }, "both node-init pods replaced and Ready", 120);
    for (const pod of await nodeInitPods()) {
      expect(pod.spec.containers.find((c) => c.name === "node-init")!.image).toBe(`${repository}:${chartVersion}@${chartDigest}`);
      expect(pod.status.containerStatuses!.find((c) => c.name === "node-init")!.imageID).toMatch(new RegExp(`@${chartDigest}$`));
    }
    // Each node resolved the image by its digest at the mirror (the CRI then names it by the
    // first name it has for those bytes, the chart's own, pulled at the install).
    // containerd resolves with HEAD and fetches only what its content store lacks.
    const pulls = registry.log().split("\n").filter((l) => new RegExp(`"(HEAD|GET) /v2/edge/edge-node-init/manifests/${chartDigest} `).test(l));
    for (const node of nodes!.nodes) expect(pulls.some((l) => l.startsWith(`${node.options.address} `)), `a pull from ${node.name} in:\n${pulls.join("\n")}`).toBe(true);
    for (const i of [0, 1]) expect(nodes!.curl(`http://${nodes!.address(i)}/`)).toMatch(/^kong-stand-in /);
  }, 300_000);

  it("should not redirect a pod's outbound request to port 80 of an address outside the node", async () => {
    nodes!.serveOnClient("external", 80);
    const out = await nodes!.runPod("edge-node-a", "outbound", nodeInitImage, ["curl", "-sS", "--max-time", "5", `http://${lan.client}/`]);
    expect(out).toMatch(/^external 80 /);
  });

  /** The main process of container `name` of `pod`, as the kernel sees it. */
  const processOf = (pod: Pod, name: string) => {
    const id = pod.status.containerStatuses?.find((c) => c.name === name)?.containerID?.replace(/^containerd:\/\//, "");
    const node = nodes!.nodes.find((n) => n.name === pod.spec.nodeName);
    if (!id || !node) throw new Error(`no running ${name} in ${pod.metadata.name}`);
    return node.containerProcess(id);
  };

  it("should run each container with the security context its pod asks for, as the kernel sees it (/proc/PID/status)", async () => {
    const [kongPod] = (await kongPods()).filter(ready);
    const proxy = processOf(kongPod!, "proxy");
    expect(proxy.status.Uid!.split(/\s+/)).toEqual(["1000", "1000", "1000", "1000"]);
    expect(proxy.status.CapEff).toBe(capMask());
    expect(proxy.status.CapBnd).toBe(capMask());
    expect(proxy.status.NoNewPrivs).toBe("1");
    expect(proxy.status.Seccomp).toBe("2");
    expect(proxy.rootMount.split(",")).toContain("ro");
    for (const pod of (await nodeInitPods()).filter(ready)) {
      const nodeInit = processOf(pod, "node-init");
      expect(nodeInit.status.Uid!.split(/\s+/)[0]).toBe("0");
      expect(nodeInit.status.CapEff).toBe(hostAccess === "hostPID" ? capMask(CAP.NET_ADMIN, CAP.SYS_ADMIN, CAP.SYS_PTRACE) : capMask(CAP.NET_ADMIN));
      expect(nodeInit.status.Seccomp).toBe("2");
      expect(nodeInit.rootMount.split(",")).toContain("ro");
    }
  });

  /** Runs `script` inside node-init's running container on node a (ctr tasks exec: its namespaces, capabilities and root). */
  const inNodeInit = async (script: string) => {
    const [pod] = (await nodeInitPods()).filter((p) => ready(p) && p.spec.nodeName === "edge-node-a");
    const id = pod!.status.containerStatuses!.find((c) => c.name === "node-init")!.containerID!.replace(/^containerd:\/\//, "");
    return nodes!.nodes[0]!.ctr(["-n", "k8s.io", "tasks", "exec", "--exec-id", `probe-${Date.now()}`, id, "sh", "-c", script]);
  };
  /** The PID of the node's kubelet as the container sees it (empty if it sees none). */
  const findKubelet = 'for p in /proc/[0-9]*; do [ "$(cat "$p/comm" 2>/dev/null)" = kubelet ] && echo "${p#/proc/}"; done; true';

  if (hostAccess === "hostNetwork") {
    it("should reach no host process and no host file from inside node-init's container (hostNetwork)", async () => {
      nodes!.nodes[0]!.exec("sh", ["-c", "echo node-secret > /var/lib/kubelet/edge-marker"]);
      const r = await inNodeInit(`echo "kubelet=$(${findKubelet})"; cat /proc/1/root/var/lib/kubelet/edge-marker /var/lib/kubelet/edge-marker 2>&1; true`);
      // Its own PID namespace: no node process (kubelet) to enter; the node's files are nowhere.
      expect(r.stdout).toContain("kubelet=\n");
      expect(r.stdout).not.toContain("node-secret");
      expect(r.stdout).toMatch(/No such file or directory/);
    });
  } else {
    it("should reach the node's processes and, through /proc/PID/root, read and write the node's files (hostPID: root-equivalent, as the README says)", async () => {
      const node = nodes!.nodes[0]!;
      node.exec("sh", ["-c", "echo node-secret > /var/lib/kubelet/edge-marker; rm -f /var/lib/kubelet/edge-written"]);
      const r = await inNodeInit(`k=$(${findKubelet}); cat /proc/$k/root/var/lib/kubelet/edge-marker && echo written > /proc/$k/root/var/lib/kubelet/edge-written`);
      expect(r.stdout, r.stderr).toContain("node-secret");
      expect(node.exec("cat", ["/var/lib/kubelet/edge-written"]).stdout.trim()).toBe("written");
    });
  }

  /** With a hostPort on node b's :80: what the refusing node shows, and an upgrade that rolls past it. */
  const refusingNode = async (events: () => Promise<NodeInitEvent[]>) => {
    // node b's :80 is the hostPort's (node-init stepped aside); its :443 and node a stay edge's.
    await nodes!.control.waitFor(async () => nodes!.curl(`http://${nodes!.address(1)}/`).startsWith("kong-stand-in hostport-80 "), "node b :80 answered by the hostPort pod", 90);
    expect(nodes!.curl(`https://${nodes!.address(1)}/`, ["--insecure"])).toMatch(/^kong-stand-in (?!hostport-80 )\S+ :8443/);
    expect(nodes!.curl(`http://${nodes!.address(0)}/`)).toMatch(/^kong-stand-in (?!hostport-80 )\S+ :8000/);
    const refusing = (await nodeInitPods()).find((p) => p.spec.nodeName === "edge-node-b")!;
    await nodes!.control.waitFor(async () => (await events()).some((e) => e.reason === "RulesWithheld" && e.involvedObject.name === refusing.metadata.name), "the RulesWithheld Event", 30);
    expect((await events()).find((e) => e.reason === "RulesWithheld")!.message).toContain("port 80: a CNI hostPort");
    // What helm --wait and Argo CD's health check read: every pod available.
    const ds = (await nodes!.control.api("GET", "/apis/apps/v1/namespaces/edge-node-init/daemonsets/edge-node-init")).body as { status: Record<string, number> };
    expect(ds.status.numberAvailable).toBe(2);
    expect(ds.status.numberUnavailable ?? 0).toBe(0);

    const old = new Set((await nodeInitPods()).map((p) => p.metadata.uid));
    const access = hostAccess === "hostPID" ? ["--set", "nodeInit.hostAccess=hostPID"] : [];
    const r = nodes!.helm(helm.path, ["upgrade", "edge", scratchChart(), ...imageValues, ...access, "--set", "nodeInit.resyncSeconds=31", "--wait", "--timeout", "120s"]);
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    // helm --wait returns once all but maxUnavailable pods are Ready; the last one follows.
    await nodes!.control.waitFor(async () => (await nodeInitPods()).filter((p) => !old.has(p.metadata.uid) && ready(p)).length === 2, "both nodes' node-init replaced and Ready", 60);
    const replaced = (await nodeInitPods()).filter((p) => !old.has(p.metadata.uid) && ready(p));
    expect(replaced.map((p) => p.spec.nodeName).sort()).toEqual(["edge-node-a", "edge-node-b"]);
    // The new pod on node b still steps aside for the hostPort.
    expect(nodes!.curl(`http://${nodes!.address(1)}/`)).toMatch(/^kong-stand-in hostport-80 /);
  };

  /**
   * The corpus of tests/node-init/listings.test.ts: what node-init's plan reads on each node (a
   * hostPort on node b) and decides. The live decision must be the one recorded there;
   * EDGE_RECORD_LISTINGS=1 records the listings anew.
   */
  const expectRecordedListings = async () => {
    const ds = (await nodes!.control.api("GET", "/apis/apps/v1/namespaces/edge-node-init/daemonsets/edge-node-init")).body as {
      spec: { template: { spec: { containers: { name: string; env?: { name: string; value?: string }[] }[] } } };
    };
    const env = Object.fromEntries((ds.spec.template.spec.containers.find((c) => c.name === "node-init")!.env ?? [])
      .filter((e) => e.value !== undefined && e.name !== "NODE_INIT_STATE_DIR").map((e) => [e.name, e.value!]));
    // The node's nft, and another release's when EDGE_LISTINGS_NFT names one (sh tools/newer-nft.sh).
    const nfts = [undefined, process.env.EDGE_LISTINGS_NFT || undefined];
    for (const node of nodes!.nodes) {
      let first: Listings["decided"] | undefined;
      for (const program of nfts) {
        const version = node.exec(program ?? "nft", ["--version"]).stdout.trim();
        const release = program ? `-nft${/v(\S+)/.exec(version)![1]}` : "";
        const file = join(repoRoot, "tests", "fixtures", "listings", `${mode}-portmap-${portmap}-${node.name}${release}.txt`);
        const live = recordListings(node, env, `# ${node.name}: kube-proxy ${mode} mode, CNI portmap ${portmap} backend, a hostPort 80 pod on edge-node-b;\n# ${version}; recorded by tests/nodes/e2e.test.ts (EDGE_RECORD_LISTINGS=1${program ? ", EDGE_LISTINGS_NFT" : ""}).`, program);
        if (process.env.EDGE_RECORD_LISTINGS === "1") writeFileSync(file, formatListings(live));
        expect(live.decided, `what node-init decides on ${node.name} with ${version}, against ${file}`).toEqual(parseListings(readFileSync(file, "utf8")).decided);
        // Another nft release lists the same rules: the same decision.
        expect(live.decided, `what node-init decides on ${node.name} with ${version} and with the node's nft`).toEqual(first ??= live.decided);
      }
    }
  };

  it(`should keep a node that withholds :80 for a hostPort (portmap ${portmap} backend) Ready: helm upgrade --wait rolls node-init to every node, a RulesWithheld Event says why, each node decides what its recorded listings do, and :80 returns with the hostPort's end`, async () => {
    const events = async () => ((await nodes!.control.api("GET", "/api/v1/namespaces/edge-node-init/events")).body as { items: NodeInitEvent[] }).items;
    const hostPortPod = {
      apiVersion: "v1", kind: "Pod", metadata: { name: "hostport-80" },
      spec: { nodeName: "edge-node-b", containers: [{ name: "main", image: pinnedName(standIn), imagePullPolicy: "Never", ports: [{ containerPort: 8000, hostPort: 80 }] }] },
    };
    const created = await nodes!.control.api("POST", "/api/v1/namespaces/default/pods", hostPortPod);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    try {
      await refusingNode(events);
      await expectRecordedListings();
    } finally {
      await nodes!.control.api("DELETE", "/api/v1/namespaces/default/pods/hostport-80?gracePeriodSeconds=0");
    }
    await nodes!.control.waitFor(async () => /^kong-stand-in (?!hostport-80 )/.test(nodes!.curl(`http://${nodes!.address(1)}/`)), "node b :80 served by Kong again", 60);
  }, 300_000);


  it("should withhold :80 on a node where a host process listens on it (an old nginx), keep it Ready, say why in an Event, and serve :80 again once the process stops", async () => {
    const events = async () => ((await nodes!.control.api("GET", "/api/v1/namespaces/edge-node-init/events")).body as { items: NodeInitEvent[] }).items;
    const stop = nodes!.serveOnNode(1, "host-nginx", 80);
    try {
      // node-init looks at the node's sockets at every resync: until then its rewrite shadows the process.
      await nodes!.control.waitFor(async () => nodes!.curl(`http://${nodes!.address(1)}/`).startsWith("host-nginx 80 "), "node b :80 answered by the host process", 90);
      const refusing = (await nodeInitPods()).find((p) => p.spec.nodeName === "edge-node-b")!;
      expect(ready(refusing)).toBe(true);
      const why = `port 80: a host process listens on ${nodes!.address(1)}:80`;
      await nodes!.control.waitFor(async () => (await events()).some((e) => e.reason === "RulesWithheld" && e.involvedObject.name === refusing.metadata.name && e.message.includes(why)), "the RulesWithheld Event naming the process", 30)
        .catch(async (e: Error) => { throw new Error(`${e.message}; Events: ${JSON.stringify((await events()).map((x) => [x.reason, x.involvedObject.name, x.message]))}`); });
      // :443 and node a are still Kong's.
      expect(nodes!.curl(`https://${nodes!.address(1)}/`, ["--insecure"])).toMatch(/^kong-stand-in \S+ :8443/);
      expect(nodes!.curl(`http://${nodes!.address(0)}/`)).toMatch(/^kong-stand-in \S+ :8000/);
    } finally {
      stop();
    }
    await nodes!.control.waitFor(async () => nodes!.curl(`http://${nodes!.address(1)}/`).startsWith("kong-stand-in"), "node b :80 served by Kong again", 60);
  }, 240_000);

  it("should keep the rules and port 80 when a node-init pod is deleted, and the new pod takes over", async () => {
    const [old] = (await nodeInitPods()).filter((p) => p.spec.nodeName === "edge-node-a");
    const node = nodes!.nodes[0]!;
    await nodes!.control.api("DELETE", `/api/v1/namespaces/edge-node-init/pods/${old!.metadata.name}`);
    let answered = 0, tableSeen = 0, checks = 0;
    await nodes!.control.waitFor(async () => {
      checks++;
      if (nodes!.curl(`http://${nodes!.address(0)}/`).startsWith("kong-stand-in")) answered++;
      if (node.hasNodeInitTable()) tableSeen++;
      return (await nodeInitPods()).some((p) => p.spec.nodeName === "edge-node-a" && p.metadata.uid !== old!.metadata.uid && ready(p));
    }, "a new Ready node-init pod on node a", 120);
    expect({ answered, tableSeen }).toEqual({ answered: checks, tableSeen: checks });
  });

  it("should keep port 80 answering while node a's kubelet and containerd restart", async () => {
    const node = nodes!.nodes[0]!;
    await node.stopComponent("kubelet");
    await node.stopComponent("containerd");
    expect(nodes!.curl(`http://${nodes!.address(0)}/`)).toMatch(/^kong-stand-in /);
    expect(node.hasNodeInitTable()).toBe(true);
    node.startContainerd();
    await node.waitFor(() => node.ctr(["version"]).status === 0, "containerd again", 60);
    node.startKubelet();
    await node.waitFor(() => node.exec("curl", ["-sf", "http://127.0.0.1:10248/healthz"]).stdout === "ok", "kubelet healthz again", 60);
    expect(nodes!.curl(`http://${nodes!.address(0)}/`)).toMatch(/^kong-stand-in /);
    expect(nodes!.curl(`https://${nodes!.address(0)}/`, ["--insecure"])).toMatch(/^kong-stand-in /);
  });

  it(`should serve every new connection to both nodes' :80 while helm upgrade rolls Kong and node-init, switching node-init from ${hostAccess} to ${hostAccess === "hostPID" ? "hostNetwork" : "hostPID"}`, async () => {
    // Kong rolls to the same image (its digest) under another tag; node-init to a changed script.
    const chart = join(nodes!.dir, "edge-upgrade");
    cpSync(scratchChart(), chart, { recursive: true });
    appendFileSync(join(chart, "files", "node-init.sh"), "# upgraded\n");
    const oldKong = new Set((await kongPods()).map((p) => p.metadata.uid));
    const oldNodeInit = new Set((await nodeInitPods()).map((p) => p.metadata.uid));
    const load = nodes!.load("kong-stand-in", 4, [0, 1].map((i) => `http://${nodes!.address(i)}/`));
    await new Promise((r) => setTimeout(r, 3000));
    // node-init also switches its access mode: the rules stay while each pod is replaced.
    const other = hostAccess === "hostPID" ? "hostNetwork" : "hostPID";
    const r = nodes!.helm(helm.path, ["upgrade", "edge", chart, ...imageValues, "--set", `kong.image.tag=${standInTag}-upgrade@${standIn.digest}`,
      "--set", `nodeInit.hostAccess=${other}`, "--wait", "--timeout", "300s"]);
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    await nodes!.control.waitFor(async () => {
      const kongNow = await kongPods(), nodeInitNow = await nodeInitPods();
      return kongNow.length >= 2 && kongNow.every((p) => !oldKong.has(p.metadata.uid) && ready(p)) &&
        nodeInitNow.length === 2 && nodeInitNow.every((p) => !oldNodeInit.has(p.metadata.uid) && ready(p));
    }, "every Kong and node-init pod replaced and Ready", 180);
    await new Promise((r) => setTimeout(r, 3000));
    const result = await load.stop();
    console.log(`nodes > ${mode}: during helm upgrade: ${result.ok} requests answered, ${result.failed} failed, longest ${result.maxMs} ms ${JSON.stringify(result.errors)}`);
    expect(result.failed, JSON.stringify(result.errors)).toBe(0);
    expect(result.ok).toBeGreaterThan(100);
  }, 420_000);

  it("should remove node-init's table from both nodes on helm uninstall, closing port 80", async () => {
    // The real API server lets node-init watch its ConfigMap by name (RBAC resourceNames on a
    // fieldSelector watch, metadata only): what tells an uninstall once the Role is gone.
    const logs = await recordNodeInitLogs();
    try {
      for (const node of nodes!.nodes) {
        await node.waitFor(() => logs.log(node.name).includes("watching node-init's ConfigMap"), "node-init watching its ConfigMap", 30)
          .catch((e: Error) => { throw new Error(`${e.message}; node-init's log on ${node.name}:\n${logs.log(node.name)}`); });
      }
      const r = await nodes!.control.helmAsync(helm.path, ["uninstall", "edge", "--wait", "--timeout", "180s"]);
      expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
      for (const node of nodes!.nodes) {
        await node.waitFor(() => !node.hasNodeInitTable(), "node-init's table to go", 60)
          .catch((e: Error) => { throw new Error(`${e.message}; node-init's log on ${node.name}:\n${logs.log(node.name)}`); });
      }
    } finally {
      logs.stop();
    }
    for (const i of [0, 1]) expect(nodes!.curl(`http://${nodes!.address(i)}/`)).toMatch(/^ERR 7 /);
  }, 240_000);
});
