/**
 * A network-namespace testbed for node-init: an external client, a node and two pods, wired with
 * veth pairs and routes, with the NodePort rules kube-proxy programs in each proxy mode and real
 * HTTP backends. Every command runs inside one of the testbed's own namespaces (`ip netns exec`);
 * nothing here touches the machine's own network namespace or PID 1.
 *
 *   client (192.0.2.10, 2001:db8:1::10)          external web server on :80/:443
 *      │ eth0
 *      │ eth0
 *   node   (192.0.2.1,  2001:db8:1::1)            kube-proxy rules: NodePort 30080/30443 → kong pod
 *          (192.0.2.2,  2001:db8:1::2: secondary addresses, a host process on :80 there)
 *      ├─ vkong ── kong pod (10.244.0.2, fd00:10:244::2)   "Kong" on :8000/:8443
 *      └─ vapp  ── app pod  (10.244.0.3, fd00:10:244::3)   a workload serving :80/:443
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { addNetns, deleteNetns, inNs, netnsName, type Process, Processes, reapStale, repoRoot, requirePrograms, shIn, viaNetns, waitFor } from "../../local/index.js";

// Every testbed runs these; a missing one fails here, naming its Debian package.
requirePrograms("ip", "nft", "curl", "iptables-nft", "iptables-nft-restore", "iptables-legacy", "iptables-legacy-save");

/** The kube-proxy mode whose rules a testbed's node holds (kube-proxy's own modes, iptables split by backend). */
export type TestbedMode = "iptables-nft" | "iptables-legacy" | "nftables" | "ipvs";

export const addr = {
  client4: "192.0.2.10", client6: "2001:db8:1::10",
  node4: "192.0.2.1", node6: "2001:db8:1::1",
  /** Secondary node addresses (a keepalived VIP, say): not primary, so kube-proxy's nftables mode serves no NodePort there. */
  secondary4: "192.0.2.2", secondary6: "2001:db8:1::2",
  kong4: "10.244.0.2", kong6: "fd00:10:244::2",
  app4: "10.244.0.3", app6: "fd00:10:244::3",
  /** A Service address kube-proxy IPVS would hold on kube-ipvs0. */
  service4: "10.96.0.10", service6: "fd00:10:96::10",
};

/** The HTTP server of the local cluster (local/server.mjs: answers "NAME PORT CLIENT-ADDRESS"). */
const server = join(repoRoot, "local", "server.mjs");

export class Testbed {
  readonly client: string;
  readonly node: string;
  readonly kong: string;
  readonly app: string;
  private readonly prefix: string;
  private workDir?: string;
  private processes?: Processes;
  private servers = 0;

  constructor(readonly mode: TestbedMode, tag?: string) {
    const kind = mode.replace("iptables-", "ipt");
    this.client = netnsName(kind, "client", tag);
    this.node = netnsName(kind, "node", tag);
    this.kong = netnsName(kind, "kong", tag);
    this.app = netnsName(kind, "app", tag);
    this.prefix = this.node.replace(/-node$/, "");
  }

  /** The testbed's scratch folder, made on first use (a suite that is filtered out makes none). */
  get dir(): string {
    this.workDir ??= mkdtempSync(join(tmpdir(), `${this.prefix}-`));
    return this.workDir;
  }

  get namespaces(): string[] {
    return [this.client, this.node, this.kong, this.app];
  }

  /** Deletes the namespaces that runs killed before their cleanup left behind (local/sys/netns.ts). */
  static reapStale(): void {
    reapStale();
  }

