/**
 * A real Kubernetes node as local processes: containerd (with runc and the CNI plugins), kubelet
 * and kube-proxy from tools/install.sh's pinned builds (group `node`), as kind runs them inside its
 * node containers. There is no container engine here, so the node is made of namespaces:
 *
 * - a network namespace of its own (made by the caller, nodes.ts), entered with
 *   nsenter (not `ip netns exec`, which would remount /sys and lose the cgroup mounts runc needs);
 * - PID, mount, UTS and IPC namespaces whose PID 1 (`sleep`) holds them: every node process is
 *   started inside them, and when PID 1 dies the kernel kills every process of the node —
 *   containerd's shims and the containers too — however the test ends;
 * - in that mount namespace (private propagation: nothing reaches the machine's): a tmpfs /run,
 *   and /var/lib (kubelet, containerd, CNI state) and /var/log (pod logs) bound from the node's
 *   folder;
 * - /proc/sys read-only but for /proc/sys/net (per network namespace): the kernel settings kubelet
 *   checks (vm.overcommit_memory, kernel.panic, …) are machine-wide, and nothing here may write
 *   them. kubelet runs with protectKernelDefaults (it never writes them, and would refuse to start
 *   where they differ from what it wants), and the node sees the values it wants through files
 *   bound over those entries — the machine's own values stay as they are (the tests check).
 * - its pods' cgroups under a cgroup root of its own below the test's own memory cgroup, removed
 *   on stop.
 *
 * Found on these machines: the machine withholds CAP_SYS_RESOURCE, so runc fails with "can't get
 * final child's PID from pipe: EOF" (failed to update /proc/self/oom_score_adj: Permission denied)
 * unless containerd's CRI sets restrict_oom_score_adj; cgroup v1 (hybrid), which kubelet 1.34
 * accepts with a warning; no IPVS in this kernel (kube-proxy runs in iptables or nftables mode).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { kubeconfig } from "./kubeconfig.js";
import { toolsDir } from "./sys/paths.js";
import { type Process, Processes, type Run, run } from "./sys/process.js";
import { requirePrograms, tool } from "./sys/tools.js";
import { waitFor } from "./sys/wait.js";

const cniBin = join(toolsDir, "cni");

export type ProxyMode = "iptables" | "nftables";

export interface NodeOptions {
  /** The Kubernetes node name, also its hostname. */
  name: string;
  /** Its network namespace (ip netns), wired by the caller. */
  netns: string;
  /** Its address, on which kubelet registers it. */
  address: string;
  /** The pod subnet its CNI bridge hands out. */
  podCidr: string;
  /** The cluster's pod network (kube-proxy's --cluster-cidr). */
  clusterCidr: string;
  /** Its folder: configuration, state, logs. */
  dir: string;
  /** The control plane's CA and an admin client certificate and key (files). */
  ca: string;
  cert: string;
  key: string;
  /** The unix socket that reaches the API server (forward.mjs). */
  apiSocket: string;
  mode: ProxyMode;
  /** The backend of CNI portmap (hostPorts): its iptables chains (default) or its nftables table. */
  portmap?: PortmapBackend;
}

export type PortmapBackend = "iptables" | "nftables";

/** The sysctls kubelet checks (pkg/kubelet/cm setupKernelTunables) and the values it wants. */
export const kubeletSysctls: Record<string, string> = {
  "vm/overcommit_memory": "1",
  "vm/panic_on_oom": "0",
  "kernel/panic": "10",
  "kernel/panic_on_oops": "1",
  "kernel/keys/root_maxkeys": "1000000",
  "kernel/keys/root_maxbytes": "25000000",
};

/** The test's own cgroup (its memory cgroup: the others are the machine's root here). */
function ownCgroup(): string {
  const line = readFileSync("/proc/self/cgroup", "utf8").split("\n").find((l) => /^\d+:memory:/.test(l));
  return line ? line.split(":")[2]!.replace(/\/$/, "") : "";
}

export class Node {
  readonly containerdSocket: string;
  readonly cgroupRoot: string;
  private readonly processes: Processes;
  private holder?: Process;
  /** PID (in the machine's PID namespace) of the node's PID 1. */
  pid = 0;
  /** The cgroup folders this node made (its root and the parents that were missing). */
  private createdCgroups: string[] = [];

  constructor(readonly options: NodeOptions) {
    requirePrograms("nsenter", "unshare", "setpriv", "mount", "ip", "nft", "iptables-nft", "conntrack");
    this.containerdSocket = join(options.dir, "containerd.sock");
    this.processes = new Processes(options.dir);
    this.cgroupRoot = cgroupRootOf(options.netns);
  }

