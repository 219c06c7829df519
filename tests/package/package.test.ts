/**
 * package: `helm package` ships chart files only — from a scratch chart and from a copy of the
 * repository itself, so .helmignore is what keeps the generator, tests and tooling out — the
 * package stays small, a Kong chart vendored under charts/ (a directory or a .tgz) ships as it is,
 * and Chart.lock matches Chart.yaml.
 */
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { helms, kongChart, removeScratchCharts, run, scratchChart } from "../../local/index.js";
import { repoRoot } from "../lib/paths.js";

const helm3 = helms[0];
const standIn = join(repoRoot, "local", "kong-chart-stand-in");
const temps: string[] = [];

afterAll(() => {
  removeScratchCharts();
  for (const t of temps) rmSync(t, { recursive: true, force: true });
});

function tempDir(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `edge-package-${label}-`));
  temps.push(dir);
  return dir;
}

/** Files under `dir`, relative to it, with `/` separators. */
function filesUnder(dir: string, base = dir): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? filesUnder(p, base) : [relative(base, p).split("\\").join("/")];
  });
}

/** The files (not folders) a .tgz holds, with `/` separators. */
function tgzFiles(tgz: string): string[] {
  const list = run("tar", ["-tzf", tgz]);
  expect(list.status, list.stderr).toBe(0);
  return list.stdout.split("\n").filter((l) => l && !l.endsWith("/"));
}

/**
 * The files of a `kong` dependency as the package holds them under charts/kong/: a chart
 * directory whole (Helm applies only the parent's .helmignore, none of the subchart's own), a .tgz
 * as it was packaged (without its top folder).
 */
function subchartFiles(kong: string): string[] {
  if (statSync(kong).isDirectory()) return filesUnder(kong);
  return tgzFiles(kong).map((e) => e.slice(e.indexOf("/") + 1));
}

/** What the package must hold, relative to its top folder: the chart files and the `kong` dependency. */
const expectedFiles = (kong: string): string[] =>
  [
    "Chart.yaml", "Chart.lock", "values.yaml", "values.schema.json", "README.md", "CHANGELOG.md",
    ...["templates", "files", "presets"].flatMap((d) => filesUnder(join(repoRoot, d)).map((f) => `${d}/${f}`)),
    ...subchartFiles(kong).map((f) => `charts/kong/${f}`),
  ].sort();

const ALLOWED = /^(Chart\.yaml|Chart\.lock|values\.yaml|values\.schema\.json|README\.md|CHANGELOG\.md|(templates|files|presets|charts)\/.+)$/;
// What .helmignore keeps out: the repository's own folders and files at the root (templates/tests/,
// Helm's place for test hooks, is chart content), and node_modules/ anywhere. A subchart under
// charts/ is not ours: it keeps its own files, its .helmignore or CHANGELOG.md included.
const FORBIDDEN = /^(gen|tests|tools|argocd|images|\.git|\.github|\.tools|\.cache)(\/|$)|^(package(-lock)?\.json|tsconfig[^/]*\.json|vitest\.config\.ts|\.gitignore|\.gitattributes|\.helmignore|renovate\.json)$|(^|\/)node_modules\//;

interface Packaged {
  tgz: string;
  entries: string[];
  bytes: number;
}

/** `helm3 package <chart>` into a fresh directory; the entries are relative to the `edge/` folder. */
function packageChart(chart: string, label: string): Packaged {
  const out = tempDir(label);
  const r = run(helm3.path, ["package", chart, "--destination", out]);
  expect(r.status, r.stderr).toBe(0);
  const tgz = join(out, "edge-0.1.0.tgz");
  const raw = tgzFiles(tgz);
  for (const e of raw) expect(e.startsWith("edge/"), e).toBe(true);
  return { tgz, entries: raw.map((e) => e.slice("edge/".length)).sort(), bytes: statSync(tgz).size };
}

/** `kong` is the dependency the packaged chart holds in charts/ (a directory or a .tgz). */
function expectChartFilesOnly(p: Packaged, kong: string): void {
  for (const e of p.entries) {
    expect(e, "not a chart file").toMatch(ALLOWED);
    expect(e, "tooling in the package").not.toMatch(FORBIDDEN);
  }
  expect(p.entries).toEqual(expectedFiles(kong));
}

/**
 * Copies the repository (as a developer has it) with a `kong` dependency in charts/ (the stand-in
 * unless given: a chart directory becomes charts/kong/, a .tgz keeps its name); heavy tool folders
 * get a marker file instead.
 */
function repoCopy(kong = standIn): string {
  const dir = join(tempDir("repo"), "edge");
  const heavy = new Set(["node_modules", ".git", ".tools", ".cache", "charts"]);
  cpSync(repoRoot, dir, { recursive: true, filter: (src) => !heavy.has(relative(repoRoot, src).split(/[\\/]/)[0] ?? "") });
  for (const d of ["node_modules/some-dep", ".git", ".tools/bin"]) {
    mkdirSync(join(dir, d), { recursive: true });
    writeFileSync(join(dir, d, "marker"), "must not be packaged\n");
  }
  const target = statSync(kong).isDirectory() ? "kong" : basename(kong);
  cpSync(kong, join(dir, "charts", target), { recursive: true });
  return dir;
}