  /**
   * Builds the namespaces. `kongBackend: false` leaves the Kong pod's ports free for another
   * server; `kubeProxy: false` leaves out kube-proxy's rules (a node where it has not started).
   */
  async up(options: { kongBackend?: boolean; kubeProxy?: boolean } = {}): Promise<void> {
    Testbed.reapStale();
    this.down();
    addNetns(...this.namespaces);
    // Both ends are created from inside the testbed's namespaces, never in the machine's own.
    const link = (a: string, aIf: string, b: string, bIf: string) =>
      inNs(a, "ip", ["link", "add", aIf, "type", "veth", "peer", "name", bIf, "netns", b]);
    link(this.client, "eth0", this.node, "eth0");
    link(this.node, "vkong", this.kong, "eth0");
    link(this.node, "vapp", this.app, "eth0");
    shIn(this.client, `
      ip link set lo up; ip link set eth0 up
      ip addr add ${addr.client4}/24 dev eth0
      ip addr add ${addr.client6}/64 dev eth0 nodad
      ip route add 10.244.0.0/24 via ${addr.node4}
      ip -6 route add fd00:10:244::/64 via ${addr.node6}`);
    shIn(this.node, `
      sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
      ip link set lo up; ip link set eth0 up; ip link set vkong up; ip link set vapp up
      ip addr add ${addr.node4}/24 dev eth0
      ip addr add ${addr.node6}/64 dev eth0 nodad
      ip addr add ${addr.secondary4}/24 dev eth0
      ip addr add ${addr.secondary6}/64 dev eth0 nodad
      ip route add ${addr.kong4}/32 dev vkong
      ip route add ${addr.app4}/32 dev vapp
      ip -6 addr add fe80::1/64 dev vkong nodad
      ip -6 addr add fe80::1/64 dev vapp nodad
      ip -6 route add ${addr.kong6}/128 dev vkong
      ip -6 route add ${addr.app6}/128 dev vapp`);
    for (const [ns, a4, a6] of [[this.kong, addr.kong4, addr.kong6], [this.app, addr.app4, addr.app6]] as const) {
      shIn(ns, `
        ip link set lo up; ip link set eth0 up
        ip addr add ${a4}/32 dev eth0
        ip addr add ${a6}/128 dev eth0 nodad
        ip route add 169.254.1.1 dev eth0
        ip route add default via 169.254.1.1 dev eth0
        ip -6 route add default via fe80::1 dev eth0`);
    }
    // The pods' gateway 169.254.1.1 is the node's end of each veth (Calico's layout, without proxy ARP).
    shIn(this.node, "ip addr add 169.254.1.1/32 dev vkong; ip addr add 169.254.1.1/32 dev vapp");
    this.serve(this.client, [`external@${addr.client4}:80`, `external@${addr.client4}:443`, `external@[${addr.client6}]:80`, `external@[${addr.client6}]:443`]);
    if (options.kongBackend ?? true) this.serve(this.kong, [`kong@0.0.0.0:8000`, `kong@0.0.0.0:8443`, `kong@[::]:8000`, `kong@[::]:8443`]);
    else this.serve(this.kong, [`kong@0.0.0.0:8443`]);
    this.serve(this.app, [`app@0.0.0.0:80`, `app@0.0.0.0:443`, `app@[::]:80`, `app@[::]:443`]);
    this.serve(this.node, [`node@0.0.0.0:8081`, `node@[::]:8081`]);
    // A host process on :80 of the secondary addresses, where kube-proxy's nftables mode (primary
    // addresses by default) serves no NodePort: node-init must leave it alone. Elsewhere kube-proxy
    // serves every local address and node-init would withhold port 80 for it.
    if (this.mode === "nftables") this.serve(this.node, [`node-secondary@${addr.secondary4}:80`, `node-secondary@[${addr.secondary6}]:80`]);
    if (options.kubeProxy ?? true) this.installKubeProxy();
    await this.waitFor(() => this.curl(this.client, `http://${addr.kong4}:8443/`).startsWith("kong"), "kong pod reachable");
    await this.waitFor(() => this.curl(this.client, `http://[${addr.app6}]:80/`).startsWith("app"), "app pod reachable over IPv6");
    await this.waitFor(() => this.curl(this.app, `http://${addr.client4}/`).startsWith("external"), "client reachable from a pod");
  }

  /** Starts an HTTP backend inside `ns`; stopped with the testbed, or earlier by its `stop()`. */
  serve(ns: string, listeners: string[]): Process {
    this.processes ??= new Processes(this.dir);
    return this.processes.start(`server-${this.servers++}`, process.execPath, [server, ...listeners], { via: viaNetns(ns) });
  }

