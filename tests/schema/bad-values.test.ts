/**
 * schema > bad values: every file in tests/schema/bad-values/ is refused by both Helm majors before
 * anything renders, and the error names the field to fix. A file's header says which field
 * (`# field:`), why the value is bad (`# why:`) and what refuses it (`# stage:`): `schema` for
 * values.schema.json, `template` for the cross-field rules of templates/validate.yaml. Schema cases
 * are also refused by ajv (strict, draft-07) when merged over the contract's defaults as Helm merges
 * them; template cases are accepted by the schema, so they really test validate.yaml.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv, type ErrorObject } from "ajv";
import { afterAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { contract, defaultOf, helmMerge, type Json } from "../../gen/src/index.js";
import { template } from "../lib/chart.js";
import { helms, removeScratchCharts } from "../../local/index.js";
import { repoRoot } from "../lib/paths.js";

afterAll(removeScratchCharts);

const dir = join(repoRoot, "tests", "schema", "bad-values");

interface BadValues {
  file: string;
  path: string;
  /** The `# field:` path, e.g. `kong.proxy.http.containerPort` or `nodeInit.sourceRanges.0`. */
  field: string;
  why: string;
  stage: "schema" | "template";
  values: Json;
}

/** Reads a corpus file; its leading comment lines carry `field`, `why` and `stage`. */
function load(file: string): BadValues {
  const path = join(dir, file);
  const text = readFileSync(path, "utf8");
  const header: Record<string, string> = {};
  for (const line of text.split("\n")) {
    if (!line.startsWith("#")) break;
    const m = /^#\s*(\w+):\s*(.*?)\s*$/.exec(line);
    if (m?.[1] && m[2] !== undefined) header[m[1]] = m[2];
  }
  const { field, why, stage } = header;
  if (!field || !why) throw new Error(`${file}: header needs \`# field:\` and \`# why:\` lines`);
  if (stage !== "schema" && stage !== "template") throw new Error(`${file}: \`# stage:\` must be schema or template, not ${stage}`);
  return { file, path, field, why, stage, values: YAML.parse(text) as Json };
}

const corpus = readdirSync(dir).filter((f) => f.endsWith(".yaml")).sort().map(load);

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Whether `text` holds `segments` as Helm 3 (`a.b.c`) or Helm 4 (`/a/b/c`) prints a path, not as part of a longer one. */
function hasPath(text: string, segments: readonly string[]): boolean {
  const dotted = new RegExp(`(?<![\\w./])${escape(segments.join("."))}(?![\\w]|[./]\\w)`);
  const slashed = new RegExp(`(?<![\\w./])${escape("/" + segments.join("/"))}(?![\\w]|[./]\\w)`);
  return dotted.test(text) || slashed.test(text);
}

/**
 * Whether Helm's error names `field`: its full path, or for an array item its list, or for an
 * unknown or missing key its parent object together with the key (Helm reports those at the
 * parent: `nodeInit: Additional property foo is not allowed`, `at '/nodeInit': missing property 'namespace'`).
 */
function namesField(stderr: string, field: string): boolean {
  const segments = field.split(".");
  if (hasPath(stderr, segments)) return true;
  const parent = segments.slice(0, -1);
  const key = segments[segments.length - 1] ?? "";
  if (/^\d+$/.test(key)) return parent.length > 0 && hasPath(stderr, parent);
  const keyNamed = new RegExp(`(?<![\\w./])${escape(key)}(?![\\w])`).test(stderr);
  return keyNamed && (parent.length === 0 || hasPath(stderr, parent));
}

/** The same question for ajv's errors (JSON Pointer instance paths). */
function ajvNamesField(errors: readonly ErrorObject[], field: string): boolean {
  const segments = field.split(".");
  const pointer = "/" + segments.join("/");
  const parent = segments.length > 1 ? "/" + segments.slice(0, -1).join("/") : "";
  const key = segments[segments.length - 1];
  return errors.some((e) => {
    if (e.instancePath === pointer) return true;
    if (/^\d+$/.test(key ?? "") && e.instancePath === parent) return true;
    const p = e.params as { additionalProperty?: string; missingProperty?: string };
    return e.instancePath === parent && (p.additionalProperty === key || p.missingProperty === key);
  });
}

describe("schema > bad values corpus", () => {
  it("should hold at least 30 bad values files", () => {
    expect(corpus.length).toBeGreaterThanOrEqual(30);
  });

  it("should name every file in kebab-case", () => {
    expect(corpus.map((c) => c.file).filter((f) => !/^[a-z0-9]+(-[a-z0-9]+)*\.yaml$/.test(f))).toEqual([]);
  });

  it("should exercise both the schema and the template rules", () => {
    expect(corpus.some((c) => c.stage === "schema")).toBe(true);
    expect(corpus.some((c) => c.stage === "template")).toBe(true);
  });
});

// Plain loops rather than .each: test names carry file and field unquoted and untruncated.
for (const helm of helms) {
  describe(`schema > bad values with ${helm.name}`, () => {
    for (const { file, path, field, stage } of corpus) {
      it(`should reject ${file} naming ${field}`, () => {
        const r = template(helm, { values: [path] });
        expect(r.status, r.stderr).not.toBe(0);
        expect(r.stdout).not.toMatch(/^\s*kind:/m);
        expect(r.stderr).toContain(
          stage === "schema" ? "values don't meet the specifications of the schema" : "execution error at (edge/templates/validate.yaml",
        );
        expect(namesField(r.stderr, field), `stderr does not name ${field}:\n${r.stderr}`).toBe(true);
      });
    }
  });
}

describe("schema > bad values with ajv", () => {
  const schema = JSON.parse(readFileSync(join(repoRoot, "values.schema.json"), "utf8")) as object;
  const validate = new Ajv({ strict: true, allErrors: true }).compile(schema);
  const defaults = defaultOf(contract) ?? {};

  it("should accept the defaults", () => {
    expect(validate(defaults), JSON.stringify(validate.errors)).toBe(true);
  });

  for (const { file, field, stage, values } of corpus) {
    if (stage === "schema") {
      it(`should reject ${file} naming ${field}`, () => {
        expect(validate(helmMerge(defaults, values))).toBe(false);
        const errors = validate.errors ?? [];
        expect(ajvNamesField(errors, field), `ajv does not name ${field}: ${JSON.stringify(errors)}`).toBe(true);
      });
    } else {
      it(`should accept ${file} (only templates/validate.yaml rejects it)`, () => {
        expect(validate(helmMerge(defaults, values)), JSON.stringify(validate.errors)).toBe(true);
      });
    }
  }
});
