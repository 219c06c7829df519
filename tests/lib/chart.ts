/**
 * Scratch copies of the chart for tests: the repository's chart files plus a `kong` dependency in
 * charts/, either the real Kong chart (when present) or the test stand-in that records its values.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseAllDocuments } from "yaml";
import { repoRoot } from "./paths.js";
import { type Helm, run } from "./tools.js";

/** Files and folders of the repository that make up the chart (the rest is .helmignored). */
const CHART_FILES = ["Chart.yaml", "Chart.lock", "values.yaml", "values.schema.json", "README.md", "CHANGELOG.md", "templates", "files", "presets"];

export interface KongChart {
  kind: "real" | "stand-in";
  /** A chart directory or .tgz. */
  path: string;
}

/**
 * The real Kong chart if one is present: $EDGE_KONG_CHART (a directory or .tgz), else
 * charts/kong-*.tgz as `helm dependency build` leaves it. Otherwise the test stand-in.
 */
export function kongChart(): KongChart {
  const fromEnv = process.env.EDGE_KONG_CHART;
  if (fromEnv) {
    const path = resolve(fromEnv);
    if (!existsSync(path)) throw new Error(`EDGE_KONG_CHART=${fromEnv} does not exist`);
    return { kind: "real", path };
  }
  const charts = join(repoRoot, "charts");
  const tgz = existsSync(charts) ? readdirSync(charts).find((f) => /^kong-.*\.tgz$/.test(f)) : undefined;
  if (tgz) return { kind: "real", path: join(charts, tgz) };
  return { kind: "stand-in", path: join(repoRoot, "tests", "fixtures", "kong-stand-in") };
}

/** Builds (once per process and kong chart) a scratch chart directory and returns its path. */
export function scratchChart(options: { withTests?: boolean; kong?: KongChart } = {}): string {
  const kong = options.kong ?? kongChart();
  const dir = join(repoRoot, ".cache", `chart-${kong.kind}-${process.pid}${options.withTests ? "-tests" : ""}`, "edge");
  if (existsSync(dir)) return dir;
  mkdirSync(join(dir, "charts"), { recursive: true });
  for (const f of CHART_FILES) if (existsSync(join(repoRoot, f))) cpSync(join(repoRoot, f), join(dir, f), { recursive: true });
  if (options.withTests) cpSync(join(repoRoot, "tests"), join(dir, "tests"), { recursive: true, filter: (src) => !src.includes("node_modules") });
  const target = statSync(kong.path).isDirectory() ? join(dir, "charts", "kong") : join(dir, "charts", "kong.tgz");
  cpSync(kong.path, target, { recursive: true });
  return dir;
}

export function removeScratchCharts(): void {
  const cache = join(repoRoot, ".cache");
  if (!existsSync(cache)) return;
  for (const d of readdirSync(cache)) if (d.endsWith(`-${process.pid}`) || d.includes(`-${process.pid}-`)) rmSync(join(cache, d), { recursive: true, force: true });
}

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
