/**
 * chart > determinism: Argo CD renders with `helm template` and compares with the cluster, so two
 * renders must be byte-identical (the Kong chart's render-time webhook certificate is replaced by
 * cert-manager's or switched off), and nothing may depend on `lookup`, which is empty there.
 */
import { readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { presetFiles, template } from "../lib/chart.js";
import { helms, kongChart, removeScratchCharts } from "../../local/index.js";
import { repoRoot } from "../lib/paths.js";

afterAll(removeScratchCharts);
console.log(`chart > determinism: Kong chart = ${kongChart().kind}`);

const cases = [
  { name: "defaults", values: [] as string[], set: [] as string[] },
  { name: "cert-manager webhook", values: [], set: ["certManager.enabled=true", "kong.ingressController.admissionWebhook.enabled=true"] },
  ...presetFiles().map((f) => ({ name: basename(f, ".yaml"), values: [f], set: [] as string[] })),
];

describe.each(helms)("chart > determinism with $name", (helm) => {
  it.each(cases)("should render $name byte-identically twice", ({ values, set }) => {
    const a = template(helm, { values, set });
    const b = template(helm, { values, set });
    expect(a.status, a.stderr).toBe(0);
    expect(a.stdout.length).toBeGreaterThan(1000);
    expect(b.stdout).toBe(a.stdout);
  });
});

describe("chart > determinism of edge's templates", () => {
  it("should use no lookup and no render-time randomness or clock", () => {
    const files = readdirSync(join(repoRoot, "templates"), { recursive: true, withFileTypes: true })
      .filter((f) => f.isFile())
      .map((f) => join(f.parentPath, f.name));
    expect(files.length).toBeGreaterThan(5);
    for (const file of files) {
      expect(readFileSync(file, "utf8"), file).not.toMatch(/\b(lookup|now|randAlpha|randAlphaNum|randNumeric|randAscii|uuidv4|genCA|genSelfSignedCert|genPrivateKey|genSignedCert)\b/);
    }
  });
});
