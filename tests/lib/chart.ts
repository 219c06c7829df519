/** The chart rendered for tests: `helm template` of a scratch chart (local/chart.ts), parsed. */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { type Helm, run, scratchChart } from "../../local/index.js";
import { repoRoot } from "./paths.js";

/** A Kubernetes object as rendered. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

export interface RenderOptions {
  values?: string[];
  set?: string[];
  /** `--set-json path=json` values. */
  setJson?: string[];
  namespace?: string;
  kubeVersion?: string;
  chart?: string;
}

/** `helm template edge <chart>` with the given values files; never throws on failure. */
export function template(helm: Helm, options: RenderOptions = {}) {
  const args = ["template", "edge", options.chart ?? scratchChart()];
  for (const v of options.values ?? []) args.push("-f", v);
  for (const s of options.set ?? []) args.push("--set", s);
  for (const s of options.setJson ?? []) args.push("--set-json", s);
  if (options.namespace) args.push("--namespace", options.namespace);
  if (options.kubeVersion) args.push("--kube-version", options.kubeVersion);
  return run(helm.path, args);
}

/** Renders and parses; throws with Helm's message when rendering fails. */
export function render(helm: Helm, options: RenderOptions = {}): K8sObject[] {
  const r = template(helm, options);
  if (r.status !== 0) throw new Error(`${helm.name} template failed:\n${r.stderr}`);
  return parseAllDocuments(r.stdout)
    .map((d) => {
      if (d.errors.length) throw new Error(`${helm.name} rendered invalid YAML: ${d.errors[0]?.message}`);
      return d.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null);
}

/** The values Kong received, as recorded by the stand-in (undefined with the real chart). */
export function kongValues(objects: K8sObject[]): Record<string, unknown> | undefined {
  const recorder = objects.find((o) => o.kind === "ConfigMap" && o.metadata.name === "kong-stand-in-values");
  if (!recorder) return undefined;
  return JSON.parse((recorder.data as Record<string, string>)["values.json"] ?? "{}") as Record<string, unknown>;
}

export const presetFiles = (): string[] =>
  readdirSync(join(repoRoot, "presets")).filter((f) => f.endsWith(".yaml")).sort().map((f) => join(repoRoot, "presets", f));
