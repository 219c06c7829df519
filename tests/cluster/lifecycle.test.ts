/**
 * cluster > lifecycle: `helm install`, `upgrade`, `test`, `rollback` and `uninstall` of the chart
 * against a real kube-apiserver (with Pod Security admission) and controllers, kwok simulating
 * three nodes. What kwok cannot show: containers do not run (pods are marked Ready/Completed by
 * kwok's stages), so node-init's rules and Kong's traffic are tested in tests/testbed, not here.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { render } from "../lib/chart.js";
import { ControlPlane, helms, kongChart, removeScratchCharts, scratchChart } from "../../local/index.js";

const kong = kongChart();
console.log(`cluster > lifecycle: Kong chart = ${kong.kind} (${kong.path})`);

interface Obj {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; uid?: string; labels?: Record<string, string>; generation?: number; deletionTimestamp?: string };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}
interface List { items: Obj[] }

describe.each(helms)("cluster > lifecycle with $name", (helm) => {
  const cluster = new ControlPlane();
  let failed = false;
  const chart = () => scratchChart();

  beforeAll(async () => {
    try {
      await cluster.start();
    } catch (e) {
      failed = true;
      throw e;
    }
    console.log(`cluster > lifecycle: control plane and 3 kwok nodes ready in ${cluster.startSeconds.toFixed(1)} s`);
  }, 240_000);
  // Keep the control plane's logs when anything failed.
  afterEach((context) => {
    if (context.task.result?.state === "fail") failed = true;
  });
  afterAll(async () => {
    await cluster.stop(failed);
    removeScratchCharts();
  });

  const get = (path: string) => cluster.api("GET", path);
  const list = async (path: string) => ((await get(path)).body as List).items ?? [];
  const helmOk = (args: string[]) => {
    const r = cluster.helm(helm.path, args);
    expect(r.status, `${helm.name} ${args.join(" ")}\n${r.stdout}\n${r.stderr}`).toBe(0);
    return r;
  };
  /** UIDs of every object the release owns, by kind/namespace/name. */
  const uids = async () => {
    const out: Record<string, string> = {};
    const paths = [
      "/api/v1/namespaces?labelSelector=app.kubernetes.io/part-of%3Dedge",
      "/apis/apps/v1/daemonsets?labelSelector=app.kubernetes.io/part-of%3Dedge",
      "/api/v1/configmaps?labelSelector=app.kubernetes.io/part-of%3Dedge",
      "/api/v1/serviceaccounts?labelSelector=app.kubernetes.io/part-of%3Dedge",
      "/apis/rbac.authorization.k8s.io/v1/roles?labelSelector=app.kubernetes.io/part-of%3Dedge",
      "/apis/networking.k8s.io/v1/networkpolicies?labelSelector=app.kubernetes.io/part-of%3Dedge",
    ];
    for (const p of paths) for (const o of await list(p)) out[`${p.split("?")[0]}/${o.metadata.namespace ?? ""}/${o.metadata.name}`] = o.metadata.uid!;
    return out;
  };

  it("should install with `helm install edge ./ --wait`", () => {
    helmOk(["install", "edge", chart(), "--wait", "--timeout", "180s"]);
  }, 240_000);

  it("should pass the API server's strict field validation with every rendered object (server-side apply, dry run)", async () => {
    const objects = render(helm, { chart: chart() });
    expect(objects.length).toBeGreaterThan(5);
    const problems: string[] = [];
    for (const o of objects) {
      const [group, version] = o.apiVersion.includes("/") ? o.apiVersion.split("/") : ["", o.apiVersion];
      const base = group ? `/apis/${group}/${version}` : `/api/${version}`;
      const resources = ((await get(base)).body as { resources?: { name: string; kind: string; namespaced: boolean }[] }).resources ?? [];
      const resource = resources.find((r) => r.kind === o.kind && !r.name.includes("/"));
      if (!resource) { problems.push(`${o.kind} ${o.metadata.name}: kind not served (${o.apiVersion})`); continue; }
      const ns = resource.namespaced ? `/namespaces/${o.metadata.namespace ?? "default"}` : "";
      const path = `${base}${ns}/${resource.name}/${o.metadata.name}?fieldManager=edge-test&force=true&dryRun=All&fieldValidation=Strict`;
      const r = await cluster.api("PATCH", path, o, "application/apply-patch+yaml");
      if (r.status !== 200 && r.status !== 201) problems.push(`${o.kind} ${o.metadata.name}: HTTP ${r.status} ${JSON.stringify((r.body as { message?: string }).message)}`);
    }
    expect(problems).toEqual([]);
  });

  it("should create the namespaces with their Pod Security labels", async () => {
    const kongNs = (await get("/api/v1/namespaces/kong")).body as Obj;
    const nodeInitNs = (await get("/api/v1/namespaces/edge-node-init")).body as Obj;
    expect(kongNs.metadata.labels?.["pod-security.kubernetes.io/enforce"]).toBe("restricted");
    expect(nodeInitNs.metadata.labels?.["pod-security.kubernetes.io/enforce"]).toBe("privileged");
  });

  it("should run one node-init pod on every node", async () => {
    await cluster.waitFor(async () => {
      const ds = (await get("/apis/apps/v1/namespaces/edge-node-init/daemonsets/edge-node-init")).body as Obj;
      return ds.status?.numberReady === 3 && ds.status?.desiredNumberScheduled === 3;
    }, "node-init ready on 3 nodes");
    const pods = await list("/api/v1/namespaces/edge-node-init/pods");
    expect(pods.map((p) => (p.spec as { nodeName: string }).nodeName).sort()).toEqual(cluster.nodes);
  });

  it("should have Pod Security admission refuse node-init's pod spec in Kong's restricted namespace (server-side dry run)", async () => {
    const ds = (await get("/apis/apps/v1/namespaces/edge-node-init/daemonsets/edge-node-init")).body as { spec: { template: { spec: unknown } } };
    // The same pod spec, with the namespace's default ServiceAccount (node-init's lives in its own
    // namespace), so that Pod Security is what decides.
    const { serviceAccountName: _sa, serviceAccount: _legacy, ...spec } = ds.spec.template.spec as Record<string, unknown>;
    const pod = { apiVersion: "v1", kind: "Pod", metadata: { name: "node-init-probe" }, spec };
    const denied = await cluster.api("POST", "/api/v1/namespaces/kong/pods?dryRun=All", pod);
    expect(denied.status).toBe(403);
    expect((denied.body as { message: string }).message).toContain("violates PodSecurity \"restricted:latest\"");
    const allowed = await cluster.api("POST", "/api/v1/namespaces/edge-node-init/pods?dryRun=All", { ...pod, spec: ds.spec.template.spec });
    expect(allowed.status, JSON.stringify(allowed.body)).toBe(201);
  });

  it.runIf(kong.kind === "real")("should spread Kong's pods over nodes with a PDB and an HPA (real Kong chart)", async () => {
    await cluster.waitFor(async () => (await list("/api/v1/namespaces/kong/pods?labelSelector=app.kubernetes.io/name%3Dkong")).filter((p) => p.status?.phase === "Running").length >= 2, "2 Kong pods running");
    const pods = await list("/api/v1/namespaces/kong/pods?labelSelector=app.kubernetes.io/name%3Dkong");
    const nodes = new Set(pods.map((p) => (p.spec as { nodeName: string }).nodeName));
    expect(nodes.size).toBe(pods.length);
    expect(await list("/apis/policy/v1/namespaces/kong/poddisruptionbudgets")).toHaveLength(1);
    expect(await list("/apis/autoscaling/v2/namespaces/kong/horizontalpodautoscalers")).toHaveLength(1);
  });

  it("should run `helm test edge` to completion (its pod admitted in the restricted namespace)", () => {
    const r = helmOk(["test", "edge", "--timeout", "120s"]);
    expect(r.stdout).toMatch(/edge-proxy-test[\s\S]*Succeeded/);
  }, 180_000);

  /** Ready pods matching `selector` in `namespace`, right now. */
  const readyPods = async (namespace: string, selector: string) =>
    (await list(`/api/v1/namespaces/${namespace}/pods?labelSelector=${encodeURIComponent(selector)}`))
      .filter((p) => !p.metadata.deletionTimestamp && (p.status?.conditions as { type: string; status: string }[] | undefined)?.some((c) => c.type === "Ready" && c.status === "True"))
      .length;

  it("should roll node-init (and Kong) in place during an upgrade, never below the ready minimum, recreating nothing", async () => {
    const before = await uids();
    const dsBefore = (await get("/apis/apps/v1/namespaces/edge-node-init/daemonsets/edge-node-init")).body as Obj;
    // Watch the ready pods while the upgrade rolls them.
    let minNodeInit = Infinity, minKong = Infinity, watching = true;
    const watcher = (async () => {
      while (watching) {
        minNodeInit = Math.min(minNodeInit, await readyPods("edge-node-init", "app.kubernetes.io/component=node-init"));
        if (kong.kind === "real") minKong = Math.min(minKong, await readyPods("kong", "app.kubernetes.io/name=kong,app.kubernetes.io/component=app"));
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const r = await cluster.helmAsync(helm.path, ["upgrade", "edge", chart(), "--wait", "--timeout", "180s",
      "--set", "nodeInit.resyncSeconds=45", "--set", "kong.autoscaling.maxReplicas=4", "--set", "kong.podAnnotations.edge-test/revision=2"]);
    expect(r.status, r.stderr).toBe(0);
    await cluster.waitFor(async () => {
      const ds = (await get("/apis/apps/v1/namespaces/edge-node-init/daemonsets/edge-node-init")).body as Obj;
      return ds.status?.updatedNumberScheduled === 3 && ds.status?.numberReady === 3;
    }, "node-init rolled out");
    watching = false;
    await watcher;
    const dsAfter = (await get("/apis/apps/v1/namespaces/edge-node-init/daemonsets/edge-node-init")).body as Obj & { spec: { updateStrategy: unknown } };
    expect(dsAfter.metadata.generation).toBe((dsBefore.metadata.generation ?? 0) + 1);
    expect(dsAfter.spec.updateStrategy).toEqual({ type: "RollingUpdate", rollingUpdate: { maxUnavailable: "10%", maxSurge: 0 } });
    console.log(`cluster > upgrade with ${helm.name}: fewest ready pods seen: node-init ${minNodeInit} of 3` + (kong.kind === "real" ? `, Kong ${minKong}` : ""));
    // maxUnavailable 10% of 3 nodes rounds up to 1: at least 2 node-init pods stay ready throughout.
    expect(minNodeInit).toBeGreaterThanOrEqual(2);
    if (kong.kind === "real") expect(minKong, "Kong: maxUnavailable 0 and at least 2 replicas").toBeGreaterThanOrEqual(2);
    const pods = await list("/api/v1/namespaces/edge-node-init/pods");
    for (const p of pods) {
      const env = (p.spec as { containers: { env: { name: string; value: string }[] }[] }).containers[0]!.env;
      expect(env.find((e) => e.name === "NODE_INIT_RESYNC_SECONDS")?.value).toBe("45");
    }
    expect(await uids()).toEqual(before);
  }, 240_000);

  it("should roll back to the first revision, recreating nothing", async () => {
    const before = await uids();
    helmOk(["rollback", "edge", "1", "--wait", "--timeout", "180s"]);
    const ds = (await get("/apis/apps/v1/namespaces/edge-node-init/daemonsets/edge-node-init")).body as { spec: { template: { spec: { containers: { env: { name: string; value: string }[] }[] } } } };
    expect(ds.spec.template.spec.containers[0]!.env.find((e) => e.name === "NODE_INIT_RESYNC_SECONDS")?.value).toBe("30");
    expect(await uids()).toEqual(before);
  }, 240_000);

  it("should leave nothing of the release behind after `helm uninstall`", async () => {
    helmOk(["uninstall", "edge", "--wait", "--timeout", "180s"]);
    await cluster.waitFor(async () => (await list("/api/v1/namespaces")).every((n) => !["kong", "edge-node-init"].includes(n.metadata.name)), "namespaces deleted", 120);
    // Every listable kind, namespaced and cluster-scoped, from the API's own discovery.
    const leftovers: string[] = [];
    const groups = [{ path: "/api/v1" }, ...(((await get("/apis")).body as { groups: { preferredVersion: { groupVersion: string } }[] }).groups.map((g) => ({ path: `/apis/${g.preferredVersion.groupVersion}` })))];
    for (const g of groups) {
      const resources = ((await get(g.path)).body as { resources: { name: string; verbs: string[] }[] }).resources ?? [];
      for (const r of resources.filter((x) => !x.name.includes("/") && x.verbs.includes("list"))) {
        for (const o of await list(`${g.path}/${r.name}`)) {
          const labels = o.metadata.labels ?? {};
          if (labels["app.kubernetes.io/instance"] === "edge" || labels["app.kubernetes.io/part-of"] === "edge" || o.metadata.namespace === "kong" || o.metadata.namespace === "edge-node-init") {
            leftovers.push(`${g.path}/${r.name}/${o.metadata.namespace ?? ""}/${o.metadata.name}`);
          }
        }
      }
    }
    expect(leftovers).toEqual([]);
  }, 240_000);
});
