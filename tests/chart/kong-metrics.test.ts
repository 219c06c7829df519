/**
 * chart > Kong metrics: the Kong chart's ServiceMonitor (`kong.serviceMonitor.enabled`) scrapes
 * Kong's status listener and the ingress controller's metrics port; edge's NetworkPolicy admits
 * `networkPolicy.metricsFrom` to exactly the ports behind those targets.
 */
import { afterAll, describe, expect, it } from "vitest";
import { type K8sObject, kongValues, render } from "../lib/chart.js";
import { helms, kongChart, removeScratchCharts } from "../../local/index.js";

afterAll(removeScratchCharts);
const helm = helms[0];
const kong = kongChart();

const prometheus = { podSelector: { matchLabels: { app: "prometheus" } } };
const options = {
  set: ["kong.serviceMonitor.enabled=true", "kong.serviceMonitor.trustCRDsExist=true"],
  setJson: [`networkPolicy.metricsFrom=${JSON.stringify([prometheus])}`],
};

type Port = { name?: string; containerPort?: number; port?: number; protocol?: string };
type Rule = { from?: unknown[]; ports?: Port[] };

/** The ports edge's NetworkPolicy admits from the Prometheus peer. */
function admitted(objects: K8sObject[]): number[] {
  const policy = objects.find((o) => o.kind === "NetworkPolicy" && o.metadata.name.endsWith("-ingress"))!;
  const rules = (policy.spec as { ingress: Rule[] }).ingress.filter((r) => JSON.stringify(r.from) === JSON.stringify([prometheus]));
  expect(rules).toHaveLength(1);
  return rules[0]!.ports!.map((p) => p.port!);
}

describe("chart > Kong metrics", () => {
  it.runIf(kong.kind === "stand-in")("should hand kong.serviceMonitor to the Kong chart and admit the peers to 8100 and 10255 (stand-in records the values)", () => {
    const objects = render(helm, options);
    expect(kongValues(objects)).toMatchObject({ serviceMonitor: { enabled: true, trustCRDsExist: true } });
    expect(admitted(objects)).toEqual([8100, 10255]);
  });

  it.runIf(kong.kind === "real")("should admit the peers to exactly the container ports behind every target of the Kong chart's ServiceMonitor (real chart)", () => {
    const objects = render(helm, options);
    const monitor = objects.find((o) => o.kind === "ServiceMonitor");
    expect(monitor, "the Kong chart's ServiceMonitor").toBeDefined();
    const targets = (monitor!.spec as { endpoints: { targetPort: string }[] }).endpoints.map((e) => e.targetPort);
    expect(targets).toEqual(["status", "cmetrics"]);
    const deployment = objects.find((o) => o.kind === "Deployment" && o.metadata.namespace === "kong")!;
    const containers = (deployment.spec as { template: { spec: { containers: { ports?: Port[] }[] } } }).template.spec.containers;
    const byName = new Map(containers.flatMap((c) => c.ports ?? []).map((p) => [p.name, p.containerPort]));
    expect(admitted(objects)).toEqual(targets.map((t) => byName.get(t)));
  });
});
