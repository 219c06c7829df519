/**
 * gen > schema: the contract is fully typed and documented, closed wherever the chart owns the
 * keys, integer where it counts, RE2-safe in its patterns, and builds a self-contained draft-07
 * document.
 */
import { Ajv } from "ajv";
import type { JSONSchema7, JSONSchema7Definition } from "json-schema";
import { describe, expect, it } from "vitest";
import { contract, kongImage } from "../../gen/src/contract.js";
import { defaultOf, type Node, obj, str } from "../../gen/src/dsl.js";
import { assertDocumented, buildSchema } from "../../gen/src/schema.js";
import { walk } from "../../gen/src/walk.js";

const schema = buildSchema(contract);
const entries = [...walk(contract)];

/** Paths of keys their parent requires (a default is always merged); the others are optional. */
const requiredPaths = new Set<string>(["(root)"]);
for (const parent of [{ path: "", node: contract }, ...entries.filter((e) => e.section)]) {
  for (const key of parent.node.required ?? []) requiredPaths.add(parent.path ? `${parent.path}.${key}` : key);
}
/** A key that must stay unset: `not: {}` accepts nothing, so it carries no type. */
const isForbidden = (node: Node): boolean => node.not !== undefined && node.type === undefined;

/**
 * The objects handed to the Kong subchart that stay open so Kong's own values keep working.
 * Every other object with named properties is the chart's and must be closed.
 */
const OPEN = [
  "kong",
  "kong.deployment",
  "kong.image",
  "kong.autoscaling",
  "kong.podDisruptionBudget",
  "kong.securityContext",
  "kong.securityContext.seccompProfile",
  "kong.containerSecurityContext.seccompProfile",
  "kong.proxy",
  "kong.proxy.http",
  "kong.proxy.tls",
  "kong.resources",
  "kong.resources.requests",
  "kong.resources.limits",
  "kong.admin",
  "kong.manager",
  "kong.ingressController",
  "kong.ingressController.image",
  "kong.ingressController.resources",
  "kong.ingressController.resources.requests",
  "kong.ingressController.resources.limits",
  "kong.ingressController.admissionWebhook",
  "kong.ingressController.admissionWebhook.certificate",
];

interface SchemaAt {
  path: string;
  node: JSONSchema7;
}

/** Every subschema of a schema document (not the data in default/const/enum), with a JSON pointer. */
function* subschemas(node: JSONSchema7Definition, path = ""): Generator<SchemaAt> {
  if (typeof node === "boolean") return;
  yield { path: path || "/", node };
  const maps = ["properties", "patternProperties", "definitions"] as const;
  for (const m of maps) for (const [k, c] of Object.entries(node[m] ?? {})) yield* subschemas(c, `${path}/${m}/${k}`);
  const singles = ["additionalProperties", "additionalItems", "contains", "not", "if", "then", "else", "propertyNames"] as const;
  for (const s of singles) if (node[s] !== undefined) yield* subschemas(node[s] as JSONSchema7Definition, `${path}/${s}`);
  if (Array.isArray(node.items)) {
    for (const [i, c] of node.items.entries()) yield* subschemas(c, `${path}/items/${i}`);
  } else if (node.items !== undefined) yield* subschemas(node.items, `${path}/items`);
  for (const a of ["allOf", "anyOf", "oneOf"] as const) {
    for (const [i, c] of (node[a] ?? []).entries()) yield* subschemas(c, `${path}/${a}/${i}`);
  }
}

const all = [...subschemas(schema)];
const patterns = all.filter((s) => typeof s.node.pattern === "string").map((s) => ({ path: s.path, pattern: s.node.pattern! }));

