/**
 * chart > helm-unittest: runs the helm-unittest suites (tests/**\/*_test.yaml, one per template)
 * against a scratch copy of the chart with its kong dependency in charts/, and checks that every
 * suite ran and passed.
 */
import { cpSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { removeScratchCharts, run, scratchChart, tool } from "../local/index.js";
import { repoRoot } from "./lib/paths.js";

afterAll(removeScratchCharts);

/** One line of helm-unittest's summary: "Tests: 1 failed, 2 errored, 90 passed, 1 skipped, 93 total". */
interface Counts {
  failed: number;
  errored: number;
  passed: number;
  skipped: number;
  total: number;
}

const ANSI = /\u001b\[[0-9;]*m/g;

function summaryLine(output: string, label: "Charts" | "Test Suites" | "Tests"): Counts | undefined {
  const line = output
    .replace(ANSI, "")
    .split("\n")
    .find((l) => l.startsWith(`${label}:`));
  if (!line) return undefined;
  const count = (word: string) => Number(new RegExp(`(\\d+) ${word}`).exec(line)?.[1] ?? 0);
  if (!/\d+ total/.test(line)) return undefined;
  return { failed: count("failed"), errored: count("errored"), passed: count("passed"), skipped: count("skipped"), total: count("total") };
}

/** The *_test.yaml suites under a chart's tests/ folder, as paths relative to it. */
const suiteFiles = (chart: string): string[] =>
  (readdirSync(join(chart, "tests"), { recursive: true }) as string[])
    .filter((f) => f.endsWith("_test.yaml"))
    .sort();

describe("chart > helm-unittest", () => {
  it("should pass every helm-unittest suite under tests/ if the chart is rendered with its kong dependency", () => {
    const chart = scratchChart({ variant: "tests" });
    cpSync(join(repoRoot, "tests"), join(chart, "tests"), { recursive: true });
    const files = suiteFiles(chart);
    expect(files.length, "no *_test.yaml suite found under tests/").toBeGreaterThan(0);

    const r = run(tool("helm-unittest"), ["--color=false", "-f", "tests/**/*_test.yaml", chart], { cwd: chart });
    const output = `${r.stdout}\n${r.stderr}`;
    const suites = summaryLine(output, "Test Suites");
    const tests = summaryLine(output, "Tests");
    const failed = (c: Counts | undefined) => c === undefined || c.failed + c.errored > 0;
    if (r.status !== 0 || failed(suites) || failed(tests)) console.log(`helm-unittest output:\n${output}`);

    expect(r.status, "helm-unittest exit status (its output is printed above)").toBe(0);
    expect(suites, "helm-unittest printed no `Test Suites:` summary").toBeDefined();
    expect(tests, "helm-unittest printed no `Tests:` summary").toBeDefined();
    expect(suites!.total, `suites run vs *_test.yaml files (${files.join(", ")})`).toBe(files.length);
    expect(suites!.passed).toBe(files.length);
    expect(suites!.failed + suites!.errored).toBe(0);
    expect(tests!.failed + tests!.errored).toBe(0);
    expect(tests!.passed).toBeGreaterThanOrEqual(60);
  });
});