  /** The rules kube-proxy programs for a NodePort Service 30080→kong:8000, 30443→kong:8443. */
  installKubeProxy(): void {
    const ipt = (bin: string, kong: string) => `
      ${bin} -t nat -N KUBE-SERVICES
      ${bin} -t nat -N KUBE-NODEPORTS
      ${bin} -t nat -N KUBE-MARK-MASQ
      ${bin} -t nat -N KUBE-POSTROUTING
      ${bin} -t nat -A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
      ${bin} -t nat -A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
      ${bin} -t nat -A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
      ${bin} -t nat -A KUBE-MARK-MASQ -j MARK --or-mark 0x4000
      ${bin} -t nat -A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
      ${bin} -t nat -A KUBE-POSTROUTING -j MARK --xor-mark 0x4000
      ${bin} -t nat -A KUBE-POSTROUTING -j MASQUERADE --random-fully
      ${bin} -t nat -A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
      ${bin} -t nat -A KUBE-NODEPORTS -p tcp --dport 30080 -j KUBE-MARK-MASQ
      ${bin} -t nat -A KUBE-NODEPORTS -p tcp --dport 30080 -j DNAT --to-destination ${kong}:8000
      ${bin} -t nat -A KUBE-NODEPORTS -p tcp --dport 30443 -j KUBE-MARK-MASQ
      ${bin} -t nat -A KUBE-NODEPORTS -p tcp --dport 30443 -j DNAT --to-destination ${kong}:8443`;
    switch (this.mode) {
      case "iptables-nft":
        shIn(this.node, ipt("iptables-nft", addr.kong4) + ipt("ip6tables-nft", `[${addr.kong6}]`));
        break;
      case "iptables-legacy":
        shIn(this.node, ipt("iptables-legacy", addr.kong4) + ipt("ip6tables-legacy", `[${addr.kong6}]`));
        break;
      case "nftables": {
        // The shape of kube-proxy's nftables mode (pkg/proxy/nftables): one table per family,
        // dstnat at priority -100, NodePorts served only on the addresses of its set nodeport-ips
        // (its default --nodeport-addresses primary: the node's primary IPv4 and IPv6).
        const table = (family: string, kong: string) => `
          table ${family} kube-proxy {
            set nodeport-ips { type ${family === "ip" ? "ipv4_addr" : "ipv6_addr"}; elements = { ${family === "ip" ? addr.node4 : addr.node6} }; }
            chain mark-for-masquerade { meta mark set meta mark or 0x4000; }
            chain masquerading {
              meta mark & 0x4000 == 0 return
              meta mark set meta mark xor 0x4000
              masquerade fully-random
            }
            chain nat-prerouting { type nat hook prerouting priority -100; policy accept; jump services; }
            chain nat-output { type nat hook output priority -100; policy accept; jump services; }
            chain nat-postrouting { type nat hook postrouting priority 100; policy accept; jump masquerading; }
            chain services { ${family} daddr @nodeport-ips jump nodeports; }
            chain nodeports {
              tcp dport 30080 jump mark-for-masquerade
              tcp dport 30080 dnat to ${kong}:8000
              tcp dport 30443 jump mark-for-masquerade
              tcp dport 30443 dnat to ${kong}:8443
            }
          }`;
        const file = join(this.dir, "kube-proxy.nft");
        writeFileSync(file, table("ip", addr.kong4) + table("ip6", `[${addr.kong6}]`));
        inNs(this.node, "nft", ["-f", file]);
        break;
      }
      case "ipvs":
        // IPVS cannot run on this kernel. What matters to node-init is simulated: kube-proxy's
        // interface kube-ipvs0 holding Service addresses (local, but not the node's; a dummy
        // interface in real clusters, a veth here since this kernel lacks the dummy driver), and
        // NodePorts answered after PREROUTING (IPVS hooks LOCAL_IN) — here by a process on the
        // node listening on the NodePorts, which is exactly where a REDIRECT delivers. Like the
        // real mode it also keeps iptables nat rules (masquerading), so the kernel's NAT hooks
        // stay registered and NAT bindings outlive node-init's own nat chains.
        shIn(this.node, `
          iptables-nft -t nat -N KUBE-POSTROUTING
          iptables-nft -t nat -A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
          iptables-nft -t nat -A KUBE-POSTROUTING -m mark --mark 0x4000/0x4000 -j MASQUERADE --random-fully
          ip6tables-nft -t nat -N KUBE-POSTROUTING
          ip6tables-nft -t nat -A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
          ip6tables-nft -t nat -A KUBE-POSTROUTING -m mark --mark 0x4000/0x4000 -j MASQUERADE --random-fully
          ip link add kube-ipvs0 type veth peer name kube-ipvs0-peer
          ip link set kube-ipvs0 up; ip link set kube-ipvs0-peer up
          ip addr add ${addr.service4}/32 dev kube-ipvs0
          ip addr add ${addr.service6}/128 dev kube-ipvs0 nodad`);
        this.serve(this.node, [`kong-ipvs@0.0.0.0:30080`, `kong-ipvs@0.0.0.0:30443`, `kong-ipvs@[::]:30080`, `kong-ipvs@[::]:30443`,
          `service@${addr.service4}:80`, `service@[${addr.service6}]:80`]);
        break;
    }
  }

