/**
 * gen > typecheck: the verdict of the last check that passed is reused while the inputs hash the
 * same, and a change to any input (a file under gen/, a tsconfig, package.json, a lockfile, the
 * generated types as produced) changes the hash, so the compiler runs again. Errors are never
 * reused. Runs on a private copy of gen/ and its inputs; the repository itself is never modified.
 */
import { appendFileSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TYPES_PATH } from "../../gen/src/generate.js";
import { inputsHash, typecheck } from "../../gen/src/typecheck.js";
import { repoRoot } from "../lib/paths.js";

let root = "";
const file = (p: string) => join(root, p);
const types = readFileSync(join(repoRoot, TYPES_PATH), "utf8");
const generated = (content = types) => new Map([[TYPES_PATH, content]]);

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "edge-gen-typecheck-"));
  for (const p of ["gen", "tsconfig.json", "package.json", "package-lock.json", "README.md"]) cpSync(join(repoRoot, p), file(p), { recursive: true });
  symlinkSync(join(repoRoot, "node_modules"), file("node_modules"), "dir");
});

afterAll(() => {
  if (!root) return;
  if (existsSync(file("node_modules"))) unlinkSync(file("node_modules")); // the link, never its target
  rmSync(root, { recursive: true, force: true });
});

describe("gen > typecheck > inputsHash", () => {
  const hash = (content?: string) => inputsHash(root, new Map([[file(TYPES_PATH), content ?? types]]));

  it("should hash an unchanged tree the same, and ignore files that are not inputs", () => {
    const before = hash();
    appendFileSync(file("README.md"), "\n");
    expect(hash()).toBe(before);
  });

  it.each([
    { input: "a preset", edit: () => appendFileSync(file("gen/src/presets/ipvs.ts"), "// edited\n") },
    { input: "a new file under gen/src", edit: () => writeFileSync(file("gen/src/added.ts"), "export const added = 1;\n") },
    { input: "a removed file under gen/", edit: () => rmSync(file("gen/src/added.ts")) },
    { input: "gen/tsconfig.json", edit: () => appendFileSync(file("gen/tsconfig.json"), "\n") },
    { input: "tsconfig.json", edit: () => appendFileSync(file("tsconfig.json"), "\n") },
    { input: "package.json", edit: () => appendFileSync(file("package.json"), "\n") },
    { input: "package-lock.json (the compiler's and the types' versions)", edit: () => appendFileSync(file("package-lock.json"), "\n") },
  ])("should change with $input", ({ edit }) => {
    const before = hash();
    edit();
    expect(hash()).not.toBe(before);
  });

  it("should change with the generated types as produced, whatever is on disk", () => {
    expect(hash(`${types}\n`)).not.toBe(hash());
  });
});

describe("gen > typecheck", () => {
  const check = () => typecheck(root, generated());

  it("should run the compiler from a cold cache, then reuse its verdict while no input changed", () => {
    rmSync(file(".cache"), { recursive: true, force: true });
    expect(check()).toEqual({ diagnostics: "", reused: false });
    expect(check()).toEqual({ diagnostics: "", reused: true });
  });

  it("should run the compiler again after an input changed, then reuse that verdict", () => {
    appendFileSync(file("gen/src/presets/single-node.ts"), "// edited\n");
    expect(check()).toEqual({ diagnostics: "", reused: false });
    expect(check()).toEqual({ diagnostics: "", reused: true });
  });

  it("should never reuse a failing verdict, and reuse the passing one once the error is undone", () => {
    const preset = file("gen/src/presets/single-node.ts");
    const original = readFileSync(preset, "utf8");
    expect(check().diagnostics).toBe("");
    try {
      writeFileSync(preset, original.replace("replicaCount: 2,", 'replicaCount: "2",'));
      for (let run = 0; run < 2; run++) {
        const failing = check();
        expect(failing.reused).toBe(false);
        expect(failing.diagnostics).toContain("gen/src/presets/single-node.ts(15,7): error TS2322");
      }
    } finally {
      writeFileSync(preset, original);
    }
    expect(check()).toEqual({ diagnostics: "", reused: true });
  });
});
