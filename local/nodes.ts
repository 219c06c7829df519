/**
 * A Kubernetes cluster on real nodes, on one machine: the control plane of control-plane.ts
 * (without kwok) and N nodes of node.ts, each running containerd, kubelet and
 * kube-proxy in a kube-proxy mode, plus a client. Every network namespace is the fixture's own:
 *
 *   client (192.0.2.10) ──┐
 *   node a (192.0.2.11) ──┼── lan: a bridge in a namespace of its own (192.0.2.1, the default gateway)
 *   node b (192.0.2.12) ──┘
 *   pods of node a: 10.244.1.0/24 (CNI bridge cni0 on node a), node b: 10.244.2.0/24; each node
 *   routes the other's pod subnet to it.
 *
 * The control plane listens on 127.0.0.1 of the machine's namespace, which no node can reach: a
 * forwarder there serves it on a unix socket, and one inside each node serves that on the node's
 * :6443 (kubelet and kube-proxy use 127.0.0.1:6443; pods use the `kubernetes` Service, whose
 * endpoints are the nodes' :6443). Images come from archives built here — pause, node-init's
 * image, and the Kong stand-in (images/kong-stand-in: NOT Kong, it serves what the Kong pod spec
 * asks of its image) — pushed to a registry on the lan (registry.ts, CNCF Distribution over
 * HTTPS at the lan's address :5000), which every node's containerd uses as a mirror of the
 * registries those images name (ghcr.io, edge.test): the nodes pull them, names unchanged.
 *
 * `stop()` ends every process (a node's PID 1 takes its containers with it) and removes every
 * namespace and cgroup, however the test ended; nothing it makes is in the machine's namespaces.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ControlPlane } from "./control-plane.js";
import { goImage, type NodeImage, pinnedName } from "./images.js";
import { kubeconfig } from "./kubeconfig.js";
import { cgroupRootOf, leftCgroupRoots, Node, type PortmapBackend, type ProxyMode, removeCgroups } from "./node.js";
import { Registry } from "./registry.js";
import { addNetns, deleteNetns, inNs, netnsName, reapStale, shIn, viaNetns } from "./sys/netns.js";
import { Processes, type Run, run } from "./sys/process.js";

export const lan = { gateway: "192.0.2.1", client: "192.0.2.10", nodeBase: 11, prefix: "192.0.2" };
export const clusterCidr = "10.244.0.0/16";

export interface LoadResult {
  ok: number;
  failed: number;
  errors: Record<string, number>;
  /** The longest response time, in milliseconds. */
  maxMs: number;
}

export interface NodeClusterOptions {
  nodes?: number;
  mode: ProxyMode;
  /** Images the nodes pull besides pause (node-init's, the Kong stand-in). */
  images?: NodeImage[];
  /** Tells the namespaces of two clusters of one process apart (sys/netns.ts names them). */
  tag?: string;
  /** CNI portmap's backend on every node (default iptables). */
  portmap?: PortmapBackend;
}

export class NodeCluster {
  readonly control = new ControlPlane({ kwok: false });
  readonly dir = mkdtempSync(join(tmpdir(), "edge-nodes-"));
  readonly nodes: Node[] = [];
  readonly lanNs: string;
  readonly client: string;
  /** The registry every node pulls its images from, on the lan. */
  readonly registry: Registry;
  /** The pause image, every pod's sandbox: pulled by digest (set by start()). */
  pause?: NodeImage;
  /** The API forwarder, and servers and load the tests start on the client or a node. */
  private readonly processes = new Processes(this.dir);
  /** Seconds from start() until every node was Ready. */
  startSeconds = 0;
  private loads = 0;

  constructor(readonly options: NodeClusterOptions) {
    this.lanNs = this.netns("lan");
    this.client = this.netns("client");
    this.registry = new Registry({ netns: this.lanNs, address: lan.gateway, port: 5000 });
  }