  /**
   * The rules CNI's portmap plugin writes for a pod with hostPort `port`, DNAT to the app pod. Its
   * iptables backend (nf_tables): CNI-HOSTPORT-DNAT jumps to a CNI-DN- chain; its nftables backend:
   * chain hostports of table ip cni_hostport, at priority dstnat.
   */
  addHostPort(port: number, backend: "iptables" | "nftables" = "iptables"): void {
    if (backend === "nftables") {
      // What portmap's nftables backend (CNI plugins >= 1.5) writes for a pod's hostPort.
      shIn(this.node, `nft -f - <<'EOF'
table ip cni_hostport {
  chain hostports {
    tcp dport ${port} dnat to ${addr.app4}:80 comment "0123456789abcdef"
  }
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    fib daddr type local jump hostports
  }
  chain output {
    type nat hook output priority -100; policy accept;
    fib daddr type local jump hostports
  }
}
EOF`);
      return;
    }
    shIn(this.node, `
      iptables-nft -t nat -N CNI-HOSTPORT-DNAT
      iptables-nft -t nat -N CNI-DN-0123456789abcdef
      iptables-nft -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
      iptables-nft -t nat -A CNI-HOSTPORT-DNAT -p tcp -m multiport --dports ${port} -j CNI-DN-0123456789abcdef
      iptables-nft -t nat -A CNI-DN-0123456789abcdef -p tcp -m tcp --dport ${port} -j DNAT --to-destination ${addr.app4}:80`);
  }

  removeHostPort(backend: "iptables" | "nftables" = "iptables"): void {
    if (backend === "nftables") {
      inNs(this.node, "nft", ["delete", "table", "ip", "cni_hostport"]);
      return;
    }
    shIn(this.node, `
      iptables-nft -t nat -D PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
      iptables-nft -t nat -F CNI-HOSTPORT-DNAT; iptables-nft -t nat -F CNI-DN-0123456789abcdef
      iptables-nft -t nat -X CNI-HOSTPORT-DNAT; iptables-nft -t nat -X CNI-DN-0123456789abcdef`);
  }

  /** GETs `url` from inside `ns` on a new connection; returns the body or "ERR <curl exit>". */
  curl(ns: string, url: string, extra: string[] = []): string {
    const r = inNs(ns, "curl", ["-sS", "--max-time", "2", "--noproxy", "*", ...extra, url], { allowFail: true });
    return r.status === 0 ? r.stdout.trim() : `ERR ${r.status}`;
  }

  /** The node's whole ruleset: nftables (all tables) plus legacy iptables, without counters. */
  ruleset(): string {
    const nft = inNs(this.node, "nft", ["-s", "list", "ruleset"]).stdout;
    const legacy = inNs(this.node, "iptables-legacy-save", [], { allowFail: true }).stdout + inNs(this.node, "ip6tables-legacy-save", [], { allowFail: true }).stdout;
    return `${nft}\n${legacy.replace(/^#.*$/gm, "").replace(/\[\d+:\d+\]/g, "")}`;
  }

  /** Polls `cond` every 100 ms; the default allows for a loaded 2-core machine. */
  waitFor(cond: () => boolean, what: string, seconds = 20): Promise<void> {
    return waitFor(cond, `testbed: ${what}`, { seconds, everyMs: 100 });
  }

  down(): void {
    // Every process inside dies with its namespace, the servers included.
    deleteNetns(...this.namespaces);
  }

  destroy(): void {
    this.down();
    if (this.workDir) rmSync(this.workDir, { recursive: true, force: true });
    this.workDir = undefined;
  }
}
