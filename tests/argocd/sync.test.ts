/**
 * argocd > sync: argocd/edge.yaml, then argocd/edge-managed-namespace.yaml, as shipped (only the
 * repoURL pointed at a Git server on loopback serving this repository with the Kong chart vendored
 * in charts/), synced by Argo CD's own application controller and repo-server
 * (local/argocd.ts) into a real control plane with three kwok nodes
 * (local/control-plane.ts), serving the resource metrics API as metrics-server would
 * (local/metrics-api.ts: without it the real Kong chart's HPA turns Degraded 15 s after
 * its first scaling, and the Application with it). What kwok cannot show: containers do not run,
 * so that node-init removes its rules when its DaemonSet is deleted is tested in tests/testbed;
 * here, that Argo CD deletes the DaemonSet. Last, the same Application from the chart package in an
 * OCI registry (tests/registry: `helm push oci://`), as a release publishes it.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { parse, parseAllDocuments, stringify } from "yaml";
import { type Application, ArgoCD, ARGOCD_NAMESPACE, ControlPlane, GitServer, helms, kongChart, type KubeObject, MetricsApi, Registry, removeScratchCharts, type ResourceStatus, run, scratchChart } from "../../local/index.js";
import { type K8sObject } from "../lib/chart.js";
import { repoRoot } from "../lib/paths.js";

const kong = kongChart();
console.log(`argocd > sync: Kong chart = ${kong.kind} (${kong.path})`);
const helm4 = helms.find((h) => h.name === "helm4")!;

const APP = "edge";
const shipped = parse(readFileSync(join(repoRoot, "argocd", "edge.yaml"), "utf8")) as Application & {
  spec: {
    source: { repoURL: string; targetRevision: string; path: string; helm: { releaseName: string; valueFiles: string[] } };
    destination: { server: string; namespace: string };
  };
};

/** This repository as a user's fork holds it: the chart, its presets, argocd/, Kong in charts/. */
function repositoryTree(): string {
  const tree = mkdtempSync(join(tmpdir(), "edge-repo-"));
  cpSync(scratchChart({ kong }), tree, { recursive: true });
  for (const f of [".helmignore", "argocd"]) cpSync(join(repoRoot, f), join(tree, f), { recursive: true });
  return tree;
}

const key = (r: { group?: string; kind: string; namespace?: string; name: string }) => `${r.group ?? ""}/${r.kind}/${r.namespace ?? ""}/${r.name}`;
const synced = (app: Application) => app.status?.sync?.status === "Synced";
const outOfSync = (app: Application) => (app.status?.resources ?? []).filter((r) => r.status !== "Synced").map(key);
const unhealthy = (app: Application) => (app.status?.resources ?? []).filter((r) => r.health && r.health.status !== "Healthy").map((r) => `${key(r)}: ${r.health!.status} ${r.health!.message ?? ""}`);