  get name(): string { return this.options.name; }
  /** containerd's registry configuration folder (certs.d): one folder per registry host. */
  get registryConfigPath(): string { return this.path("certs.d"); }
  private path(...p: string[]): string { return join(this.options.dir, ...p); }

  /**
   * Starts the node's namespaces, containerd, kubelet and kube-proxy. containerd pulls every image,
   * `sandboxImage` (pause) included, from the registries its `registryConfigPath` configures.
   */
  async start(sandboxImage: string): Promise<void> {
    const o = this.options;
    for (const d of ["var-lib", "var-log", "logs", "sysctl", "cni/net.d", "certs.d"]) mkdirSync(this.path(d), { recursive: true });
    this.writeConfigs(sandboxImage);
    await this.startHolder();
    this.component("api-forward", process.execPath, [join(import.meta.dirname, "forward.mjs"), "0.0.0.0:6443", o.apiSocket]);
    this.startContainerd();
    await this.waitFor(() => this.ctr(["version"]).status === 0, "containerd");
    this.createdCgroups = createCgroups(this.cgroupRoot);
    this.startKubelet();
    this.startKubeProxy();
  }

  private writeConfigs(sandboxImage: string): void {
    const o = this.options;
    writeFileSync(this.path("kubeconfig"), kubeconfig({ server: "https://127.0.0.1:6443", ca: o.ca, cert: o.cert, key: o.key }));
    // containerd 2.x, CRI on: runc from .tools (cgroupfs, as kubelet is configured), the CNI
    // plugins from .tools/cni, and restrict_oom_score_adj (no CAP_SYS_RESOURCE here).
    writeFileSync(this.path("containerd.toml"), `version = 3
root = "/var/lib/containerd"
state = "/run/containerd"
[grpc]
  address = "${this.containerdSocket}"
[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = "${sandboxImage}"
  # Registries the node pulls from: a hosts.toml per registry host (registry.ts, hostsToml).
  [plugins.'io.containerd.cri.v1.images'.registry]
    config_path = "${this.registryConfigPath}"
[plugins.'io.containerd.cri.v1.runtime']
  restrict_oom_score_adj = true
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = "runc"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = "${tool("runc")}"
        SystemdCgroup = false
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ["${cniBin}"]
    conf_dir = "${this.path("cni", "net.d")}"
`);
    // A bridge per node with host-local addresses from the node's pod subnet; portmap for hostPorts.
    writeFileSync(this.path("cni", "net.d", "10-edge.conflist"), JSON.stringify({
      cniVersion: "1.0.0", name: "edge",
      plugins: [
        { type: "bridge", bridge: "cni0", isGateway: true, ipMasq: true, hairpinMode: true,
          ipam: { type: "host-local", ranges: [[{ subnet: o.podCidr }]], routes: [{ dst: "0.0.0.0/0" }] } },
        { type: "portmap", capabilities: { portMappings: true }, backend: o.portmap ?? "iptables" },
      ],
    }, null, 2));
    writeFileSync(this.path("kubelet.yaml"), `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: ${o.address}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
authentication: {anonymous: {enabled: false}, webhook: {enabled: true}, x509: {clientCAFile: "${o.ca}"}}
authorization: {mode: Webhook}
containerRuntimeEndpoint: unix://${this.containerdSocket}
cgroupDriver: cgroupfs
cgroupRoot: ${this.cgroupRoot}
# Never write the machine-wide kernel settings (the node shows kubelet the values it wants).
protectKernelDefaults: true
failSwapOn: false
resolvConf: /etc/resolv.conf
clusterDomain: cluster.local
serializeImagePulls: false
# Each image is pulled once per node: image garbage collection must not remove one a test needs again.
imageGCHighThresholdPercent: 100
evictionHard: {memory.available: "1Mi", nodefs.available: "1%", imagefs.available: "1%"}
kernelMemcgNotification: false
`);
    writeFileSync(this.path("kube-proxy.yaml"), `apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: "${this.path("kubeconfig")}"}
hostnameOverride: ${o.name}
mode: ${o.mode}
clusterCIDR: ${o.clusterCidr}
bindAddress: 0.0.0.0
healthzBindAddress: 0.0.0.0:10256
metricsBindAddress: 127.0.0.1:10249
# The conntrack settings kube-proxy would write (nf_conntrack_max is machine-wide) are left alone.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
oomScoreAdj: 0
`);
    for (const [key, value] of Object.entries(kubeletSysctls)) writeFileSync(this.path("sysctl", key.replaceAll("/", ".")), `${value}\n`);
  }

