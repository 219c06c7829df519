/**
 * package: `helm package` ships chart files only — from a scratch chart and from a copy of the
 * repository itself, so .helmignore is what keeps the generator, tests and tooling out — the
 * package stays small, and Chart.lock matches Chart.yaml.
 */
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { repoRoot } from "../../gen/src/files.js";
import { removeScratchCharts, scratchChart } from "../lib/chart.js";
import { helms, run } from "../lib/tools.js";

const helm3 = helms[0];
const standIn = join(repoRoot, "tests", "fixtures", "kong-stand-in");
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

/** What the package must hold, relative to its top folder: the chart files and the Kong stand-in. */
const expectedFiles = (): string[] =>
  [
    "Chart.yaml", "Chart.lock", "values.yaml", "values.schema.json", "README.md",
    ...["templates", "files", "presets"].flatMap((d) => filesUnder(join(repoRoot, d)).map((f) => `${d}/${f}`)),
    ...filesUnder(standIn).map((f) => `charts/kong/${f}`),
  ].sort();

const ALLOWED = /^(Chart\.yaml|Chart\.lock|values\.yaml|values\.schema\.json|README\.md|(templates|files|presets|charts)\/.+)$/;
// Root-level tooling, and tooling nested anywhere; templates/tests/ (Helm's place for test hooks) is chart content.
const FORBIDDEN = /^(gen|tests|tools|argocd)\/|(^|\/)(node_modules|\.tools|\.git|\.cache)(\/|$)|(^|\/)(package(-lock)?\.json|tsconfig[^/]*\.json|vitest\.config\.ts|\.gitignore|\.gitattributes|\.helmignore)$/;

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
  const list = run("tar", ["-tzf", tgz]);
  expect(list.status, list.stderr).toBe(0);
  const raw = list.stdout.split("\n").filter((l) => l && !l.endsWith("/"));
  for (const e of raw) expect(e.startsWith("edge/"), e).toBe(true);
  return { tgz, entries: raw.map((e) => e.slice("edge/".length)).sort(), bytes: statSync(tgz).size };
}

function expectChartFilesOnly(p: Packaged): void {
  for (const e of p.entries) {
    expect(e, "not a chart file").toMatch(ALLOWED);
    expect(e, "tooling in the package").not.toMatch(FORBIDDEN);
  }
  expect(p.entries).toEqual(expectedFiles());
}

/** Copies the repository (as a developer has it) with the stand-in in charts/; heavy tool folders get a marker file instead. */
function repoCopy(): string {
  const dir = join(tempDir("repo"), "edge");
  const heavy = new Set(["node_modules", ".git", ".tools", ".cache", "charts"]);
  cpSync(repoRoot, dir, { recursive: true, filter: (src) => !heavy.has(relative(repoRoot, src).split(/[\\/]/)[0] ?? "") });
  for (const d of ["node_modules/some-dep", ".git", ".tools/bin"]) {
    mkdirSync(join(dir, d), { recursive: true });
    writeFileSync(join(dir, d, "marker"), "must not be packaged\n");
  }
  cpSync(standIn, join(dir, "charts", "kong"), { recursive: true });
  return dir;
}

describe("package", () => {
  it("should package a scratch chart with exactly the chart files", () => {
    const p = packageChart(scratchChart(), "scratch");
    expectChartFilesOnly(p);
  });

  it("should keep generator, tests and tooling out when packaging the repository itself (.helmignore)", () => {
    const copy = repoCopy();
    // The copy really holds what .helmignore must drop.
    for (const f of ["gen/src/contract.ts", "tests/lib/chart.ts", "tools/install.sh", "package.json", "tsconfig.json", "node_modules/some-dep/marker", ".tools/bin/marker"]) {
      expect(statSync(join(copy, f)).isFile(), f).toBe(true);
    }
    const p = packageChart(copy, "repo");
    expectChartFilesOnly(p);
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