  get kubeconfig(): string { return this.control.kubeconfig; }
  private netns(role: string): string { return netnsName("nodes", role, this.options.tag); }
  get namespaces(): string[] { return [this.lanNs, this.client, ...this.nodes.map((n) => n.options.netns)]; }
  /** The address of node `i`. */
  address(i: number): string { return `${lan.prefix}.${lan.nodeBase + i}`; }

  /**
   * Removes what runs of this cluster left when their process was killed (SIGKILL leaves no
   * cleanup; a node's processes die with the run, by their parent-death signal): the namespaces
   * of owners that are gone (sys/netns.ts), then the cgroups of nodes whose namespace is gone.
   */
  static reapStale(): void {
    reapStale();
    for (const netns of leftCgroupRoots()) if (!existsSync(`/run/netns/${netns}`)) removeCgroups(cgroupRootOf(netns));
  }

  async start(): Promise<void> {
    const started = performance.now();
    NodeCluster.reapStale();
    const count = this.options.nodes ?? 2;
    const pause = this.pause = goImage("pause");
    await this.control.start();
    const apiSocket = join(this.dir, "api.sock");
    this.processes.start("api-forward", process.execPath, [join(import.meta.dirname, "forward.mjs"), apiSocket, `127.0.0.1:${this.control.apiPort}`]);
    const d = (f: string) => join(this.control.dir, f);
    for (let i = 0; i < count; i++) {
      const letter = String.fromCharCode(97 + i);
      const dir = join(this.dir, letter);
      mkdirSync(dir, { recursive: true });
      this.nodes.push(new Node({
        name: `edge-node-${letter}`, netns: this.netns(letter), address: this.address(i),
        podCidr: `10.244.${i + 1}.0/24`, clusterCidr, dir, ca: d("ca.crt"), cert: d("admin.crt"), key: d("admin.key"),
        apiSocket, mode: this.options.mode, portmap: this.options.portmap,
      }));
    }
    this.wire();
    await this.registry.start();
    const upstreams = new Set([pause, ...(this.options.images ?? [])].map((image) => this.push(image)));
    for (const n of this.nodes) for (const upstream of upstreams) this.registry.hostsToml(n.registryConfigPath, upstream);
    await Promise.all(this.nodes.map((n) => n.start(pinnedName(pause))));
    await this.apiEndpoints();
    await this.control.waitFor(async () => (await this.readyNodes()).length === count, `${count} nodes Ready`, 180);
    this.startSeconds = (performance.now() - started) / 1000;
  }

  /**
   * Pushes an image to the lan's registry under its name without the registry host
   * (ghcr.io/edge-chart/edge-node-init:0.1.0 → <lan registry>/edge-chart/edge-node-init:0.1.0), as
   * `oras cp` fills a mirror; returns that host, which the nodes then mirror.
   */
  private push(image: NodeImage): string {
    const m = /^([^/]+)\/(.+):([^:/]+)$/.exec(image.name);
    if (!m) throw new Error(`${image.archive}: image name ${image.name} has no registry host and tag to push it under`);
    const digest = this.registry.pushArchive(image.archive, m[3]!, m[2]!);
    if (digest !== image.digest) throw new Error(`${image.name}: the registry serves ${digest}, the archive records ${image.digest}`);
    return m[1]!;
  }

