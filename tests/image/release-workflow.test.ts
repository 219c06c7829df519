/**
 * release workflow: .github/workflows/*.yaml pass actionlint (which runs shellcheck on every `run:`
 * script), a broken copy does not (so the lint really runs), every action is pinned by commit, and
 * the release builds the image with the tests' build script and signs only with its own identity.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { afterAll, describe, expect, it } from "vitest";
import { repoRoot } from "../../gen/src/files.js";
import { requirePrograms, run } from "../lib/tools.js";
import { releaseArchs } from "./image.js";

// actionlint hands `run:` scripts to shellcheck when it is on PATH; require it so that it does.
requirePrograms("shellcheck");
const actionlint = join(repoRoot, ".tools", "bin", "actionlint");
const workflows = join(repoRoot, ".github", "workflows");
const files = readdirSync(workflows).filter((f) => f.endsWith(".yaml")).map((f) => join(workflows, f));
const release = readFileSync(join(workflows, "release.yaml"), "utf8");
const temps: string[] = [];
afterAll(() => { for (const t of temps) rmSync(t, { recursive: true, force: true }); });

const lint = (paths: string[], cwd = repoRoot) => run(actionlint, ["-no-color", ...paths], { cwd });

interface Job {
  permissions?: Record<string, string>;
  steps: { uses?: string; run?: string }[];
}

describe("release workflow", () => {
  it("should pass actionlint and shellcheck", () => {
    expect(files.map((f) => f.replace(`${repoRoot}/`, ""))).toContain(".github/workflows/release.yaml");
    const r = lint(files);
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("should fail actionlint on a broken copy, naming each fault", () => {
    const dir = mkdtempSync(join(tmpdir(), "edge-actionlint-"));
    temps.push(dir);
    mkdirSync(join(dir, ".github", "workflows"), { recursive: true });
    const broken = release
      .replace("${{ steps.build.outputs.digest }}", "${{ steps.bulid.outputs.digest }}")
      .replace('cosign sign --yes --recursive "$IMAGE@$DIGEST"', "cosign sign --yes --recursive $IMAGE@$DIGEST");
    expect(broken).not.toBe(release);
    const copy = join(dir, ".github", "workflows", "release.yaml");
    writeFileSync(copy, broken);
    const r = lint([copy], dir);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('property "bulid" is not defined');
    expect(r.stdout).toContain("SC2086");
  });

  it("should pin every action by commit, with its release in a comment", () => {
    const uses = [...release.matchAll(/^\s*(?:- )?uses: (.+)$/gm)].map((m) => m[1]!);
    expect(uses.length).toBeGreaterThan(5);
    expect(uses.filter((u) => !/^[\w.-]+\/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$/.test(u))).toEqual([]);
  });

  it("should build every release architecture with the tests' build script, and grant id-token only to the signing job", () => {
    const workflow = parse(release) as { permissions: Record<string, string>; env: { IMAGE: string }; jobs: Record<string, Job> };
    expect(workflow.permissions).toEqual({});
    expect(workflow.env.IMAGE).toBe("ghcr.io/edge-chart/edge-node-init");
    const runs = Object.values(workflow.jobs).flatMap((j) => j.steps.map((s) => s.run ?? ""));
    expect(runs).toContainEqual(expect.stringContaining(`sh images/node-init/build.sh ${releaseArchs.join(" ")}`));
    const withIdToken = Object.entries(workflow.jobs).filter(([, j]) => j.permissions?.["id-token"] === "write").map(([name]) => name);
    expect(withIdToken).toEqual(["publish"]);
    expect(runs.join("\n")).toMatch(/cosign sign --yes --recursive "\$IMAGE@\$DIGEST"/);
    expect(runs.join("\n")).toMatch(/cosign attest --yes --type spdxjson/);
  });
});
