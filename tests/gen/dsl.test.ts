/**
 * gen > dsl: the contract constructors refuse what the schema could not describe (no description,
 * a fractional integer, an enum default outside its values) and `defaultOf` collects the defaults
 * values.yaml is made of.
 */
import { describe, expect, it } from "vitest";
import { bool, defaultOf, int, list, map, obj, oneOf, passthrough, pinned, str, type Node } from "../../gen/src/dsl.js";

describe("gen > dsl", () => {
  it.each([
    { name: "str", make: () => str("  ", "x") },
    { name: "int", make: () => int("", 1) },
    { name: "bool", make: () => bool("\t", true) },
    { name: "oneOf", make: () => oneOf(" ", ["a", "b"], "a") },
    { name: "pinned", make: () => pinned("", true) },
    { name: "list", make: () => list("", { type: "string" }) },
    { name: "map", make: () => map("") },
    { name: "passthrough", make: () => passthrough("", {}) },
    { name: "obj", make: () => obj(" ", {}) },
  ])("should refuse a blank description in $name", ({ make }) => {
    expect(make).toThrow(/no description/);
  });

  it("should refuse an integer default that is not whole", () => {
    expect(() => int("Seconds.", 1.5)).toThrow(/integer default 1.5 is not whole: Seconds\./);
  });

  it("should refuse an enum default outside its values", () => {
    expect(() => oneOf("Mode.", ["a", "b"] as const, "c" as "a")).toThrow(/default c is not one of a, b/);
  });

  it.each([
    { name: "str", node: str("d", "x"), type: "string" },
    { name: "int", node: int("d", 1), type: "integer" },
    { name: "bool", node: bool("d", false), type: "boolean" },
    { name: "oneOf", node: oneOf("d", ["a"], "a"), type: "string" },
    { name: "pinned boolean", node: pinned("d", false), type: "boolean" },
    { name: "pinned number", node: pinned("d", 0), type: "integer" },
    { name: "pinned string", node: pinned("d", "x"), type: "string" },
    { name: "list", node: list("d", { type: "string" }), type: "array" },
    { name: "map", node: map("d"), type: "object" },
    { name: "passthrough list", node: passthrough("d", []), type: "array" },
    { name: "passthrough object", node: passthrough("d", {}), type: "object" },
    { name: "obj", node: obj("d", {}), type: "object" },
  ])("should give $name the explicit type $type", ({ node, type }) => {
    expect(node.type).toBe(type);
    expect(node.description).toBe("d");
  });

  it("should close objects unless told they are open, and require every key", () => {
    const closed = obj("d", { a: str("A.", "x"), b: int("B.", 1) });
    expect(closed.additionalProperties).toBe(false);
    expect(closed.required).toEqual(["a", "b"]);
    expect(obj("d", {}, { open: true }).additionalProperties).toBe(true);
  });

  it("should pin a value with const and default alike", () => {
    expect(pinned("d", "RollingUpdate")).toMatchObject({ const: "RollingUpdate", default: "RollingUpdate" });
  });

  it("should collect the defaults of a tree (objects from their properties)", () => {
    const tree: Node = obj("root", {
      a: obj("A", { b: int("B", 3), c: list("C", { type: "string" }, ["x"]) }),
      d: map("D", { k: "v" }),
      e: passthrough("E", [{ operator: "Exists" }]),
    });
    expect(defaultOf(tree)).toEqual({ a: { b: 3, c: ["x"] }, d: { k: "v" }, e: [{ operator: "Exists" }] });
  });
});