  /** The lan bridge, the client and each node's link, addresses and routes to the other pod subnets. */
  private wire(): void {
    addNetns(...this.namespaces);
    // The lan's own address is the nodes' default gateway, as a router would be: a node process
    // (node-init's API check) reaches Service addresses through it before kube-proxy's DNAT.
    shIn(this.lanNs, `ip link set lo up; ip link add br0 type bridge; ip link set br0 up; ip addr add ${lan.gateway}/24 dev br0`);
    const attach = (ns: string, port: string, address: string) => {
      inNs(this.lanNs, "ip", ["link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns]);
      shIn(this.lanNs, `ip link set ${port} master br0; ip link set ${port} up`);
      shIn(ns, `ip link set lo up; ip link set eth0 up; ip addr add ${address}/24 dev eth0; ip route add default via ${lan.gateway}`);
    };
    attach(this.client, "client", lan.client);
    this.nodes.forEach((n, i) => attach(n.options.netns, `node${i}`, n.options.address));
    for (const n of this.nodes) {
      for (const other of this.nodes.filter((o) => o !== n)) inNs(n.options.netns, "ip", ["route", "add", other.options.podCidr, "via", other.options.address]);
      // The client reaches pod addresses too (the benchmark compares them with the node's ports).
      inNs(this.client, "ip", ["route", "add", n.options.podCidr, "via", n.options.address]);
    }
  }

  /** The `kubernetes` Service's endpoints: each node's API forwarder (the API server has none of its own here). */
  private async apiEndpoints(): Promise<void> {
    const addresses = this.nodes.map((n) => ({ ip: n.options.address }));
    const r = await this.control.api("POST", "/api/v1/namespaces/default/endpoints", {
      apiVersion: "v1", kind: "Endpoints", metadata: { name: "kubernetes" },
      subsets: [{ addresses, ports: [{ name: "https", port: 6443, protocol: "TCP" }] }],
    });
    if (r.status !== 201 && r.status !== 409) throw new Error(`kubernetes endpoints: ${JSON.stringify(r.body)}`);
    const s = await this.control.api("POST", "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices", {
      apiVersion: "discovery.k8s.io/v1", kind: "EndpointSlice",
      metadata: { name: "kubernetes", labels: { "kubernetes.io/service-name": "kubernetes", "endpointslice.kubernetes.io/managed-by": "edge.test" } },
      addressType: "IPv4", endpoints: this.nodes.map((n) => ({ addresses: [n.options.address], conditions: { ready: true } })),
      ports: [{ name: "https", port: 6443, protocol: "TCP" }],
    });
    if (s.status !== 201 && s.status !== 409) throw new Error(`kubernetes endpointslice: ${JSON.stringify(s.body)}`);
  }

  /** Names of the nodes whose Ready condition is True. */
  async readyNodes(): Promise<string[]> {
    const r = await this.control.api("GET", "/api/v1/nodes");
    const items = (r.body as { items?: { metadata: { name: string }; status?: { conditions?: { type: string; status: string }[] } }[] }).items ?? [];
    return items.filter((n) => n.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True")).map((n) => n.metadata.name);
  }

  /** GETs `url` from the client on a new connection; the body, or "ERR <curl exit>". */
  curl(url: string, extra: string[] = []): string {
    const r = inNs(this.client, "curl", ["-sS", "--max-time", "3", "--noproxy", "*", ...extra, url], { allowFail: true });
    return r.status === 0 ? r.stdout.trim() : `ERR ${r.status} ${r.stderr.trim()}`;
  }

  /** Serves HTTP on the client's address (server.mjs: answers "NAME PORT CLIENT-ADDRESS"). */
  serveOnClient(name: string, port: number): void {
    this.processes.start(`server-${name}`, process.execPath, [join(import.meta.dirname, "server.mjs"), `${name}@${lan.client}:${port}`],
      { via: viaNetns(this.client) });
  }

  /**
   * Serves HTTP as a host process of node `i` (outside any pod: an nginx left on the node) on the
   * node's address; returns what ends it.
   */
  serveOnNode(i: number, name: string, port: number): () => void {
    const server = this.processes.start(`server-${name}`, process.execPath, [join(import.meta.dirname, "server.mjs"), `${name}@${this.address(i)}:${port}`],
      { via: viaNetns(this.nodes[i]!.options.netns) });
    return () => server.signal("SIGKILL");
  }

  /**
   * Runs a pod on `node` (default namespace) until it ends; returns what its container wrote to
   * stdout, read from the node's pod logs (the API server cannot reach a kubelet here).
   */
  async runPod(node: string, name: string, image: string, command: string[]): Promise<string> {
    const created = await this.control.api("POST", "/api/v1/namespaces/default/pods", {
      apiVersion: "v1", kind: "Pod", metadata: { name },
      spec: { nodeName: node, restartPolicy: "Never", containers: [{ name: "main", image, imagePullPolicy: "Never", command }] },
    });
    if (created.status !== 201) throw new Error(`pod ${name}: ${JSON.stringify(created.body)}`);
    const uid = (created.body as { metadata: { uid: string } }).metadata.uid;
    await this.control.waitFor(async () => {
      const phase = ((await this.control.api("GET", `/api/v1/namespaces/default/pods/${name}`)).body as { status?: { phase?: string } }).status?.phase;
      return phase === "Succeeded" || phase === "Failed";
    }, `pod ${name} to end`, 90);
    const n = this.nodes.find((x) => x.name === node)!;
    const log = readFileSync(join(n.options.dir, "var-log", "pods", `default_${name}_${uid}`, "main", "0.log"), "utf8");
    await this.control.api("DELETE", `/api/v1/namespaces/default/pods/${name}`);
    // CRI log lines: "<time> stdout|stderr F|P <text>".
    return log.split("\n").filter((l) => / stdout [FP] /.test(l)).map((l) => l.replace(/^\S+ stdout [FP] /, "")).join("\n");
  }

  /**
   * Starts new-connection load from the client (load.mjs) against `urls`; `stop()` ends it and
   * returns its counts and longest response time (its last line).
   */
  load(expect: string, workers: number, urls: string[]): { stop: () => Promise<LoadResult> } {
    const name = `load-${this.loads++}`;
    const load = this.processes.start(name, process.execPath, [join(import.meta.dirname, "load.mjs"), expect, String(workers), ...urls],
      { via: viaNetns(this.client) });
    return {
      stop: async () => {
        await load.stop();
        const out = load.log().trim().split("\n").at(-1) ?? "";
        try { return JSON.parse(out) as LoadResult; } catch { throw new Error(`load: ${load.log()}`); }
      },
    };
  }

  /** `helm <args>` against the cluster. */
  helm(helmPath: string, args: string[]): Run {
    return this.control.helm(helmPath, args);
  }

  /**
   * `helm <args>` from the lan, as an operator's machine there runs it: it reaches the registry
   * (trusting its CA) and the API server through node a's :6443 (whose certificate names
   * `kubernetes`, not the node's address).
   */
  helmOnLan(helmPath: string, args: string[]): Run {
    const lanKubeconfig = join(this.dir, "lan.kubeconfig");
    const d = (f: string) => join(this.control.dir, f);
    writeFileSync(lanKubeconfig, kubeconfig({ server: `https://${this.address(0)}:6443`, tlsServerName: "kubernetes", ca: d("ca.crt"), cert: d("admin.crt"), key: d("admin.key") }));
    const home = (f: string) => join(this.dir, "lan-helm", f);
    return this.registry.client(helmPath, args, {
      env: { KUBECONFIG: lanKubeconfig, HELM_CACHE_HOME: home("cache"), HELM_CONFIG_HOME: home("config"), HELM_DATA_HOME: home("data") },
    });
  }

  /** What stop() left: namespaces, cgroups or processes of this cluster (empty when it removed everything). */
  leftovers(): string[] {
    const netns = run("ip", ["netns", "list"]).stdout;
    return [
      ...this.namespaces.filter((ns) => new RegExp(`^${ns}\\b`, "m").test(netns)).map((ns) => `network namespace ${ns}`),
      ...this.nodes.flatMap((n) => readdirSync("/sys/fs/cgroup").map((h) => join("/sys/fs/cgroup", h, n.cgroupRoot)).filter((d) => existsSync(d))),
      ...this.nodes.filter((n) => n.pid && existsSync(`/proc/${n.pid}`)).map((n) => `node ${n.name} PID 1 (${n.pid})`),
    ];
  }

  /** Ends every node, the control plane and the forwarder; removes the namespaces and folders. */
  async stop(keepLogs = false): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop().catch((e) => console.error(e))));
    await this.processes.stopAll(0);
    await this.registry.stop();
    deleteNetns(...this.namespaces);
    await this.control.stop(keepLogs);
    if (!keepLogs) rmSync(this.dir, { recursive: true, force: true });
    else console.log(`nodes: logs kept in ${this.dir}/*/logs`);
  }
}
