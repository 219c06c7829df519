/**
 * gen > preset-yaml: every preset of the catalog satisfies the schema once merged over the
 * defaults the way Helm merges values files, a preset that does not is refused by name and path,
 * and the merge itself follows Helm (maps merge, lists and scalars replace, null deletes).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { catalog } from "../../gen/src/catalog.js";
import { contract } from "../../gen/src/contract.js";
import type { Preset } from "../../gen/src/define-preset.js";
import { defaultOf, type Json } from "../../gen/src/dsl.js";
import { emitPreset, helmMerge, validatePreset } from "../../gen/src/preset-yaml.js";
import { buildSchema } from "../../gen/src/schema.js";
import { walk } from "../../gen/src/walk.js";
import { repoRoot } from "../lib/paths.js";

const schema = buildSchema(contract);
const defaults = defaultOf(contract) ?? null;

const preset = (name: string, values: unknown): Preset =>
  ({ name, summary: "Test preset.", description: ["A test preset."], values }) as Preset;

/** `{ a: { b: value } }` for the path `a.b`. */
const valuesAt = (path: string, value: Json): Json =>
  path.split(".").reduceRight<Json>((inner, key) => ({ [key]: inner }), value);

/** The message validatePreset throws for `values`, or undefined when it accepts them. */
function refusal(values: Json, name = "bad-preset"): string | undefined {
  try {
    validatePreset(schema, defaults, preset(name, values));
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/** Keys without a default: forbidden ones (`not: {}`) and optional ones checked only when set. */
const leaves = [...walk(contract)].filter((e) => !e.section && e.node.default === undefined);
const forbiddenKeys = leaves.filter((e) => e.node.not !== undefined && e.node.type === undefined).map((e) => e.path);
// A type list (`string,null`) is named as Ajv names it.
const optionalKeys = leaves.filter((e) => e.node.type !== undefined).map((e) => ({ path: e.path, type: [e.node.type].flat().join(",") }));
const wrongValue = (type: string): Json => (type.split(",").includes("string") ? 1 : "not-a-" + type);

describe("gen > preset-yaml", () => {
  it.each(catalog.map((p) => ({ name: p.name, p })))("should accept the $name preset", ({ p }) => {
    expect(() => validatePreset(schema, defaults, p)).not.toThrow();
  });

  it("should name presets uniquely in kebab-case", () => {
    const names = catalog.map((p) => p.name);
    expect(new Set(names).size).toBe(names.length);
    for (const n of names) expect(n).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
  });

  it.each(catalog.map((p) => ({ name: p.name, p })))("should write presets/$name.yaml as the preset's values under its header", ({ name, p }) => {
    const text = emitPreset(p);
    expect(text).toBe(readFileSync(join(repoRoot, "presets", `${name}.yaml`), "utf8"));
    expect(text.split("\n")[0]).toBe(`# Preset \`${name}\`: ${p.summary}`);
    expect(YAML.parse(text)).toEqual(p.values);
  });

  it.each([
    { why: "an integer below its minimum", values: { nodeInit: { resyncSeconds: 1 } }, path: "/nodeInit/resyncSeconds", message: "must be >= 5" },
    { why: "a number where an integer belongs", values: { nodeInit: { resyncSeconds: 30.5 } }, path: "/nodeInit/resyncSeconds", message: "must be integer" },
    { why: "a key the chart does not know", values: { nodeInit: { bogus: true } }, path: "/nodeInit", message: "must NOT have additional properties" },
    { why: "a pinned value changed", values: { kong: { deployment: { hostNetwork: true } } }, path: "/kong/deployment/hostNetwork", message: "must be equal to constant" },
    { why: "an enum value outside its set", values: { nodeInit: { method: "ipvs" } }, path: "/nodeInit/method", message: "must be equal to one of the allowed values" },
    { why: "a CIDR that is not one", values: { nodeInit: { sourceRanges: ["10.0.0.0/33"] } }, path: "/nodeInit/sourceRanges/0", message: "must match pattern" },
    { why: "a required key deleted with null", values: { nodeInit: { image: { tag: null } } }, path: "/nodeInit/image", message: "must have required property 'tag'" },
  ])("should refuse $why, naming the preset and the path", ({ values, path, message }) => {
    const text = refusal(values as unknown as Json);
    expect(text).toBeDefined();
    expect(text).toContain("preset bad-preset does not satisfy values.schema.json");
    expect(text).toContain(`${path} ${message}`);
  });

  it("should refuse a value for every forbidden key, naming it", () => {
    for (const path of forbiddenKeys) {
      expect(refusal(valuesAt(path, 8080)), path).toContain(`/${path.replaceAll(".", "/")} must NOT be valid`);
    }
  });

  it("should check every optional key when it is set", () => {
    for (const { path, type } of optionalKeys) {
      expect(refusal(valuesAt(path, wrongValue(type))), path).toContain(`/${path.replaceAll(".", "/")} must be ${type}`);
    }
  });

  it("should report every failing field of a preset at once", () => {
    const bad = preset("two-faults", { nodeInit: { resyncSeconds: 1, method: "ipvs" } });
    expect(() => validatePreset(schema, defaults, bad)).toThrow(/\/nodeInit\/resyncSeconds[\s\S]*\/nodeInit\/method|\/nodeInit\/method[\s\S]*\/nodeInit\/resyncSeconds/);
  });
});

describe("gen > preset-yaml > helmMerge", () => {
  it.each<{ rule: string; base: Json; override: Json; merged: Json }>([
    { rule: "maps merge key by key", base: { a: 1, b: 2 }, override: { b: 3, c: 4 }, merged: { a: 1, b: 3, c: 4 } },
    { rule: "nested maps merge", base: { a: { x: 1, y: 2 } }, override: { a: { y: 3 } }, merged: { a: { x: 1, y: 3 } } },
    { rule: "lists replace, never concatenate", base: { l: [1, 2, 3] }, override: { l: [4] }, merged: { l: [4] } },
    { rule: "an empty list replaces", base: { l: [1] }, override: { l: [] }, merged: { l: [] } },
    { rule: "a list of maps replaces whole", base: { l: [{ a: 1, b: 2 }] }, override: { l: [{ a: 9 }] }, merged: { l: [{ a: 9 }] } },
    { rule: "scalars replace", base: { s: "a", n: 1, t: true }, override: { s: "b", n: 0, t: false }, merged: { s: "b", n: 0, t: false } },
    { rule: "null deletes a scalar", base: { a: 1, b: 2 }, override: { a: null }, merged: { b: 2 } },
    { rule: "null deletes a whole map", base: { a: { x: 1 }, b: 2 }, override: { a: null }, merged: { b: 2 } },
    { rule: "null deletes deep inside a map", base: { a: { x: 1, y: 2 } }, override: { a: { x: null } }, merged: { a: { y: 2 } } },
    { rule: "null for an absent key adds nothing", base: { a: 1 }, override: { z: null }, merged: { a: 1 } },
    { rule: "a map replaces a scalar", base: { a: 1 }, override: { a: { x: 1 } }, merged: { a: { x: 1 } } },
    { rule: "a scalar replaces a map", base: { a: { x: 1 } }, override: { a: "flat" }, merged: { a: "flat" } },
    { rule: "an empty map changes nothing", base: { a: { x: 1 } }, override: { a: {} }, merged: { a: { x: 1 } } },
  ])("should follow Helm: $rule", ({ base, override, merged }) => {
    const baseCopy = structuredClone(base);
    const overrideCopy = structuredClone(override);
    expect(helmMerge(base, override)).toEqual(merged);
    expect(base, "base is not mutated").toEqual(baseCopy);
    expect(override, "override is not mutated").toEqual(overrideCopy);
  });

  it("should merge a real preset over the defaults without losing sibling keys", () => {
    const ipvs = catalog.find((p) => p.name === "ipvs")!;
    const merged = helmMerge(defaults, ipvs.values as Json) as { nodeInit: Record<string, Json> };
    const base = (defaults as { nodeInit: Record<string, Json> }).nodeInit;
    expect(merged.nodeInit).toEqual({ ...base, method: "iptables-redirect" });
  });
});
