/** Walks the contract tree in declaration order, yielding each value with its dotted path. */
import type { Node } from "./dsl.js";

export interface Entry {
  /** Dotted path from the root, e.g. `nodeInit.image.tag`. */
  path: string;
  key: string;
  depth: number;
  node: Node;
  /** True for a node whose keys are all named (rendered as a YAML section, not a value). */
  section: boolean;
}

export function* walk(node: Node, prefix = "", depth = 0): Generator<Entry> {
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    const path = prefix ? `${prefix}.${key}` : key;
    const section = child.properties !== undefined;
    yield { path, key, depth, node: child, section };
    if (section) yield* walk(child, path, depth + 1);
  }
}

/** The schema type of a node as a reader sees it, e.g. `integer (1–65535)` or `"auto" | "nftables"`. */
export function typeLabel(node: Node): string {
  // `not: {}` accepts nothing; a narrower `not` (e.g. a list of refused names) leaves the type readable.
  if (node.not && Object.keys(node.not).length === 0) return "forbidden";
  if (node.const !== undefined) return `${JSON.stringify(node.const)} (fixed)`;
  if (node.enum) return node.enum.map((v) => JSON.stringify(v)).join(" \\| ");
  if (node.anyOf) return node.anyOf.map((b) => (typeof b === "object" && b.type === "string" && b.pattern ? "percentage" : typeof b === "object" ? String(b.type) : "any")).join(" \\| ");
  const type = String(node.type);
  if (type === "integer" && (node.minimum !== undefined || node.maximum !== undefined)) {
    return `integer (${node.minimum ?? ""}–${node.maximum ?? ""})`;
  }
  if (type === "array" && node.items && typeof node.items === "object" && !Array.isArray(node.items)) {
    const items = node.items as Node;
    return `${items.type ?? "any"}[]`;
  }
  if (type === "object" && !node.properties) return "map";
  return type;
}