/**
 * The stand-in as a vendored chart directory carries it: with its own .helmignore (dropping ci/
 * and itself, as the Kong chart's does), a ci/ folder and a CHANGELOG.md.
 */
function vendoredStandIn(): string {
  const dir = join(tempDir("vendored"), "kong");
  cpSync(standIn, dir, { recursive: true });
  writeFileSync(join(dir, ".helmignore"), "ci/\n.helmignore\n");
  mkdirSync(join(dir, "ci"));
  writeFileSync(join(dir, "ci", "test-values.yaml"), "{}\n");
  writeFileSync(join(dir, "CHANGELOG.md"), "# Changelog\n");
  return dir;
}

describe("package", () => {
  it("should package a scratch chart with exactly the chart files", () => {
    const p = packageChart(scratchChart(), "scratch");
    expectChartFilesOnly(p, kongChart().path);
  });

  it("should keep generator, tests and tooling out when packaging the repository itself (.helmignore)", () => {
    const copy = repoCopy();
    // The copy really holds what .helmignore must drop.
    for (const f of ["gen/src/contract.ts", "tests/lib/chart.ts", "tools/install.sh", "package.json", "tsconfig.json", "node_modules/some-dep/marker", ".tools/bin/marker"]) {
      expect(statSync(join(copy, f)).isFile(), f).toBe(true);
    }
    const p = packageChart(copy, "repo");
    expectChartFilesOnly(p, standIn);
    console.log(`package: edge-0.1.0.tgz (repository copy, Kong stand-in) is ${p.bytes} bytes`);
    expect(p.bytes).toBeLessThan(200 * 1024);
  });

  // tests/lib/chart.ts builds scratch charts under .cache/; an interrupted run must not ship them.
  it("should leave .cache/ (test scratch charts) out of the package", () => {
    const copy = repoCopy();
    mkdirSync(join(copy, ".cache", "chart-stand-in-1", "edge"), { recursive: true });
    writeFileSync(join(copy, ".cache", "chart-stand-in-1", "edge", "Chart.yaml"), "apiVersion: v2\nname: edge\nversion: 0.1.0\n");
    const p = packageChart(copy, "repo-cache");
    expect(p.entries.filter((e) => e.startsWith(".cache/"))).toEqual([]);
  });
});

describe("package > a Kong chart vendored under charts/", () => {
  it("should ship a chart directory whole, its own .helmignore and the files it names included", () => {
    const kong = vendoredStandIn();
    const p = packageChart(repoCopy(kong), "vendored-dir");
    expectChartFilesOnly(p, kong);
    for (const f of [".helmignore", "ci/test-values.yaml", "CHANGELOG.md"]) expect(p.entries).toContain(`charts/kong/${f}`);
  });

  it("should ship a .tgz as its `helm package` made it (its .helmignore applied then)", () => {
    const out = tempDir("vendored-tgz");
    const r = run(helm3.path, ["package", vendoredStandIn(), "--destination", out]);
    expect(r.status, r.stderr).toBe(0);
    const kong = join(out, "kong-3.4.1.tgz");
    const p = packageChart(repoCopy(kong), "vendored-tgz");
    expectChartFilesOnly(p, kong);
    expect(p.entries).toContain("charts/kong/CHANGELOG.md");
    for (const f of [".helmignore", "ci/test-values.yaml"]) expect(p.entries).not.toContain(`charts/kong/${f}`);
  });
});

describe.each(helms)("package > Chart.lock with $name", (helm) => {
  /** `helm dependency build` in a directory holding only Chart.yaml and Chart.lock, with empty Helm homes. */
  function dependencyBuild(edit?: (chartYaml: string) => string) {
    const dir = tempDir("lock");
    cpSync(join(repoRoot, "Chart.lock"), join(dir, "Chart.lock"));
    cpSync(join(repoRoot, "Chart.yaml"), join(dir, "Chart.yaml"));
    if (edit) {
      const path = join(dir, "Chart.yaml");
      const before = readFileSync(path, "utf8");
      const after = edit(before);
      expect(after, "the edit changed Chart.yaml").not.toBe(before);
      writeFileSync(path, after);
    }
    const home = join(dir, ".helm-home");
    return run(helm.path, ["dependency", "build", dir], {
      env: {
        ...process.env,
        HELM_CACHE_HOME: join(home, "cache"),
        HELM_CONFIG_HOME: join(home, "config"),
        HELM_DATA_HOME: join(home, "data"),
      },
    });
  }

  it("should pass the lock check, then stop at the (unavailable) repository", () => {
    const r = dependencyBuild();
    expect(r.status).not.toBe(0);
    expect(r.stderr).not.toMatch(/out of sync/);
    expect(r.stderr).toContain("https://charts.konghq.com");
  });

  it("should report a lock out of sync when Chart.yaml's dependency changes (the check above is live)", () => {
    const r = dependencyBuild((y) => y.replace(/(- name: kong\n\s+version: )3\.4\.1/, (_, head: string) => `${head}3.4.2`));
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/out of sync/);
  });
});