  /** PID 1 of the node's PID, mount, UTS and IPC namespaces, inside its network namespace. */
  private async startHolder(): Promise<void> {
    const o = this.options;
    const sysctls = Object.keys(kubeletSysctls).map((k) => `mount --bind -o ro "$0/sysctl/${k.replaceAll("/", ".")}" /proc/sys/${k}`).join("\n");
    const setup = `set -e
hostname "$1"
mount -t tmpfs -o mode=755 tmpfs /run
mount --bind "$0/var-lib" /var/lib
mount --bind "$0/var-log" /var/log
mount --bind /proc/sys /proc/sys
mount -o remount,bind,ro /proc/sys
mount --bind /proc/sys/net /proc/sys/net
mount -o remount,bind,rw /proc/sys/net
${sysctls}
echo 1 > /proc/sys/net/ipv4/ip_forward
touch "$0/started"
exec sleep infinity`;
    // The runner's parent-death signal: unshare dies with this process however it ends;
    // --kill-child: PID 1 dies with unshare, and with it every process of the node.
    this.holder = this.processes.start("holder", "unshare", ["--pid", "--fork", "--kill-child", "--mount", "--uts", "--ipc",
      "--propagation", "private", "--mount-proc", "--", "sh", "-c", setup, o.dir, o.name], { via: ["nsenter", `--net=/run/netns/${o.netns}`, "--"] });
    await this.waitFor(() => existsSync(this.path("started")) || !this.holder!.running(), "the node's namespaces", 20);
    if (!this.holder.running()) throw new Error(`node ${o.name}: namespaces failed: ${this.holder.log()}`);
    this.pid = childOf(this.holder.child.pid!);
  }

  /** Runs `cmd args` as a node process (in all of the node's namespaces); its output goes to logs/NAME.log. */
  component(name: string, cmd: string, args: string[]): void {
    this.processes.start(name, cmd, args, {
      via: ["nsenter", "--target", String(this.pid), "--net", "--pid", "--mount", "--uts", "--ipc", "--"],
      env: { ...process.env, PATH: `${join(toolsDir, "bin")}:${process.env.PATH}` },
    });
  }

  startContainerd(): void {
    this.component("containerd", tool("containerd"), ["--config", this.path("containerd.toml")]);
  }

  startKubelet(): void {
    const o = this.options;
    this.component("kubelet", tool("kubelet"), [`--config=${this.path("kubelet.yaml")}`, `--kubeconfig=${this.path("kubeconfig")}`,
      `--hostname-override=${o.name}`, `--node-ip=${o.address}`, "--root-dir=/var/lib/kubelet", "--v=1"]);
  }

  startKubeProxy(): void {
    this.component("kube-proxy", tool("kube-proxy"), [`--config=${this.path("kube-proxy.yaml")}`, "--v=1"]);
  }

  /** Stops one node process (SIGTERM, then SIGKILL after 10 s) and waits for it to end. */
  stopComponent(name: string): Promise<void> {
    return this.processes.stop(name);
  }

  /** ctr against this node's containerd, from inside the node (`tasks exec` makes its FIFOs in the node's /run). */
  ctr(args: string[]): Run {
    return this.exec(tool("ctr"), ["--address", this.containerdSocket, ...args]);
  }

  /** Runs `cmd args` inside the node's namespaces and waits for it. */
  exec(cmd: string, args: string[] = [], input?: string): Run {
    return run("nsenter", ["--target", String(this.pid), "--net", "--pid", "--mount", "--uts", "--ipc", "--", cmd, ...args], input === undefined ? {} : { input });
  }

  /** The PID of a container's main process in the node's PID namespace, by container ID. */
  containerPid(containerId: string): string {
    const task = this.ctr(["-n", "k8s.io", "tasks", "ls"]).stdout.split("\n").find((l) => l.startsWith(containerId));
    if (!task) throw new Error(`node ${this.name}: no task ${containerId}`);
    return task.split(/\s+/)[1]!;
  }

