/** Emit phase: the contract → values.yaml, every key preceded by its description. */
import Handlebars from "handlebars";
import YAML from "yaml";
import type { Node } from "./dsl.js";
import { readTemplate } from "./files.js";
import { walk } from "./walk.js";

const WIDTH = 100;

/** Wraps prose into `# ` comment lines no wider than WIDTH at the given indent. */
function comment(text: string, indent: string): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    if (line && indent.length + 2 + line.length + 1 + word.length > WIDTH) {
      lines.push(`${indent}# ${line}`);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(`${indent}# ${line}`);
  return lines;
}

/** `key: value` for scalars and empty collections, else `key:` and an indented YAML block. */
function assignment(key: string, value: unknown, indent: string): string[] {
  const empty = (Array.isArray(value) && value.length === 0) ||
    (value !== null && typeof value === "object" && Object.keys(value).length === 0);
  if (value === null || typeof value !== "object" || empty) {
    return [`${indent}${key}: ${YAML.stringify(value, { flowCollectionPadding: false }).trimEnd()}`];
  }
  const block = YAML.stringify(value, { indent: 2, indentSeq: true, lineWidth: 0 }).trimEnd().split("\n");
  return [`${indent}${key}:`, ...block.map((l) => `${indent}  ${l}`)];
}

export function emitValuesYaml(root: Node): string {
  // Optional and forbidden keys have no default and do not appear in values.yaml.
  const blocks = [...walk(root)].filter((e) => e.section || e.node.default !== undefined).map((e) => {
    const indent = "  ".repeat(e.depth);
    const lines = comment(e.node.description, indent);
    lines.push(...(e.section ? [`${indent}${e.key}:`] : assignment(e.key, e.node.default, indent)));
    return { topLevel: e.depth === 0, text: lines.join("\n") };
  });
  const template = Handlebars.compile(readTemplate("values.yaml.hbs"), { noEscape: true, strict: true });
  return template({ blocks });
}
