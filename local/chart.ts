/**
 * Scratch copies of the chart: the repository's chart files plus a `kong` dependency in charts/,
 * either the real Kong chart (when present) or the stand-in chart beside this file
 * (kong-chart-stand-in: NOT Kong's chart; a Deployment and NodePort Service of the same shape, and
 * a ConfigMap that records the values Kong received).
 */
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { repoRoot } from "./sys/paths.js";

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
  return { kind: "stand-in", path: join(import.meta.dirname, "kong-chart-stand-in") };
}

/**
 * Builds (once per process, kong chart and `variant`) a scratch chart directory and returns its
 * path; a `variant` is a copy of its own, which its caller may add files to.
 */
export function scratchChart(options: { variant?: string; kong?: KongChart } = {}): string {
  const kong = options.kong ?? kongChart();
  const dir = join(repoRoot, ".cache", `chart-${kong.kind}-${process.pid}${options.variant ? `-${options.variant}` : ""}`, "edge");
  if (existsSync(dir)) return dir;
  mkdirSync(join(dir, "charts"), { recursive: true });
  for (const f of CHART_FILES) if (existsSync(join(repoRoot, f))) cpSync(join(repoRoot, f), join(dir, f), { recursive: true });
  const target = statSync(kong.path).isDirectory() ? join(dir, "charts", "kong") : join(dir, "charts", "kong.tgz");
  cpSync(kong.path, target, { recursive: true });
  return dir;
}

export function removeScratchCharts(): void {
  const cache = join(repoRoot, ".cache");
  if (!existsSync(cache)) return;
  for (const d of readdirSync(cache)) if (d.endsWith(`-${process.pid}`) || d.includes(`-${process.pid}-`)) rmSync(join(cache, d), { recursive: true, force: true });
}

