/**
 * Argo CD for real against a local control plane (control-plane.ts): its application
 * controller and repo-server, built by `sh tools/install.sh argocd` at ARGOCD_VERSION, and Redis,
 * run as local processes on 127.0.0.1, with Argo CD's own CRDs and configuration objects from that
 * release's manifests (manifests/crds, manifests/core-install.yaml, which tools/install.sh copies
 * into .tools/share/argocd when it builds Argo CD). The
 * repo-server renders charts with the pinned Helm 4 (tools/versions.env) as its `helm`.
 *
 * What differs from an installation in the cluster, and why:
 * - The processes run on this machine, not in pods (kwok's nodes run no containers). They reach
 *   the API server with the test admin's kubeconfig through ARGOCD_FAKE_IN_CLUSTER, Argo CD's own
 *   switch for running outside a pod (its Procfile); in a cluster the controller's ClusterRole in
 *   core-install.yaml grants it every verb on every resource, so nothing is allowed here that is
 *   denied there.
 * - No argocd-server (API, UI, webhooks): the tests act as its webhook does, through the refresh
 *   annotation, and read the Application's status; it also creates the `default` AppProject, so
 *   this fixture creates it as the server would.
 * - No ApplicationSet CRD or controller: nothing here uses ApplicationSets.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parseAllDocuments } from "yaml";
import type { KubeObject } from "./api.js";
import type { ControlPlane } from "./control-plane.js";
import { toolsDir } from "./sys/paths.js";
import { Processes } from "./sys/process.js";
import { freePort } from "./sys/ports.js";
import { requirePrograms, tool, toolData } from "./sys/tools.js";

export const ARGOCD_NAMESPACE = "argocd";

/** One managed resource in an Application's status. */
export interface ResourceStatus {
  group?: string;
  version: string;
  kind: string;
  namespace?: string;
  name: string;
  status?: string;
  health?: { status: string; message?: string };
  hook?: boolean;
  requiresPruning?: boolean;
}

/** The parts of an Application's status the tests read. */
export interface Application extends KubeObject {
  spec: Record<string, unknown>;
  status?: {
    sync?: { status: string; revision?: string };
    health?: { status: string };
    resources?: ResourceStatus[];
    conditions?: { type: string; message: string }[];
    reconciledAt?: string;
    operationState?: {
      phase: string; message?: string; startedAt?: string; finishedAt?: string;
      operation?: { sync?: { resources?: { group?: string; kind: string; name: string; namespace?: string }[] } };
      syncResult?: { revision: string };
    };
    history?: { id: number; revision: string; deployedAt: string }[];
  };
}

export class ArgoCD {
  readonly dir = mkdtempSync(join(tmpdir(), "edge-argocd-"));
  private readonly daemons = new Processes(this.dir);
  private readonly programs = requirePrograms("redis-server", "git");
  private readonly ports = { redis: 0, repoServer: 0, repoServerMetrics: 0, controllerMetrics: 0 };
  /** Seconds start() took from the CRDs to a running controller. */
  startSeconds = 0;

  constructor(readonly cluster: ControlPlane) {}

