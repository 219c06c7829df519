/**
 * chart > rendering: the defaults and every preset render under both Helm majors, lint cleanly,
 * and produce the objects the product needs, with the values Kong receives.
 */
import { basename } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type K8sObject, kongValues, presetFiles, render } from "../lib/chart.js";
import { helms, kongChart, removeScratchCharts, run, scratchChart } from "../../local/index.js";

const kong = kongChart();
console.log(`chart > rendering: Kong chart = ${kong.kind} (${kong.path})`);
afterAll(removeScratchCharts);

const byKind = (objects: K8sObject[], kind: string) => objects.filter((o) => o.kind === kind);
const cases = [{ name: "defaults", values: [] as string[] }, ...presetFiles().map((f) => ({ name: basename(f, ".yaml"), values: [f] }))];

describe.each(helms)("chart > rendering with $name", (helm) => {
  it.each(cases)("should pass `helm lint --strict` with $name", ({ values }) => {
    const args = ["lint", "--strict", scratchChart(), ...values.flatMap((v) => ["-f", v])];
    const r = run(helm.path, args);
    expect(r.stderr + r.stdout).toContain("1 chart(s) linted, 0 chart(s) failed");
    expect(r.status).toBe(0);
  });

  it.each(cases)("should render labelled namespaces with $name", ({ values }) => {
    const namespaces = byKind(render(helm, { values }), "Namespace");
    const kongNs = namespaces.find((n) => n.metadata.name === "kong");
    expect(kongNs?.metadata.labels).toMatchObject({
      "pod-security.kubernetes.io/enforce": "restricted",
      "pod-security.kubernetes.io/audit": "restricted",
      "pod-security.kubernetes.io/warn": "restricted",
    });
  });

  it("should put node-init in its own privileged namespace by default", () => {
    const objects = render(helm);
    const ns = byKind(objects, "Namespace").find((n) => n.metadata.name === "edge-node-init");
    expect(ns?.metadata.labels?.["pod-security.kubernetes.io/enforce"]).toBe("privileged");
    const ds = byKind(objects, "DaemonSet");
    expect(ds).toHaveLength(1);
    expect(ds[0]?.metadata.namespace).toBe("edge-node-init");
  });

  it("should render the same objects whatever the release namespace", () => {
    const a = render(helm, { namespace: "default" });
    const b = render(helm, { namespace: "somewhere-else" });
    const places = (objs: K8sObject[]) => objs.map((o) => `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`).sort();
    expect(places(b)).toEqual(places(a));
  });

  it("should leave namespace creation to the user when switched off", () => {
    const objects = render(helm, { set: ["namespaces.kong.create=false", "namespaces.nodeInit.create=false"] });
    expect(byKind(objects, "Namespace")).toHaveLength(0);
    expect(byKind(objects, "DaemonSet")).toHaveLength(1);
  });

  it("should render no node-init object when nodeInit.enabled is false", () => {
    const objects = render(helm, { set: ["nodeInit.enabled=false"] });
    expect(objects.filter((o) => o.metadata.namespace === "edge-node-init")).toHaveLength(0);
    expect(byKind(objects, "Namespace").map((n) => n.metadata.name)).toEqual(["kong"]);
  });

  it.runIf(kong.kind === "stand-in")("should hand Kong edge's defaults over Kong's own (stand-in records them)", () => {
    const values = kongValues(render(helm));
    expect(values).toMatchObject({
      namespace: "kong",
      deployment: { hostNetwork: false },
      proxy: {
        type: "NodePort",
        http: { enabled: true, servicePort: 80, containerPort: 8000, nodePort: 30080, parameters: [] },
        tls: { enabled: true, servicePort: 443, containerPort: 8443, nodePort: 30443, parameters: ["http2"] },
      },
      containerSecurityContext: { runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false },
      autoscaling: { enabled: true, minReplicas: 2 },
      podDisruptionBudget: { enabled: false },
      image: { repository: "kong", tag: "3.9" },
      ingressController: { image: { repository: "kong/kubernetes-ingress-controller", tag: "3.5" } },
      updateStrategy: { rollingUpdate: { maxUnavailable: 0 } },
    });
  });

  it.runIf(kong.kind === "stand-in")("should hand Kong a preset's values (on-prem-ha: 75 % CPU target)", () => {
    const file = presetFiles().find((f) => f.endsWith("on-prem-ha.yaml"));
    const values = kongValues(render(helm, { values: [file!] })) as { autoscaling: { metrics: unknown[] } };
    expect(values.autoscaling.metrics).toEqual([
      { type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 75 } } },
    ]);
  });

  it.runIf(kong.kind === "real")("should render Kong's proxy as NodePort 30080/30443 on container ports 8000/8443 (real chart)", () => {
    const objects = render(helm);
    const proxy = byKind(objects, "Service").find((s) => s.metadata.name.endsWith("-proxy"));
    const ports = (proxy?.spec as { type: string; ports: { port: number; nodePort: number; targetPort: number }[] });
    expect(ports.type).toBe("NodePort");
    expect(ports.ports.map((p) => [p.port, p.nodePort, p.targetPort])).toEqual([[80, 30080, 8000], [443, 30443, 8443]]);
    for (const o of objects.filter((x) => x.metadata.labels?.["app.kubernetes.io/name"] === "kong" && x.metadata.namespace !== undefined)) {
      expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe("kong");
    }
  });
});