describe("argocd > sync", () => {
  const cluster = new ControlPlane();
  const metrics = new MetricsApi(cluster);
  const git = new GitServer();
  const argocd = new ArgoCD(cluster);
  let failed = false;
  let revision = "";
  let tree = "";

  beforeAll(async () => {
    try {
      await cluster.start();
      await metrics.start();
      await git.start();
      tree = repositoryTree();
      revision = git.commit("edge", tree, "edge");
      await argocd.start();
    } catch (e) {
      failed = true;
      throw e;
    }
    console.log(`argocd > sync: control plane in ${cluster.startSeconds.toFixed(1)} s, Argo CD in ${argocd.startSeconds.toFixed(1)} s`);
  }, 300_000);
  afterEach((context) => {
    if (context.task.result?.state === "fail") failed = true;
  });
  afterAll(async () => {
    await argocd.stop(failed);
    await git.stop(failed);
    await cluster.stop(failed);
    await metrics.stop();
    if (tree) rmSync(tree, { recursive: true, force: true });
    removeScratchCharts();
  }, 120_000);

  /** The shipped Application with its repoURL pointed at the local Git server, and `changes`. */
  const application = (valueFiles = shipped.spec.source.helm.valueFiles): KubeObject => ({
    ...shipped,
    spec: { ...shipped.spec, source: { ...shipped.spec.source, repoURL: git.url("edge"), helm: { ...shipped.spec.source.helm, valueFiles } } },
  });

  /** What each managed object looks like to a writer: generation where the API keeps one, else resourceVersion. */
  const writes = async (app: Application) => {
    const out: Record<string, string> = {};
    for (const r of app.status?.resources ?? []) {
      const o = await cluster.client.get(r.group ? `${r.group}/${r.version}` : r.version, r.kind, r.name, r.namespace);
      out[key(r)] = o ? String(o.metadata.generation ?? o.metadata.resourceVersion) : "absent";
    }
    return out;
  };

  /** Synced with no resource out of sync, and every sync Argo CD ran is `history` (no new one). */
  const expectStillSynced = (app: Application, history: number) => {
    expect(app.status?.sync?.status).toBe("Synced");
    expect(app.status?.sync?.revision).toBe(revision);
    expect(outOfSync(app)).toEqual([]);
    expect(app.status?.history ?? []).toHaveLength(history);
  };

  it("should sync the shipped Application to Synced and Healthy, every rendered object Synced", async () => {
    expect(shipped.spec.source.targetRevision).toBe("main");
    const started = performance.now();
    await cluster.client.apply(application());
    const app = await argocd.waitForApplication(APP, "Synced and Healthy", (a) => synced(a) && a.status?.health?.status === "Healthy" && a.status?.operationState?.phase === "Succeeded", 240);
    console.log(`argocd > sync: Synced and Healthy ${((performance.now() - started) / 1000).toFixed(1)} s after the Application was created (revision ${revision.slice(0, 12)})`);
    expect(app.status?.sync?.revision).toBe(revision);
    expect(outOfSync(app)).toEqual([]);
    expect(unhealthy(app)).toEqual([]);
    expect(app.status?.history).toHaveLength(1);
  }, 300_000);

  it("should manage exactly what `helm template --include-crds` renders with the cluster's API versions, without the Helm test hook", async () => {
    const app = (await argocd.application(APP))!;
    // The flags Argo CD's repo-server adds: the target cluster's version and API versions (the
    // real Kong chart renders its IngressClass only when the cluster serves it) and the chart's
    // CRDs; `helm template` alone gives neither.
    const kubeVersion = ((await cluster.api("GET", "/version")).body as { gitVersion: string }).gitVersion;
    const args = ["template", "edge", scratchChart({ kong }), "--namespace", shipped.spec.destination.namespace, "--include-crds", "--kube-version", kubeVersion,
      ...shipped.spec.source.helm.valueFiles.flatMap((f) => ["-f", join(repoRoot, f)]), ...(await cluster.client.apiVersions()).flatMap((v) => ["--api-versions", v])];
    const r = run(helm4.path, args);
    expect(r.status, r.stderr).toBe(0);
    const all = parseAllDocuments(r.stdout).map((d) => d.toJS() as K8sObject | null).filter((o): o is K8sObject => !!o);
    // The only Helm hook in the render is the test pod, which Argo CD skips: nothing depends on a
    // hook Argo CD ignores.
    const hook = (o: K8sObject) => o.metadata.annotations?.["helm.sh/hook"];
    expect(all.filter(hook).map((o) => `${o.kind}/${o.metadata.name}: ${hook(o)}`)).toEqual(["Pod/edge-proxy-test: test"]);
    const rendered = all.filter((o) => !hook(o));
    const groupOf = (o: K8sObject) => (o.apiVersion.includes("/") ? o.apiVersion.split("/")[0] : "");
    const expected = rendered.map((o) => key({ group: groupOf(o), kind: o.kind, namespace: o.metadata.namespace, name: o.metadata.name })).sort();
    expect((app.status?.resources ?? []).map(key).sort()).toEqual(expected);
    // The chart's test hook: not among the resources, never created.
    expect((app.status?.resources ?? []).filter((r: ResourceStatus) => r.kind === "Pod")).toEqual([]);
    expect(await cluster.client.get("v1", "Pod", "edge-proxy-test", "kong")).toBeUndefined();
  });

  it("should run node-init on every kwok node (the DaemonSet Healthy because its pods are Ready)", async () => {
    const ds = await cluster.client.get<KubeObject & { status: { numberReady: number; desiredNumberScheduled: number } }>("apps/v1", "DaemonSet", "edge-node-init", "edge-node-init");
    expect(ds?.status.desiredNumberScheduled).toBe(3);
    expect(ds?.status.numberReady).toBe(3);
    for (const ns of ["kong", "edge-node-init"]) {
      const o = await cluster.client.get("v1", "Namespace", ns);
      expect(o?.metadata.labels?.["pod-security.kubernetes.io/enforce"]).toBe(ns === "kong" ? "restricted" : "privileged");
    }
  });

  it("should still be Synced, with nothing written, after a hard refresh", async () => {
    const before = (await argocd.application(APP))!;
    const written = await writes(before);
    const app = await argocd.refresh(APP, "hard");
    expectStillSynced(app, 1);
    expect(unhealthy(app)).toEqual([]);
    expect(app.status?.health?.status).toBe("Healthy");
    expect(await writes(app)).toEqual(written);
  });

  it("should still be Synced, with nothing written, after the application controller restarts", async () => {
    const before = (await argocd.application(APP))!;
    const written = await writes(before);
    await argocd.restartController();
    // A restarted controller compares again when the status expires (timeout.reconciliation, 120 s
    // by default) or on request: a refresh makes it compare from its new cache now.
    const app = await argocd.refresh(APP, "normal");
    expectStillSynced(app, 1);
    expect(unhealthy(app)).toEqual([]);
    expect(app.status?.health?.status).toBe("Healthy");
    expect(await writes(app)).toEqual(written);
  });

  it.runIf(kong.kind === "real")("should leave Kong's replicas to the HPA: scaled up, no diff after a hard refresh, not reverted (real Kong chart)", async () => {
    const deployment = ["apps/v1", "Deployment", "edge-kong", "kong"] as const;
    type Scaled = KubeObject & { spec: { replicas?: number } };
    type Hpa = KubeObject & { spec: { minReplicas: number; maxReplicas: number }; status?: { conditions?: { type: string; status: string }[] } };
    const getHpa = () => cluster.client.get<Hpa>("autoscaling/v2", "HorizontalPodAutoscaler", "edge-kong", "kong");
    const hpa = await getHpa();
    expect(hpa).toBeDefined();
    await cluster.waitFor(async () => (await cluster.client.get<Scaled>(...deployment))?.spec.replicas === hpa!.spec.minReplicas, "the HPA at its minimum");
    // Past its first scaling the HPA reads CPU usage (the metrics API) and stays Healthy.
    await cluster.waitFor(async () => (await getHpa())?.status?.conditions?.some((c) => c.type === "ScalingActive" && c.status === "True") === true, "the HPA reading CPU usage");
    const before = (await argocd.application(APP))!;
    // What the HPA controller writes when it scales: the Deployment's scale subresource.
    const replicas = hpa!.spec.minReplicas + 1;
    expect(replicas).toBeLessThanOrEqual(hpa!.spec.maxReplicas);
    const r = await cluster.client.patch(...deployment, { spec: { replicas } }, "/scale");
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const app = await argocd.refresh(APP, "hard");
    expectStillSynced(app, 1);
    expect(unhealthy(app)).toEqual([]);
    expect(app.status?.operationState?.startedAt).toBe(before.status?.operationState?.startedAt);
    // Longer than self-heal's first back-off (2 s): Argo CD never acts on it.
    await new Promise((res) => setTimeout(res, 5000));
    expect((await cluster.client.get<Scaled>(...deployment))?.spec.replicas).toBe(replicas);
    expect((await argocd.application(APP))!.status?.operationState?.startedAt).toBe(before.status?.operationState?.startedAt);
  }, 300_000);

  it("should put back a NetworkPolicy changed by hand (self-heal)", async () => {
    const path = ["networking.k8s.io/v1", "NetworkPolicy", "edge-kong-ingress", "kong"] as const;
    const original = (await cluster.client.get<KubeObject & { spec: unknown }>(...path))!;
    const changed = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    const r = await cluster.client.patch(...path, { spec: { ingress: [{}] } });
    expect(r.status).toBe(200);
    expect(((await cluster.client.get<KubeObject & { spec: unknown }>(...path))!).spec).not.toEqual(original.spec);
    await cluster.waitFor(async () => JSON.stringify((await cluster.client.get<KubeObject & { spec: unknown }>(...path))?.spec) === JSON.stringify(original.spec), "the NetworkPolicy put back", 120);
    // A sync of the drifted object alone (Argo CD records no history entry for it).
    const app = await argocd.waitForApplication(APP, "Synced after self-heal", (a) => synced(a) && a.status?.operationState?.phase === "Succeeded" && (a.status?.operationState?.startedAt ?? "") >= changed);
    expect(outOfSync(app)).toEqual([]);
    expect(app.status?.operationState?.operation?.sync?.resources?.map((r) => `${r.kind}/${r.name}`)).toEqual(["NetworkPolicy/edge-kong-ingress"]);
    expect(app.status?.history).toHaveLength(1);
  }, 300_000);

  it("should sync a value changed in Git (a new commit of the preset file) in place, no namespace recreated", async () => {
    const uid = async (name: string) => (await cluster.client.get("v1", "Namespace", name))?.metadata.uid;
    const uids = { kong: await uid("kong"), nodeInit: await uid("edge-node-init") };
    // The user's fork changes one value in the preset its Application reads, and pushes.
    const [presetFile] = shipped.spec.source.helm.valueFiles;
    const preset = parse(readFileSync(join(tree, presetFile!), "utf8")) as { nodeInit: Record<string, unknown> };
    preset.nodeInit.resyncSeconds = 60;
    writeFileSync(join(tree, presetFile!), stringify(preset));
    const pushed = git.commit("edge", tree, "node-init: resync every minute");
    expect(pushed).not.toBe(revision);
    revision = pushed;
    // A Git webhook asks for a refresh; the automated sync policy does the rest.
    await argocd.refresh(APP, "normal");
    const app = await argocd.waitForApplication(APP, `Synced to ${pushed.slice(0, 12)}`, (a) => synced(a) && a.status?.sync?.revision === pushed && a.status?.operationState?.phase === "Succeeded");
    expect(outOfSync(app)).toEqual([]);
    const ds = await cluster.client.get<KubeObject & { spec: { template: { spec: { containers: { env: { name: string; value: string }[] }[] } } } }>("apps/v1", "DaemonSet", "edge-node-init", "edge-node-init");
    expect(ds!.spec.template.spec.containers[0]!.env.find((e) => e.name === "NODE_INIT_RESYNC_SECONDS")?.value).toBe("60");
    expect({ kong: await uid("kong"), nodeInit: await uid("edge-node-init") }).toEqual(uids);
  }, 300_000);

  it("should switch presets (on-prem-ha to single-node) in place: no namespace deleted or recreated", async () => {
    const uid = async (name: string) => (await cluster.client.get("v1", "Namespace", name))?.metadata.uid;
    const uids = { kong: await uid("kong"), nodeInit: await uid("edge-node-init") };
    const historyBefore = (await argocd.application(APP))!.status?.history?.length ?? 0;
    let deleting = false, watching = true;
    const watcher = (async () => {
      while (watching) {
        for (const ns of ["kong", "edge-node-init"]) {
          const o = await cluster.client.get("v1", "Namespace", ns).catch(() => null);
          if (o === undefined || o?.metadata.deletionTimestamp) deleting = true;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    let app: Application;
    try {
      await cluster.client.apply(application(["presets/single-node.yaml"]));
      app = await argocd.waitForApplication(APP, "Synced to the single-node preset", (a) => synced(a) && a.status?.operationState?.phase === "Succeeded" && (a.status?.history?.length ?? 0) > historyBefore);
    } finally {
      watching = false;
      await watcher;
    }
    expect(outOfSync(app)).toEqual([]);
    expect(deleting).toBe(false);
    expect({ kong: await uid("kong"), nodeInit: await uid("edge-node-init") }).toEqual(uids);
    if (kong.kind === "stand-in") {
      const cm = await cluster.client.get<KubeObject & { data: Record<string, string> }>("v1", "ConfigMap", "kong-stand-in-values", "kong");
      expect(JSON.parse(cm!.data["values.json"]!).autoscaling.enabled).toBe(false);
    }
  }, 300_000);

  it("should delete what it deployed when the Application is deleted: node-init's DaemonSet first, then the namespaces; CRDs kept", async () => {
    const app = (await argocd.application(APP))!;
    expect(app.metadata.finalizers).toContain("resources-finalizer.argocd.argoproj.io");
    const managed = app.status?.resources ?? [];
    // When the DaemonSet is gone and when each namespace starts terminating, as seen every 100 ms.
    const seen: { daemonSetGone?: number; namespaceDeleting?: number } = {};
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const ds = await cluster.client.get("apps/v1", "DaemonSet", "edge-node-init", "edge-node-init").catch(() => null);
        if (ds === undefined) seen.daemonSetGone ??= Date.now();
        for (const ns of ["kong", "edge-node-init"]) {
          const o = await cluster.client.get("v1", "Namespace", ns).catch(() => null);
          if (o === undefined || o?.metadata.deletionTimestamp) seen.namespaceDeleting ??= Date.now();
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    try {
      const r = await cluster.api("DELETE", `/apis/argoproj.io/v1alpha1/namespaces/${ARGOCD_NAMESPACE}/applications/${APP}`);
      expect(r.status).toBe(200);
      await cluster.waitFor(async () => (await argocd.application(APP)) === undefined, "the Application deleted", 180);
      await cluster.waitFor(async () => (await cluster.client.get("v1", "Namespace", "kong")) === undefined && (await cluster.client.get("v1", "Namespace", "edge-node-init")) === undefined, "both namespaces deleted", 120);
    } finally {
      watching = false;
      await watcher;
    }
    // Argo CD deletes in reverse sync waves, each wave once the previous one is gone: node-init's
    // pods stop while their namespace, ServiceAccount and RBAC still exist.
    expect(seen.daemonSetGone).toBeDefined();
    expect(seen.namespaceDeleting! - seen.daemonSetGone!).toBeGreaterThanOrEqual(0);
    // Everything else is gone, except CustomResourceDefinitions, which Argo CD never deletes (the
    // real Kong chart's, from its crds/, which `helm uninstall` keeps too).
    const left: string[] = [];
    for (const m of managed) if (await cluster.client.get(m.group ? `${m.group}/${m.version}` : m.version, m.kind, m.name, m.namespace)) left.push(key(m));
    expect(left).toEqual(managed.filter((m) => m.kind === "CustomResourceDefinition").map(key));
  }, 300_000);
  it("should sync argocd/edge-managed-namespace.yaml: Argo CD creates `kong` with the chart's labels, and keeps it when the Application is deleted", async () => {
    const managed = parse(readFileSync(join(repoRoot, "argocd", "edge-managed-namespace.yaml"), "utf8")) as KubeObject & {
      spec: { source: { repoURL: string }; syncPolicy: { managedNamespaceMetadata: { labels: Record<string, string> } } };
    };
    expect(managed.metadata.name).toBe(APP);
    await cluster.client.apply({ ...managed, spec: { ...managed.spec, source: { ...managed.spec.source, repoURL: git.url("edge") } } });
    let app = await argocd.waitForApplication(APP, "Synced and Healthy", (a) => synced(a) && a.status?.health?.status === "Healthy" && a.status?.operationState?.phase === "Succeeded", 240);
    expect(outOfSync(app)).toEqual([]);
    expect(unhealthy(app)).toEqual([]);
    // `kong` is Argo CD's, not the chart's: labelled from managedNamespaceMetadata, not a resource.
    expect((await cluster.client.get("v1", "Namespace", "kong"))?.metadata.labels).toMatchObject(managed.spec.syncPolicy.managedNamespaceMetadata.labels);
    expect((app.status?.resources ?? []).filter((r) => r.kind === "Namespace").map((r) => r.name)).toEqual(["edge-node-init"]);
    app = await argocd.refresh(APP, "hard");
    expectStillSynced(app, 1);

    const r = await cluster.api("DELETE", `/apis/argoproj.io/v1alpha1/namespaces/${ARGOCD_NAMESPACE}/applications/${APP}`);
    expect(r.status).toBe(200);
    await cluster.waitFor(async () => (await argocd.application(APP)) === undefined && (await cluster.client.get("v1", "Namespace", "edge-node-init")) === undefined, "the Application and edge-node-init deleted", 180);
    const kongNs = await cluster.client.get("v1", "Namespace", "kong");
    expect(kongNs?.metadata.deletionTimestamp).toBeUndefined();
    const left: string[] = [];
    for (const m of app.status?.resources ?? []) if (m.kind !== "CustomResourceDefinition" && await cluster.client.get(m.group ? `${m.group}/${m.version}` : m.version, m.kind, m.name, m.namespace)) left.push(key(m));
    expect(left).toEqual([]);
  }, 300_000);
  it("should sync the shipped Application from the chart package in an OCI registry (Helm OCI repository), values from the package's presets", async () => {
    const registry = new Registry();
    try {
      await registry.start();
      const pkg = mkdtempSync(join(tmpdir(), "edge-package-"));
      const packaged = run(helm4.path, ["package", tree, "--destination", pkg]);
      expect(packaged.status, packaged.stderr).toBe(0);
      const version = /^version: *(\S+)/m.exec(readFileSync(join(tree, "Chart.yaml"), "utf8"))![1]!;
      const pushed = registry.client(helm4.path, ["push", join(pkg, `edge-${version}.tgz`), `oci://${registry.host}/charts`]);
      rmSync(pkg, { recursive: true, force: true });
      const digest = /Digest: (sha256:[0-9a-f]{64})/.exec(pushed.stdout + pushed.stderr)?.[1];
      expect(digest, pushed.stdout + pushed.stderr).toBeDefined();
      // The repository as Argo CD's docs declare a Helm OCI one (a Secret), its CA as
      // argocd-tls-certs-cm would give it.
      argocd.trustTls(registry.address, registry.ca);
      const repository = `${registry.host}/charts`;
      await cluster.client.apply({
        apiVersion: "v1", kind: "Secret",
        metadata: { name: "edge-oci", namespace: ARGOCD_NAMESPACE, labels: { "argocd.argoproj.io/secret-type": "repository" } },
        stringData: { type: "helm", name: "edge-oci", url: repository, enableOCI: "true" },
      } as KubeObject);
      const { path: _path, ...helmSource } = shipped.spec.source;
      await cluster.client.apply({ ...shipped, spec: { ...shipped.spec, source: { ...helmSource, repoURL: repository, chart: "edge", targetRevision: version } } } as KubeObject);
      const app = await argocd.waitForApplication(APP, `Synced to ${version} and Healthy`,
        (a) => synced(a) && a.status?.sync?.revision === version && a.status?.health?.status === "Healthy" && a.status?.operationState?.phase === "Succeeded", 240);
      expect(outOfSync(app)).toEqual([]);
      expect(unhealthy(app)).toEqual([]);
      // The values file named in the Application came from the package: on-prem-ha's requests for
      // Kong (the defaults ask for half), as the Kong chart received them.
      const preset = parse(readFileSync(join(repoRoot, "presets", "on-prem-ha.yaml"), "utf8")) as { kong: { resources: { requests: { cpu: string } } } };
      expect(preset.kong.resources.requests.cpu).toBe("500m");
      if (kong.kind === "stand-in") {
        const recorded = await cluster.client.get<KubeObject & { data: { "values.json": string } }>("v1", "ConfigMap", "kong-stand-in-values", "kong");
        expect(JSON.parse(recorded!.data["values.json"]).resources.requests.cpu).toBe("500m");
      } else {
        const deployment = await cluster.client.get<KubeObject & { spec: { template: { spec: { containers: { name: string; resources: { requests: { cpu: string } } }[] } } } }>("apps/v1", "Deployment", "edge-kong", "kong");
        expect(deployment!.spec.template.spec.containers.find((c) => c.name === "proxy")!.resources.requests.cpu).toBe("500m");
      }
      // The repo-server fetched exactly the pushed package.
      expect(registry.log()).toMatch(new RegExp(`"GET /v2/charts/edge/manifests/(${version}|${digest}) `));
      const r = await cluster.api("DELETE", `/apis/argoproj.io/v1alpha1/namespaces/${ARGOCD_NAMESPACE}/applications/${APP}`);
      expect(r.status).toBe(200);
      await cluster.waitFor(async () => (await argocd.application(APP)) === undefined, "the Application deleted", 180);
    } finally {
      await registry.stop();
    }
  }, 300_000);
});
