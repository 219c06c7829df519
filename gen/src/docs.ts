/** Emit phase: the contract and presets → the generated blocks of README.md. */
import Handlebars from "handlebars";
import type { Preset } from "./define-preset.js";
import type { Node } from "./dsl.js";
import { readTemplate } from "./files.js";
import { typeLabel, walk } from "./walk.js";

const cell = (text: string): string => text.replace(/\|/g, "\\|").replace(/\n/g, " ");

/** Replaces the text between `<!-- AUTO-GENERATED:name -->` and `<!-- /AUTO-GENERATED:name -->`. */
export function replaceBlock(readme: string, name: string, body: string): string {
  const start = `<!-- AUTO-GENERATED:${name} (npm run gen) -->`;
  const end = `<!-- /AUTO-GENERATED:${name} -->`;
  const from = readme.indexOf(start);
  const to = readme.indexOf(end);
  if (from < 0 || to < from) throw new Error(`README.md lacks the markers ${start} … ${end}`);
  return `${readme.slice(0, from + start.length)}\n${body.trimEnd()}\n${readme.slice(to)}`;
}

export function emitValuesTable(root: Node): string {
  const rows = [...walk(root)].filter((e) => !e.section).map((e) => ({
    path: e.path,
    type: cell(typeLabel(e.node)),
    default: e.node.default === undefined ? "(unset)" : cell(JSON.stringify(e.node.default)),
    description: cell(e.node.description),
  }));
  return Handlebars.compile(readTemplate("values-table.md.hbs"), { noEscape: true, strict: true })({ rows });
}

export function emitPresetTable(presets: readonly Preset[]): string {
  return Handlebars.compile(readTemplate("presets-table.md.hbs"), { noEscape: true, strict: true })({
    presets: presets.map((p) => ({ name: p.name, summary: cell(p.summary) })),
  });
}

export function emitReadme(readme: string, root: Node, presets: readonly Preset[]): string {
  return replaceBlock(replaceBlock(readme, "values", emitValuesTable(root)), "presets", emitPresetTable(presets));
}
