/**
 * gen > generate: the in-memory pipeline is deterministic, matches the committed files byte for
 * byte, and a change in the contract reaches every output it should (and only those).
 */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { catalog } from "../../gen/src/catalog.js";
import { contract } from "../../gen/src/contract.js";
import { emitValuesTable } from "../../gen/src/docs.js";
import { defaultOf, int, type Node } from "../../gen/src/dsl.js";
import { generate } from "../../gen/src/generate.js";
import { buildSchema } from "../../gen/src/schema.js";
import { emitTypes } from "../../gen/src/types.js";
import { emitValuesYaml } from "../../gen/src/values-yaml.js";
import { walk } from "../../gen/src/walk.js";
import { repoRoot } from "../lib/paths.js";

const readme = readFileSync(join(repoRoot, "README.md"), "utf8");

/** The node at a dotted path of a contract tree. */
function at(root: Node, path: string): Node {
  let node = root;
  for (const key of path.split(".")) {
    const next = node.properties?.[key];
    if (!next) throw new Error(`no ${path} in the contract (at ${key})`);
    node = next;
  }
  return node;
}

/** Lines of `b` that differ from `a` at the same position (both must have the same length). */
function changedLines(a: string, b: string): string[] {
  const la = a.split("\n");
  const lb = b.split("\n");
  expect(lb.length).toBe(la.length);
  return lb.filter((line, i) => line !== la[i]);
}

describe("gen > generate", () => {
  let first: Map<string, string>;
  beforeAll(async () => {
    first = await generate(readme);
  });

  it("should produce exactly the schema, types, values.yaml, README and one file per preset", () => {
    expect([...first.keys()].sort()).toEqual([
      "README.md",
      "gen/generated/values.ts",
      ...catalog.map((p) => `presets/${p.name}.yaml`),
      "values.schema.json",
      "values.yaml",
    ].sort());
  });

  it("should be idempotent: a second run yields the same paths with byte-identical contents", async () => {
    const second = await generate(readme);
    expect([...second.keys()]).toEqual([...first.keys()]);
    for (const [path, content] of first) expect(Buffer.from(second.get(path)!).equals(Buffer.from(content)), path).toBe(true);
  });

  it("should be a fixed point on README.md: feeding its output back changes nothing", async () => {
    const again = await generate(first.get("README.md")!);
    expect(again.get("README.md")).toBe(first.get("README.md"));
  });

  it("should match every committed file byte for byte (what `npm run gen -- --check` verifies)", () => {
    for (const [path, content] of first) {
      const onDisk = readFileSync(join(repoRoot, path));
      expect(onDisk.equals(Buffer.from(content, "utf8")), `${path} is stale: run \`npm run gen\``).toBe(true);
    }
  });

  it("should leave no file in presets/ that no preset generates", () => {
    const onDisk = readdirSync(join(repoRoot, "presets")).map((f) => `presets/${f}`);
    for (const p of onDisk) expect(first.has(p), p).toBe(true);
  });

  it("should write a values.yaml that parses to the contract's defaults", () => {
    expect(YAML.parse(first.get("values.yaml")!)).toEqual(defaultOf(contract));
  });

  it("should write the schema as 2-space JSON ending in a newline", () => {
    const text = first.get("values.schema.json")!;
    expect(text).toBe(`${JSON.stringify(buildSchema(contract), null, 2)}\n`);
  });

  it("should list every leaf once in the README table, four cells to a row", () => {
    const table = emitValuesTable(contract);
    const rows = table.split("\n").filter((l) => l.startsWith("| `"));
    const leaves = [...walk(contract)].filter((e) => !e.section).map((e) => e.path);
    expect(rows.map((r) => /^\| `([^`]+)`/.exec(r)?.[1])).toEqual(leaves);
    // GFM splits cells on every `|` that is not preceded by a backslash.
    for (const row of rows) expect(row.split(/(?<!\\)\|/).length - 2, row).toBe(4);
    expect(first.get("README.md")).toContain(table.trimEnd());
  });
});

describe("gen > generate > a changed contract", () => {
  const RESYNC = "nodeInit.resyncSeconds";
  let changed: Node;
  beforeAll(() => {
    changed = structuredClone(contract);
    at(changed, RESYNC).default = 45;
  });

  it("should not touch the original contract", () => {
    expect(at(contract, RESYNC).default).toBe(30);
    expect(at(changed, RESYNC).default).toBe(45);
  });

  it("should carry a new default into the schema", () => {
    const schema = buildSchema(changed) as unknown as Node;
    expect(at(schema, RESYNC).default).toBe(45);
    expect(at(buildSchema(contract) as unknown as Node, RESYNC).default).toBe(30);
  });

  it("should carry a new default into values.yaml, on that key's line only", () => {
    const lines = changedLines(emitValuesYaml(contract), emitValuesYaml(changed));
    expect(lines).toEqual(["  resyncSeconds: 45"]);
    expect((YAML.parse(emitValuesYaml(changed)) as { nodeInit: { resyncSeconds: number } }).nodeInit.resyncSeconds).toBe(45);
  });

  it("should carry a new default into the README values table, on that key's row only", () => {
    const lines = changedLines(emitValuesTable(contract), emitValuesTable(changed));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\| `nodeInit\.resyncSeconds` \| integer \(5–3600\) \| `45` \|/);
  });

  it("should leave the TypeScript types unchanged by a default change", async () => {
    expect(await emitTypes(buildSchema(changed))).toBe(await emitTypes(buildSchema(contract)));
  });

  it("should change the TypeScript types when a property is added", async () => {
    const added = structuredClone(contract);
    const nodeInit = at(added, "nodeInit");
    nodeInit.properties = { ...nodeInit.properties, drainSeconds: int("Seconds to wait before removing the rules.", 10) };
    nodeInit.required = Object.keys(nodeInit.properties);
    const before = await emitTypes(buildSchema(contract));
    const after = await emitTypes(buildSchema(added));
    expect(after).not.toBe(before);
    expect(before).not.toContain("drainSeconds");
    expect(after).toMatch(/^\s+drainSeconds: number;$/m);
    expect(after).toContain("Seconds to wait before removing the rules.");
  });
});
