/**
 * A real Kubernetes control plane as local processes: etcd, kube-apiserver (Pod Security
 * admission on, as in every cluster since 1.25), kube-controller-manager and kube-scheduler from
 * tools/install.sh's pinned builds, with kwok simulating three nodes (or a fleet of `kwokNodes`)
 * and the lifecycle of the pods scheduled onto them (or, with `{ kwok: false }`, no nodes: real
 * ones register themselves, nodes.ts). Everything listens on 127.0.0.1 only, runs from a
 * temporary directory, and is stopped by `stop()` (logs are kept there when asked).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ApiClient, type ApiResponse } from "./api.js";
import { kubeconfig } from "./kubeconfig.js";
import { Processes, run, runAsync, type Run } from "./sys/process.js";
import { freePort } from "./sys/ports.js";
import { requirePrograms, tool, toolData } from "./sys/tools.js";
import { waitFor } from "./sys/wait.js";

function openssl(dir: string, args: string[]): void {
  const r = run(requirePrograms("openssl").openssl, args, { cwd: dir });
  if (r.status !== 0) throw new Error(`openssl ${args.join(" ")}: ${r.stderr}`);
}

/** CA, API server serving certificate, admin client certificate and service-account key pair. */
function certificates(dir: string): void {
  openssl(dir, ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=edge-test-ca"]);
  const leaf = (name: string, subject: string, ext: string) => {
    writeFileSync(join(dir, `${name}.ext`), ext);
    openssl(dir, ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subject]);
    openssl(dir, ["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${name}.crt`, "-days", "2", "-extfile", `${name}.ext`]);
  };
  leaf("apiserver", "/CN=kube-apiserver", "subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n");
  leaf("admin", "/CN=edge-test-admin/O=system:masters", "extendedKeyUsage=clientAuth\n");
  openssl(dir, ["genrsa", "-out", "sa.key", "2048"]);
  openssl(dir, ["rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub"]);
}

export class ControlPlane {
  readonly dir = mkdtempSync(join(tmpdir(), "edge-cluster-"));
  readonly kubeconfig = join(this.dir, "admin.kubeconfig");
  readonly nodes: string[];
  private readonly processes = new Processes(this.dir);
  /** The API server's port on 127.0.0.1, once started. */
  apiPort = 0;
  /** The admin's API client. */
  readonly client = new ApiClient({ port: () => this.apiPort, ca: join(this.dir, "ca.crt"), cert: join(this.dir, "admin.crt"), key: join(this.dir, "admin.key") });

  /** Milliseconds kwok waits before it makes a pod Ready (what a real node's start and probes take). */
  private readonly podReadyDelayMs: number;

  constructor(options: { kwok?: boolean; kwokNodes?: number; podReadyDelayMs?: number } = {}) {
    const count = options.kwok ?? true ? options.kwokNodes ?? 3 : 0;
    this.nodes = count <= 3 ? ["edge-node-a", "edge-node-b", "edge-node-c"].slice(0, count)
      : Array.from({ length: count }, (_, i) => `edge-node-${String(i).padStart(4, "0")}`);
    this.podReadyDelayMs = options.podReadyDelayMs ?? 0;
  }
  /** Seconds from start() until the API server was ready and the nodes registered. */
  startSeconds = 0;

  async start(): Promise<void> {
    const started = performance.now();
    certificates(this.dir);
    const [etcdClient, etcdPeer, api, cm, sched, kwokPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort(), freePort()]);
    this.apiPort = api;
    const d = (f: string) => join(this.dir, f);
    writeFileSync(this.kubeconfig, kubeconfig({ server: `https://127.0.0.1:${api}`, ca: d("ca.crt"), cert: d("admin.crt"), key: d("admin.key") }));
    this.spawn("etcd", [
      "--name=edge-test", `--data-dir=${d("etcd")}`, "--unsafe-no-fsync",
      `--listen-client-urls=http://127.0.0.1:${etcdClient}`, `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`, `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=edge-test=http://127.0.0.1:${etcdPeer}`,
    ]);
    this.spawn("kube-apiserver", [
      `--etcd-servers=http://127.0.0.1:${etcdClient}`,
      "--bind-address=127.0.0.1", `--secure-port=${api}`, "--advertise-address=127.0.0.1",
      "--endpoint-reconciler-type=none",
      `--client-ca-file=${d("ca.crt")}`, `--tls-cert-file=${d("apiserver.crt")}`, `--tls-private-key-file=${d("apiserver.key")}`,
      "--service-account-issuer=https://kubernetes.default.svc", `--service-account-key-file=${d("sa.pub")}`,
      `--service-account-signing-key-file=${d("sa.key")}`,
      "--service-cluster-ip-range=10.96.0.0/16", "--authorization-mode=Node,RBAC",
      // PodSecurity is on by default; named here so the test does not depend on that default.
      "--enable-admission-plugins=NamespaceLifecycle,ServiceAccount,PodSecurity,DefaultTolerationSeconds,Priority",
      // node-init's pods use hostPID/hostNetwork: a cluster must allow privileged pods for it.
      "--allow-privileged=true",
    ]);
    await this.waitFor(async () => (await this.api("GET", "/readyz")).status === 200, "kube-apiserver ready", 90);
    this.spawn("kube-controller-manager", [
      `--kubeconfig=${this.kubeconfig}`, `--authentication-kubeconfig=${this.kubeconfig}`, `--authorization-kubeconfig=${this.kubeconfig}`,
      "--leader-elect=false", "--bind-address=127.0.0.1", `--secure-port=${cm}`,
      `--service-account-private-key-file=${d("sa.key")}`, `--root-ca-file=${d("ca.crt")}`,
      "--use-service-account-credentials=false", "--controllers=*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller",
      "--node-monitor-grace-period=60s",
    ]);
    this.spawn("kube-scheduler", [
      `--kubeconfig=${this.kubeconfig}`, `--authentication-kubeconfig=${this.kubeconfig}`, `--authorization-kubeconfig=${this.kubeconfig}`,
      "--leader-elect=false", "--bind-address=127.0.0.1", `--secure-port=${sched}`,
    ]);
    if (this.nodes.length) await this.startKwok(kwokPort);
    this.startSeconds = (performance.now() - started) / 1000;
  }

  /** kwok and the nodes it simulates. */
  private async startKwok(kwokPort: number): Promise<void> {
    this.spawn("kwok", [
      `--kubeconfig=${this.kubeconfig}`, "--manage-all-nodes=false",
      "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
      "--manage-nodes-with-label-selector=", "--disregard-status-with-annotation-selector=kwok.x-k8s.io/status=custom",
      "--cidr=10.244.0.0/16", "--node-ip=127.0.0.1", "--server-address=127.0.0.1:" + kwokPort,
      // Node leases, which the heartbeat-with-lease stage below relies on (kwokctl's default, 40 s):
      // without them a node's only heartbeat is its status, about once a minute, and the node
      // lifecycle controller marks it unknown after --node-monitor-grace-period and every pod on
      // it not Ready, for good (kwok sets a pod Ready once).
      "--node-lease-duration-seconds=40",
      `--config=${this.stagesFile()}`,
    ]);
    for (const name of this.nodes) await this.addKwokNode(name);
    await this.waitFor(async () => {
      const r = await this.api("GET", "/api/v1/nodes");
      const items = (r.body as { items?: { status?: { conditions?: { type: string; status: string }[] } }[] }).items ?? [];
      return items.filter((n) => n.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True")).length === this.nodes.length;
    }, `${this.nodes.length} kwok nodes Ready`, 60 + this.nodes.length / 10);
  }

  private async addKwokNode(name: string): Promise<void> {
    const r = await this.api("POST", "/api/v1/nodes", {
      apiVersion: "v1", kind: "Node",
      metadata: {
        name,
        annotations: { "kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0" },
        labels: { "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", type: "kwok" },
      },
      spec: {},
      // kwok's defaults, plus the local disk every kubelet reports (pods may request it).
      status: {
        capacity: { cpu: "1k", memory: "1Ti", pods: "1M", "ephemeral-storage": "1Ti" },
        allocatable: { cpu: "1k", memory: "1Ti", pods: "1M", "ephemeral-storage": "1Ti" },
      },
    });
    if (r.status !== 201) throw new Error(`cluster: creating node ${name}: ${JSON.stringify(r.body)}`);
  }


  /**
   * kwok's own default stages (the ones kwokctl gives it), as tools/install.sh copied them from
   * the kwok release it built: nodes initialize and heartbeat through leases; pods become Ready,
   * complete, and go away when deleted. One change: kwok completes only Job pods, and a `helm test`
   * hook is a bare pod with restartPolicy Never, so such pods complete too. With podReadyDelayMs,
   * pods become Ready that long after they were scheduled, as on a real node.
   */
  private stagesFile(): string {
    const stages = toolData("kwok/stage");
    const read = (path: string) => readFileSync(join(stages, path), "utf8");
    const podComplete = read("pod/fast/pod-complete.yaml")
      .replace("- key: '.metadata.ownerReferences.[].kind'\n      operator: 'In'\n      values:\n      - 'Job'",
        "- key: '.spec.restartPolicy'\n      operator: 'In'\n      values:\n      - 'Never'");
    if (podComplete === read("pod/fast/pod-complete.yaml")) throw new Error("cluster: kwok's pod-complete stage changed shape; update local/control-plane.ts");
    const podReady = this.podReadyDelayMs
      ? read("pod/fast/pod-ready.yaml").replace(/^spec:\n/m, `spec:\n  delay:\n    durationMilliseconds: ${this.podReadyDelayMs}\n`)
      : read("pod/fast/pod-ready.yaml");
    const file = join(this.dir, "kwok-stages.yaml");
    writeFileSync(file, [
      read("node/fast/node-initialize.yaml"),
      read("node/heartbeat-with-lease/node-heartbeat-with-lease.yaml"),
      podReady,
      podComplete,
      read("pod/fast/pod-delete.yaml"),
    ].join("\n---\n"));
    return file;
  }

  private spawn(name: string, args: string[]): void {
    this.processes.start(name, tool(name), args);
  }

  /** A request to the API server as the admin user (see `client` for apply, get, patch). */
  api(method: string, path: string, body?: unknown, contentType = "application/json"): Promise<ApiResponse> {
    return this.client.request(method, path, body, contentType);
  }

  private helmEnv(): NodeJS.ProcessEnv {
    return { ...process.env, KUBECONFIG: this.kubeconfig, HELM_CACHE_HOME: join(this.dir, "helm-cache"), HELM_CONFIG_HOME: join(this.dir, "helm-config"), HELM_DATA_HOME: join(this.dir, "helm-data") };
  }

  /** `helm <args>` against this cluster. */
  helm(helmPath: string, args: string[]): Run {
    return run(helmPath, args, { env: this.helmEnv() });
  }

  /** `helm <args>` without blocking, so a test can watch the cluster meanwhile. */
  helmAsync(helmPath: string, args: string[]): Promise<Run> {
    return runAsync(helmPath, args, { env: this.helmEnv() });
  }

  waitFor(cond: () => Promise<boolean>, what: string, seconds = 60): Promise<void> {
    return waitFor(cond, `the control plane: ${what}`, { seconds, logs: join(this.dir, "logs") });
  }

  /** Stops every process; keeps the directory (logs) when `keepLogs`. */
  async stop(keepLogs = false): Promise<void> {
    await this.processes.stopAll();
    if (!keepLogs) rmSync(this.dir, { recursive: true, force: true });
    else console.log(`control plane: logs kept in ${join(this.dir, "logs")}`);
  }
}
