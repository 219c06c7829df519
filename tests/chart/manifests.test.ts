/**
 * chart > manifests: every object the chart renders (defaults and every preset, `helm template`
 * of Helm 3 with `--kube-version` set) is valid against the Kubernetes OpenAPI schemas of the
 * oldest and the newest Kubernetes the chart supports, checked by constructing the
 * kubernetes-models class of its apiVersion/kind and calling `.validate()`.
 *
 * Which Kubernetes each kubernetes-models version models. The package generates its classes from
 * the OpenAPI spec of one Kubernetes release, merged over a few older specs only to keep APIs that
 * later releases removed (later specs win: `VERSIONS` and `mergeOpenAPISpecs` in
 * first-party/kubernetes-models/scripts/generate.ts of github.com/tommy351/kubernetes-models-ts).
 * The release is stated in the package's CHANGELOG.md and in the commits that changed `VERSIONS`;
 * the README badge in every published tarball still says 1.27.1 and is stale. Published versions
 * (`npm view kubernetes-models versions`):
 *   4.3.0–4.4.2  Kubernetes v1.27.1  (CHANGELOG 4.3.0, commit 73daa2b "Update schema version to v1.27.1")
 *   4.5.0–4.5.1  Kubernetes v1.33.0  (CHANGELOG 4.5.0, commit 1d68961 "Update schema version to v1.33.0")
 *   5.0.0–5.1.0  Kubernetes v1.36.0  (CHANGELOG 5.0.0, commit 5bcc96b "Update to Kubernetes v1.36.0")
 * Installed side by side under npm aliases (package.json):
 *   kubernetes-models-k8s127 = kubernetes-models@4.4.2   → v1.27.1
 *   kubernetes-models-k8s133 = kubernetes-models@4.5.1   → v1.33.0
 *   kubernetes-models        = kubernetes-models@5.1.0   → v1.36.0, the newest any version covers
 * No published version models 1.29 (Chart.yaml's oldest), so the 1.29 render is validated against
 * both neighbours, v1.27.1 and v1.33.0: a constraint both agree on holds in 1.29. The 1.36 render is
 * validated against v1.36.0, which is therefore the newest Kubernetes this test can vouch for.
 *
 * Limits of these schemas, covered by the extra checks below: they accept unknown fields (no
 * `additionalProperties: false`), and they keep models of APIs that Kubernetes has since removed
 * (e.g. autoscaling/v2beta2), so a model's existence does not prove the API is served: every
 * rendered apiVersion must be a GA version, which Kubernetes never removes.
 */
import { existsSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import * as k8s136 from "kubernetes-models";
import * as k8s127 from "kubernetes-models-k8s127";
import * as k8s133 from "kubernetes-models-k8s133";
import { afterAll, describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { type K8sObject, presetFiles, render } from "../lib/chart.js";
import { helms, kongChart, removeScratchCharts, run } from "../../local/index.js";
import { repoRoot } from "../lib/paths.js";

const kong = kongChart();
console.log(`chart > manifests: Kong chart = ${kong.kind} (${kong.path})`);
afterAll(removeScratchCharts);

const helm = helms[0]; // helm3

/** A kubernetes-models class: constructed from an object, validated against its schema. */
interface ModelClass {
  new (data: never): { validate(): void };
  apiVersion: string;
  kind: string;
}

interface SchemaSet {
  /** The npm name it is installed under (node_modules/<dir>). */
  dir: string;
  /** The kubernetes-models version that must be installed there. */
  version: string;
  /** The Kubernetes release whose OpenAPI spec it models (see the table above). */
  kubernetes: string;
  /** `apiVersion kind` → model class. */
  models: Map<string, ModelClass>;
}

/** Every model class a kubernetes-models build exports, by `apiVersion kind`. */
function modelsOf(root: object): Map<string, ModelClass> {
  const models = new Map<string, ModelClass>();
  const walk = (node: object, depth: number): void => {
    for (const value of Object.values(node) as unknown[]) {
      if (typeof value === "function") {
        const m = value as Partial<ModelClass>;
        if (typeof m.apiVersion === "string" && typeof m.kind === "string") models.set(`${m.apiVersion} ${m.kind}`, value as ModelClass);
      } else if (value !== null && typeof value === "object" && depth < 3) walk(value, depth + 1);
    }
  };
  walk(root, 0);
  return models;
}

const K8S_127: SchemaSet = { dir: "kubernetes-models-k8s127", version: "4.4.2", kubernetes: "1.27.1", models: modelsOf(k8s127) };
const K8S_133: SchemaSet = { dir: "kubernetes-models-k8s133", version: "4.5.1", kubernetes: "1.33.0", models: modelsOf(k8s133) };
const K8S_136: SchemaSet = { dir: "kubernetes-models", version: "5.1.0", kubernetes: "1.36.0", models: modelsOf(k8s136) };
const SCHEMA_SETS = [K8S_127, K8S_133, K8S_136];

/** `>=1.29.0-0` in Chart.yaml → "1.29.0". */
const chartKubeVersion = (parse(readFileSync(join(repoRoot, "Chart.yaml"), "utf8")) as { kubeVersion: string }).kubeVersion;
const OLDEST = /^>=\s*(\d+\.\d+\.\d+)(?:-0)?$/.exec(chartKubeVersion)?.[1] ?? `unparsed kubeVersion ${chartKubeVersion}`;
const NEWEST = K8S_136.kubernetes;

const targets = [
  { kubeVersion: OLDEST, schemas: [K8S_127, K8S_133] },
  { kubeVersion: NEWEST, schemas: [K8S_136] },
];

/**
 * apiVersion/kind the chart can render that no schema set models, each with the reason. An object
 * of a kind neither modelled nor listed here fails the test; none is skipped silently.
 */
const UNCOVERED: Record<string, string> = {
  "cert-manager.io/v1 Issuer":
    "cert-manager CRD; kubernetes-models ships only Kubernetes' built-in APIs. Rendered only with certManager.enabled (no preset sets it)",
  "cert-manager.io/v1 Certificate":
    "cert-manager CRD; kubernetes-models ships only Kubernetes' built-in APIs. Rendered only with certManager.enabled (no preset sets it)",
};

const idOf = (o: K8sObject) => `${o.kind}/${o.metadata?.name ?? "?"} (${o.apiVersion})`;

/** Validates each object; returns one line per failure naming the object and the validator's message. */
function validate(objects: K8sObject[], set: SchemaSet): { failures: string[]; uncovered: string[] } {
  const failures: string[] = [];
  const uncovered: string[] = [];
  for (const o of objects) {
    const key = `${o.apiVersion} ${o.kind}`;
    const Model = set.models.get(key);
    if (!Model) {
      if (key in UNCOVERED) uncovered.push(`${idOf(o)}: ${UNCOVERED[key]}`);
      else failures.push(`${idOf(o)}: kubernetes-models@${set.version} (Kubernetes ${set.kubernetes}) has no model for ${key}, and UNCOVERED does not list it`);
      continue;
    }
    try {
      new Model(structuredClone(o) as never).validate();
    } catch (e) {
      failures.push(`${idOf(o)} against Kubernetes ${set.kubernetes} (kubernetes-models@${set.version}): ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return { failures, uncovered };
}

const cases = [{ name: "defaults", values: [] as string[] }, ...presetFiles().map((f) => ({ name: basename(f, ".yaml"), values: [f] }))];
/** Renders once per values and Kubernetes version (the tests of this file share them). */
const renders = new Map<string, K8sObject[]>();
const rendered = (values: string[], kubeVersion: string): K8sObject[] => {
  const key = JSON.stringify([values, kubeVersion]);
  if (!renders.has(key)) renders.set(key, render(helm, { values, kubeVersion }));
  return structuredClone(renders.get(key)!);
};
const matrix = targets.flatMap((t) => cases.map((c) => ({ ...c, ...t, label: t.schemas.map((s) => s.kubernetes).join(" and ") })));

describe("chart > manifests against the Kubernetes OpenAPI schemas (helm3)", () => {
  it("should use the kubernetes-models versions whose Kubernetes releases this file documents", () => {
    for (const set of SCHEMA_SETS) {
      const pkg = JSON.parse(readFileSync(join(repoRoot, "node_modules", set.dir, "package.json"), "utf8")) as { name: string; version: string };
      expect(`${set.dir}: ${pkg.name}@${pkg.version}`).toBe(`${set.dir}: kubernetes-models@${set.version}`);
    }
  });

  it("should validate the oldest supported Kubernetes (Chart.yaml kubeVersion) between two modelled releases", () => {
    const minor = (v: string) => Number(/^1\.(\d+)\./.exec(v)?.[1]);
    expect(OLDEST).toMatch(/^1\.\d+\.\d+$/);
    expect(minor(K8S_127.kubernetes)).toBeLessThanOrEqual(minor(OLDEST));
    expect(minor(K8S_133.kubernetes)).toBeGreaterThanOrEqual(minor(OLDEST));
    expect(minor(NEWEST)).toBeGreaterThan(minor(OLDEST));
  });

  it.each(matrix)("should render only valid objects with $name for Kubernetes $kubeVersion (schemas $label)", ({ values, kubeVersion, schemas }) => {
    const objects = rendered(values, kubeVersion);
    expect(objects.length).toBeGreaterThan(0);
    const failures: string[] = [];
    for (const set of schemas) {
      const r = validate(objects, set);
      failures.push(...r.failures);
      if (r.uncovered.length) console.log(`not validated (listed in UNCOVERED) for ${kubeVersion}:\n  ${r.uncovered.join("\n  ")}`);
    }
    expect(failures).toEqual([]);
  });

  it.each(targets)("should render only GA apiVersions for Kubernetes $kubeVersion (models keep removed APIs)", ({ kubeVersion }) => {
    const apiVersions = new Set(cases.flatMap(({ values }) => rendered(values, kubeVersion).map((o) => o.apiVersion)));
    expect([...apiVersions].filter((v) => !/^([a-z0-9.-]+\/)?v\d+$/.test(v))).toEqual([]);
  });

  it("should list in UNCOVERED only kinds that no schema set models", () => {
    for (const key of Object.keys(UNCOVERED)) {
      for (const set of SCHEMA_SETS) expect(set.models.has(key), `${key} in kubernetes-models@${set.version}`).toBe(false);
    }
  });

  describe.each(targets)("validation bites for Kubernetes $kubeVersion", ({ kubeVersion, schemas }) => {
    const daemonSet = () => {
      const ds = rendered([], kubeVersion).find((o) => o.kind === "DaemonSet");
      if (!ds) throw new Error("no DaemonSet rendered");
      return ds;
    };

    it.each(schemas)("should reject a DaemonSet whose containerPort is \"x\" (Kubernetes $kubernetes)", (set) => {
      const ds = daemonSet() as K8sObject & { spec: { template: { spec: { containers: { ports?: Record<string, unknown>[] }[] } } } };
      expect(validate([ds], set).failures).toEqual([]);
      const container = ds.spec.template.spec.containers[0]!;
      container.ports = [{ ...(container.ports?.[0] ?? { name: "probe" }), containerPort: "x" }];
      const { failures } = validate([ds], set);
      expect(failures).toHaveLength(1);
      expect(failures[0]).toMatch(/^DaemonSet\/edge-node-init \(apps\/v1\) against Kubernetes .*: .*containers\/0\/ports\/0\/containerPort must be integer/);
    });

    it.each(schemas)("should reject a Deployment without containers and an object of an unlisted kind (Kubernetes $kubernetes)", (set) => {
      const deployment = { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "broken" }, spec: { selector: {}, template: { spec: {} } } };
      const widget = { apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w" } };
      const { failures } = validate([deployment, widget], set);
      expect(failures).toHaveLength(2);
      expect(failures[0]).toMatch(/^Deployment\/broken .*must have required property '?containers'?/);
      expect(failures[1]).toMatch(/^Widget\/w \(example.com\/v1\): .*has no model for example.com\/v1 Widget, and UNCOVERED does not list it/);
    });
  });

  // Not in `helm template`'s output (crds/ is rendered only with --include-crds), but installed by
  // `helm install` and applied by Argo CD, so validated here too when the real chart is present.
  it.runIf(kong.kind === "real")("should ship valid CustomResourceDefinitions in the real Kong chart's crds/", () => {
    expect(existsSync(kong.path)).toBe(true);
    const r = run(helm.path, ["show", "crds", kong.path]);
    expect(r.status, r.stderr).toBe(0);
    const crds = parseAllDocuments(r.stdout).map((d) => d.toJS() as K8sObject | null).filter((o): o is K8sObject => o !== null);
    expect(crds.length).toBeGreaterThan(0);
    expect([...new Set(crds.map((c) => `${c.apiVersion} ${c.kind}`))]).toEqual(["apiextensions.k8s.io/v1 CustomResourceDefinition"]);
    const failures = SCHEMA_SETS.flatMap((set) => validate(crds, set).failures);
    expect(failures).toEqual([]);
  });
});