describe("gen > schema > documentation", () => {
  it("should document and type the root", () => {
    expect(contract.type).toBe("object");
    expect(contract.description.trim()).not.toBe("");
  });

  it.each(entries.map((e) => ({ path: e.path, node: e.node })))("should type (or forbid) and describe $path", ({ node }) => {
    const typedBranches = node.anyOf !== undefined && node.anyOf.every((b) => typeof b === "object" && b.type !== undefined);
    expect(node.type !== undefined || typedBranches || isForbidden(node), "type").toBe(true);
    expect(typeof node.description, "description").toBe("string");
    expect(node.description.trim().length, "description").toBeGreaterThan(0);
  });

  it("should type the items of every list", () => {
    const lists = entries.filter((e) => e.node.type === "array" && e.node.items !== undefined);
    expect(lists.length).toBeGreaterThan(0);
    for (const e of lists) expect((e.node.items as JSONSchema7).type, e.path).toBeTruthy();
  });

  it("should give every required leaf a default (values.yaml is made of them) and no optional key one", () => {
    for (const e of entries.filter((x) => !x.section)) {
      if (requiredPaths.has(e.path)) expect(e.node.default, e.path).not.toBeUndefined();
      else expect(e.node.default, `${e.path} is optional`).toBeUndefined();
    }
  });

  it("should keep optional keys out of required and sections always required", () => {
    for (const e of entries.filter((x) => x.section)) expect(requiredPaths.has(e.path), e.path).toBe(true);
  });

  it("should accept the contract", () => {
    expect(() => assertDocumented(contract)).not.toThrow();
  });
});

describe("gen > schema > assertDocumented", () => {
  const untyped = { description: "No type." } as Node;
  const undescribed = { type: "string", description: "   " } as Node;
  const missingDescription = { type: "integer" } as unknown as Node;

  it.each([
    { name: "an untyped root", tree: untyped, message: "(root): schema node has no type" },
    { name: "a root with a blank description", tree: undescribed, message: "(root): schema node has no description" },
    { name: "a root without description", tree: missingDescription, message: "(root): schema node has no description" },
    { name: "an untyped leaf", tree: obj("Root.", { a: untyped }), message: "a: schema node has no type" },
    {
      name: "a deep leaf without description",
      tree: obj("Root.", { a: obj("A.", { b: obj("B.", { c: missingDescription }) }) }),
      message: "a.b.c: schema node has no description",
    },
    {
      name: "an untyped section",
      tree: obj("Root.", { ok: str("Fine.", "x"), a: { description: "A.", properties: { b: str("B.", "y") } } as Node }),
      message: "a: schema node has no type",
    },
  ])("should throw on $name, naming its path", ({ tree, message }) => {
    expect(() => assertDocumented(tree)).toThrow(message);
    expect(() => buildSchema(tree)).toThrow(message);
  });

  it("should accept a small documented tree", () => {
    expect(() => assertDocumented(obj("Root.", { a: obj("A.", { b: str("B.", "x") }) }))).not.toThrow();
  });
});

describe("gen > schema > strictness", () => {
  const objects = [{ path: "(root)", node: contract }, ...entries.filter((e) => e.section)];

  it.each(objects.map((o) => ({ path: o.path, node: o.node, open: OPEN.includes(o.path) })))(
    "should make $path closed unless it is listed open (open: $open)",
    ({ node, open }) => {
      expect(node.additionalProperties).toBe(open ? true : false);
      // Every key with a default is required (Helm always merges it); only keys without one may be absent.
      const keys = Object.keys(node.properties ?? {});
      const withDefault = keys.filter((k) => defaultOf(node.properties![k]!) !== undefined);
      expect(node.required).toEqual(withDefault);
    },
  );

  it("should open only objects handed to the Kong subchart, and list only objects that exist", () => {
    const sections = new Set(objects.map((o) => o.path));
    for (const p of OPEN) {
      expect(sections.has(p), p).toBe(true);
      expect(p === "kong" || p.startsWith("kong."), p).toBe(true);
    }
  });

  it("should type every number as integer, never number", () => {
    for (const { path, node } of all) {
      const types = ([] as unknown[]).concat(node.type ?? []);
      expect(types, path).not.toContain("number");
    }
  });

  it.each(entries.filter((e) => typeof e.node.default === "number").map((e) => ({ path: e.path, node: e.node })))(
    "should make the numeric leaf $path an integer",
    ({ node }) => {
      expect(node.type).toBe("integer");
      expect(Number.isInteger(node.default)).toBe(true);
      for (const bound of [node.minimum, node.maximum]) if (bound !== undefined) expect(Number.isInteger(bound)).toBe(true);
    },
  );
});