  /** The status (/proc/PID/status) and root mount options of a container's main process, by container ID. */
  containerProcess(containerId: string): { status: Record<string, string>; rootMount: string } {
    const pid = this.containerPid(containerId);
    // The node's /proc is that of its PID namespace, where the shims report their containers' PIDs.
    const status = Object.fromEntries(this.exec("cat", [`/proc/${pid}/status`]).stdout.split("\n")
      .filter((l) => l.includes(":")).map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1).trim()]));
    const root = this.exec("cat", [`/proc/${pid}/mountinfo`]).stdout.split("\n").find((l) => l.split(" ")[4] === "/");
    return { status, rootMount: root?.split(" ")[5] ?? "" };
  }

  /** What container `container` of pod `pod` in `namespace` logged on this node (kubelet's files: gone with the pod). */
  podLog(namespace: string, pod: string, container: string): string {
    const pods = this.path("var-log", "pods");
    return readdirSync(pods).filter((d) => d.startsWith(`${namespace}_${pod}_`)).flatMap((d) => {
      const dir = join(pods, d, container);
      return existsSync(dir) ? readdirSync(dir).map((f) => readFileSync(join(dir, f), "utf8")) : [];
    }).join("");
  }

  /** Whether node-init's nftables table is in the node's network namespace. */
  hasNodeInitTable(): boolean {
    return this.exec("nft", ["list", "table", "inet", "edge_node_init"]).status === 0;
  }

  /** Ends every process of the node (PID 1 first: the kernel kills the rest) and its cgroups. */
  async stop(): Promise<void> {
    for (const name of ["kube-proxy", "kubelet"]) await this.stopComponent(name);
    if (this.pid) { try { process.kill(this.pid, "SIGKILL"); } catch { /* gone */ } }
    await this.processes.stopAll(0);
    // Processes of a dying PID namespace take a moment to be reaped.
    await this.waitFor(() => !this.pid || !existsSync(`/proc/${this.pid}`), "its PID 1 to be reaped", 10).catch(() => undefined);
    removeCgroups(this.cgroupRoot, this.createdCgroups);
  }

  waitFor(cond: () => boolean, what: string, seconds = 60): Promise<void> {
    return waitFor(cond, `node ${this.options.name}: ${what}`, { seconds, everyMs: 200, logs: this.path("logs") });
  }
}

/** The (first) child process of `pid`; throws when it has none within 5 s. */
function childOf(pid: number): number {
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      const children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim();
      if (children) return Number(children.split(/\s+/)[0]);
    } catch { /* not yet, or gone */ }
    if (Date.now() > deadline) throw new Error(`process ${pid} has no child`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
}

const cgroupBase = "/sys/fs/cgroup";

/**
 * Creates the cgroup `root` (and its missing parents) in every cgroup v1 hierarchy, as kubelet
 * wants its cgroup root to exist; a new cpuset gets its parent's CPUs and memory nodes. Returns
 * the folders it created, parents first.
 */
export function createCgroups(root: string): string[] {
  const created: string[] = [];
  for (const hierarchy of readdirSync(cgroupBase)) {
    if (hierarchy === "unified") continue;
    let dir = join(cgroupBase, hierarchy);
    for (const part of root.split("/").filter(Boolean)) {
      const parent = dir;
      dir = join(dir, part);
      if (existsSync(dir)) continue;
      mkdirSync(dir);
      created.push(dir);
      if (hierarchy === "cpuset") {
        for (const f of ["cpuset.cpus", "cpuset.mems"]) writeFileSync(join(dir, f), readFileSync(join(parent, f)));
      }
    }
  }
  return created;
}

/**
 * Removes the cgroup `root` and everything below it in every hierarchy, the cgroup v2 one of a
 * hybrid machine included (runc makes the containers' cgroups there too), deepest first; then
 * the parents createCgroups made (`created`), where empty.
 */
export function removeCgroups(root: string, created: readonly string[] = []): void {
  const remove = (dir: string) => {
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) remove(join(dir, entry.name));
    try { rmdirSync(dir); } catch { /* still busy: the caller's checks report it */ }
  };
  if (root) for (const hierarchy of readdirSync(cgroupBase)) remove(join(cgroupBase, hierarchy, root));
  for (const dir of [...created].reverse()) remove(dir);
}

/** Network namespace names of the node cgroup roots (edge-nodes-…) below the test's own cgroup, in any hierarchy. */
export function leftCgroupRoots(): string[] {
  const names = readdirSync(cgroupBase).flatMap((h) => {
    const dir = join(cgroupBase, h, ownCgroup());
    return existsSync(dir) ? readdirSync(dir).filter((d) => d.startsWith("edge-nodes-")) : [];
  });
  return [...new Set(names)];
}

/** The cgroup root of the node whose network namespace is `netns`. */
export const cgroupRootOf = (netns: string): string => `${ownCgroup()}/${netns}`;