  async start(): Promise<void> {
    const started = performance.now();
    const argocd = tool("argocd");
    const helm = tool("helm4");
    const release = toolData("argocd");
    for (const [k] of Object.entries(this.ports)) this.ports[k as keyof typeof this.ports] = await freePort();

    // Argo CD's CRDs, then its namespace and configuration objects as core-install.yaml has them.
    for (const crd of ["application-crd.yaml", "appproject-crd.yaml"]) {
      for (const o of this.parse(readFileSync(join(release, "manifests", "crds", crd), "utf8"))) await this.cluster.client.apply(o);
    }
    await this.cluster.waitFor(async () => (await this.cluster.api("GET", `/apis/argoproj.io/v1alpha1/namespaces/${ARGOCD_NAMESPACE}/applications`)).status === 200, "Argo CD's CRDs served");
    this.cluster.client.forgetDiscovery();
    await this.cluster.client.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: ARGOCD_NAMESPACE } });
    const config = this.parse(readFileSync(join(release, "manifests", "core-install.yaml"), "utf8"))
      .filter((o) => o.kind === "ConfigMap" || o.kind === "Secret");
    if (!config.some((o) => o.metadata.name === "argocd-cm")) throw new Error("argocd: core-install.yaml has no argocd-cm; update local/argocd.ts");
    for (const o of config) await this.cluster.client.apply({ ...o, metadata: { ...o.metadata, namespace: ARGOCD_NAMESPACE } });
    // The project argocd-server creates on its first start (server.go, its default AppProject).
    await this.cluster.client.apply({
      apiVersion: "argoproj.io/v1alpha1", kind: "AppProject", metadata: { name: "default", namespace: ARGOCD_NAMESPACE },
      spec: { sourceRepos: ["*"], destinations: [{ server: "*", namespace: "*" }], clusterResourceWhitelist: [{ group: "*", kind: "*" }] },
    });

    // Redis, Argo CD's cache: loopback only, nothing persisted.
    this.daemons.start("redis", this.programs["redis-server"], [
      "--bind", "127.0.0.1", "--port", String(this.ports.redis), "--save", "", "--appendonly", "no", "--dir", this.dir,
    ]);
    // The repo-server's PATH as in Argo CD's image: `helm` (the pinned Helm 4), the scripts the
    // Dockerfile copies from hack/ to /usr/local/bin (it runs git-verify-wrapper.sh on every
    // revision, and fails a render without it), `argocd` (git's askpass helper) and git.
    const path = join(this.dir, "bin");
    mkdirSync(path);
    symlinkSync(helm, join(path, "helm"));
    const env = this.env({ PATH: [path, join(release, "hack"), join(toolsDir, "bin"), dirname(this.programs.git), process.env.PATH].join(":") });
    this.daemons.start("repo-server", argocd, [
      "--address", "127.0.0.1", "--port", String(this.ports.repoServer),
      "--metrics-address", "127.0.0.1", "--metrics-port", String(this.ports.repoServerMetrics),
      "--redis", `127.0.0.1:${this.ports.redis}`, "--loglevel", "info",
    ], { env: { ...env, ARGOCD_BINARY_NAME: "argocd-repo-server" } });
    await this.startController();
    await this.cluster.waitFor(async () => await this.healthy(this.ports.repoServerMetrics), "Argo CD repo-server healthy", 60);
    this.startSeconds = (performance.now() - started) / 1000;
  }

  /**
   * Trusts `caFile` for TLS to `hostname` (a repository's host, without port), as the
   * argocd-tls-certs-cm ConfigMap does once mounted at ARGOCD_TLS_DATA_PATH: a file named by the host.
   */
  trustTls(hostname: string, caFile: string): void {
    mkdirSync(join(this.dir, "config", "tls"), { recursive: true });
    copyFileSync(caFile, join(this.dir, "config", "tls", hostname));
  }

  /** Process environment of an Argo CD component: everything it writes stays under this.dir. */
  private env(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
    const d = (p: string) => {
      mkdirSync(join(this.dir, p), { recursive: true });
      return join(this.dir, p);
    };
    return {
      ...process.env,
      HOME: d("home"), TMPDIR: d("tmp"),
      GIT_CONFIG_NOSYSTEM: "1",
      KUBECONFIG: this.cluster.kubeconfig, ARGOCD_FAKE_IN_CLUSTER: "true",
      ARGOCD_TLS_DATA_PATH: d("config/tls"), ARGOCD_SSH_DATA_PATH: d("config/ssh"),
      ARGOCD_GNUPGHOME: d("config/gpg/keys"), ARGOCD_GPG_DATA_PATH: d("config/gpg/source"), ARGOCD_GPG_ENABLED: "false",
      ARGOCD_PLUGINSOCKFILEPATH: d("plugins"), ARGOCD_ASK_PASS_SOCK: join(d("tmp"), "reposerver-ask-pass.sock"),
      ...extra,
    };
  }

  private async healthy(metricsPort: number): Promise<boolean> {
    try {
      return (await fetch(`http://127.0.0.1:${metricsPort}/healthz`)).ok;
    } catch {
      return false;
    }
  }

  /** Starts the application controller (its shard 0 of 1, as the StatefulSet's first pod). */
  async startController(): Promise<void> {
    this.daemons.start("application-controller", tool("argocd"), [
      "--namespace", ARGOCD_NAMESPACE,
      "--repo-server", `127.0.0.1:${this.ports.repoServer}`, "--redis", `127.0.0.1:${this.ports.redis}`,
      "--metrics-port", String(this.ports.controllerMetrics), "--loglevel", "info",
      // Each resource's health in the Application's status (Argo CD 2's default; Argo CD 3 keeps
      // it only in its Redis resource tree, which the API server reads): the tests read it there.
      "--persist-resource-health",
    ], { env: this.env({ ARGOCD_BINARY_NAME: "argocd-application-controller", HOSTNAME: "argocd-application-controller-0" }) });
    await this.cluster.waitFor(async () => await this.healthy(this.ports.controllerMetrics), "Argo CD application controller healthy", 60);
  }

  /** Stops the application controller (SIGTERM, as the kubelet does) and starts it again. */
  async restartController(): Promise<void> {
    await this.daemons.stop("application-controller", 30);
    await this.startController();
  }

  private parse(text: string): KubeObject[] {
    return parseAllDocuments(text).map((d) => d.toJS() as KubeObject | null).filter((o): o is KubeObject => !!o?.kind);
  }

  async application(name: string): Promise<Application | undefined> {
    return this.cluster.client.get<Application>("argoproj.io/v1alpha1", "Application", name, ARGOCD_NAMESPACE);
  }

  /**
   * Asks for a refresh as argocd-server's API and Git webhooks do (the refresh annotation) and
   * waits until the controller has compared again.
   */
  async refresh(name: string, type: "normal" | "hard"): Promise<Application> {
    const r = await this.cluster.client.patch("argoproj.io/v1alpha1", "Application", name, ARGOCD_NAMESPACE, { metadata: { annotations: { "argocd.argoproj.io/refresh": type } } });
    if (r.status !== 200) throw new Error(`argocd: refreshing ${name}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
    let app: Application | undefined;
    await this.cluster.waitFor(async () => {
      app = await this.application(name);
      // The controller removes the annotation with the status of the comparison it asked for.
      return !!app && !app.metadata.annotations?.["argocd.argoproj.io/refresh"];
    }, `Application ${name} refreshed (${type})`, 120);
    return app!;
  }

  /** Waits until `cond` holds for Application `name`; the error names its last status. */
  async waitForApplication(name: string, what: string, cond: (app: Application) => boolean, seconds = 180): Promise<Application> {
    let app: Application | undefined;
    try {
      await this.cluster.waitFor(async () => {
        app = await this.application(name);
        return !!app && cond(app);
      }, `Application ${name}: ${what}`, seconds);
    } catch (e) {
      throw new Error(`${(e as Error).message}\nlast status: ${JSON.stringify(app?.status ?? app ?? null, null, 1)}`);
    }
    return app!;
  }

  /** Lines of a component's log matching `pattern`. */
  logLines(component: "application-controller" | "repo-server" | "redis", pattern: RegExp): string[] {
    return this.daemons.log(component).split("\n").filter((l) => pattern.test(l));
  }

  /** Stops every process; keeps the directory (logs) when `keepLogs`. */
  async stop(keepLogs = false): Promise<void> {
    await this.daemons.stopAll();
    if (!keepLogs) rmSync(this.dir, { recursive: true, force: true });
    else console.log(`argocd: logs kept in ${join(this.dir, "logs")}`);
  }
}
