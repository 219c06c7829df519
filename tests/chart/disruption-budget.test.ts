/**
 * chart > disruption budget: Kong's PodDisruptionBudget (edge's, not the Kong chart's) keeps
 * covering every Kong pod while an upgrade of Kong or of its chart replaces them. The Kong chart's
 * own budget selects on helm.sh/chart and app.kubernetes.io/version, which change in exactly that
 * upgrade, so the pods being replaced would fall out of it.
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type K8sObject, kongValues, render } from "../lib/chart.js";
import { helms, kongChart, removeScratchCharts, run, scratchChart } from "../../local/index.js";

afterAll(removeScratchCharts);
const helm = helms[0];
const kong = kongChart();

type Selector = { matchLabels: Record<string, string> };
const budgets = (objects: K8sObject[]) => objects.filter((o) => o.kind === "PodDisruptionBudget");
const selects = (selector: Selector, labels: Record<string, string> = {}) =>
  Object.entries(selector.matchLabels).every(([k, v]) => labels[k] === v);

describe("chart > disruption budget", () => {
  it("should render one budget for Kong that selects only on labels an upgrade never changes", () => {
    const [pdb, ...others] = budgets(render(helm));
    expect(others).toEqual([]);
    expect(pdb?.metadata).toMatchObject({ name: "edge-kong", namespace: "kong" });
    expect(pdb?.spec).toEqual({
      maxUnavailable: 1,
      unhealthyPodEvictionPolicy: "AlwaysAllow",
      selector: { matchLabels: { "app.kubernetes.io/name": "kong", "app.kubernetes.io/instance": "edge", "app.kubernetes.io/component": "app" } },
    });
  });

  it.runIf(kong.kind === "stand-in")("should turn the Kong chart's own budget off (stand-in records it)", () => {
    expect(kongValues(render(helm))).toMatchObject({ podDisruptionBudget: { enabled: false } });
  });

  describe.runIf(kong.kind === "real")("upgrade of Kong and of its chart (real chart)", () => {
    const dir = mkdtempSync(join(tmpdir(), "edge-pdb-"));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    /** The chart with its Kong dependency's version bumped, as after `helm dependency update`. */
    const bumpedChart = () => {
      const chart = join(dir, "edge");
      cpSync(scratchChart(), chart, { recursive: true });
      // A .tgz dependency is unpacked into its chart's folder (charts/kong/) to edit its Chart.yaml.
      const charts = join(chart, "charts");
      for (const tgz of readdirSync(charts).filter((f) => f.endsWith(".tgz"))) {
        const r = run("tar", ["-xzf", join(charts, tgz), "-C", charts]);
        expect(r.status, r.stderr).toBe(0);
        rmSync(join(charts, tgz));
      }
      const kongYaml = join(charts, "kong", "Chart.yaml");
      writeFileSync(kongYaml, readFileSync(kongYaml, "utf8").replace(/^version: .*$/m, "version: 99.0.0"));
      return chart;
    };
    const deployment = (objects: K8sObject[]) => objects.find((o) => o.kind === "Deployment" && o.metadata.name === "edge-kong")!
      .spec as { selector: Selector; template: { metadata: { labels: Record<string, string> } } };

    it("should cover the old pods and the new ones during the rollout", () => {
      const before = deployment(render(helm, { set: ["kong.image.tag=3.9"] }));
      const afterObjects = render(helm, { chart: bumpedChart(), set: ["kong.image.tag=3.10"] });
      const after = deployment(afterObjects);
      // The upgrade changes the pods' chart and version labels…
      expect(after.template.metadata.labels["helm.sh/chart"]).not.toBe(before.template.metadata.labels["helm.sh/chart"]);
      expect(after.template.metadata.labels["app.kubernetes.io/version"]).not.toBe(before.template.metadata.labels["app.kubernetes.io/version"]);
      // …yet the budget in force during the rollout selects both generations, as the Deployment does.
      const [pdb] = budgets(afterObjects);
      const selector = (pdb!.spec as { selector: Selector }).selector;
      expect(selector).toEqual(after.selector);
      expect(selects(selector, before.template.metadata.labels)).toBe(true);
      expect(selects(selector, after.template.metadata.labels)).toBe(true);
    });
  });
});