describe("gen > schema > patterns", () => {
  it("should have patterns to check", () => {
    expect(patterns.length).toBeGreaterThanOrEqual(8);
  });

  it.each(patterns)("should compile $path as a JS RegExp, with and without the u flag Ajv uses", ({ pattern }) => {
    expect(() => new RegExp(pattern)).not.toThrow();
    expect(() => new RegExp(pattern, "u")).not.toThrow();
  });

  it.each(patterns)("should keep $path RE2-compatible (no lookaround, backreference or atomic group)", ({ pattern }) => {
    for (const construct of ["(?=", "(?!", "(?<=", "(?<!", "(?>"]) expect(pattern).not.toContain(construct);
    expect(pattern).not.toMatch(/\\[1-9]|\\k</);
  });

  it.each(patterns)("should anchor $path at both ends (JSON Schema patterns match anywhere)", ({ pattern }) => {
    expect(pattern.startsWith("^")).toBe(true);
    expect(pattern.endsWith("$")).toBe(true);
  });
});

describe("gen > schema > document", () => {
  it("should declare JSON Schema draft-07", () => {
    expect(schema.$schema).toBe("http://json-schema.org/draft-07/schema#");
  });

  it("should hold no $ref anywhere (self-contained)", () => {
    expect(JSON.stringify(schema)).not.toContain("$ref");
    for (const { path, node } of all) expect(node.$ref, path).toBeUndefined();
  });

  it("should carry the generated-file note and the root description", () => {
    expect(schema.$comment).toMatch(/npm run gen/);
    expect(schema.description).toBe(contract.description);
    expect(schema.type).toBe("object");
  });

  it("should not change the contract it is built from", () => {
    const before = JSON.stringify(contract);
    buildSchema(contract);
    expect(JSON.stringify(contract)).toBe(before);
  });
});

describe("gen > schema > Kong's images", () => {
  const digest = `sha256:${"0f".repeat(32)}`;
  const validate = (node: Node) => new Ajv({ strict: true, allErrors: true }).compile(node);

  it("should accept a tag, or a pinned tag only with effectiveSemver", () => {
    const check = validate(kongImage("Kong.", "kong", "3.9"));
    expect(check({ repository: "kong", tag: "3.9" })).toBe(true);
    expect(check({ repository: "kong", tag: "3.9", effectiveSemver: null })).toBe(true);
    expect(check({ repository: "kong", tag: `3.9@${digest}`, effectiveSemver: "3.9" })).toBe(true);
    expect(check({ repository: "kong", tag: `3.9@${digest}` })).toBe(false);
    expect(check.errors?.map((e) => e.message)).toContain("must have required property 'effectiveSemver'");
    expect(check({ repository: "kong", tag: `3.9@${digest}`, effectiveSemver: null })).toBe(false);
    expect(check.errors?.map((e) => `${e.instancePath} ${e.message}`)).toContain("/effectiveSemver must be string");
  });

  it("should give a default pinned to a digest its version as effectiveSemver, and that default should validate", () => {
    const node = kongImage("Kong.", "kong", `3.10.1@${digest}`);
    const def = defaultOf(node);
    expect(def).toEqual({ repository: "kong", tag: `3.10.1@${digest}`, effectiveSemver: "3.10.1" });
    expect(validate(node)(def)).toBe(true);
    expect(node.required).toContain("effectiveSemver");
    expect(defaultOf(kongImage("Kong.", "kong", "3.9"))).toEqual({ repository: "kong", tag: "3.9" });
  });
});
