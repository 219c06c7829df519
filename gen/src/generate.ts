/** The whole pipeline in memory: contract → schema → types, values.yaml, presets, README blocks. */
import { catalog } from "./catalog.js";
import { contract } from "./contract.js";
import { defaultOf } from "./dsl.js";
import { emitReadme } from "./docs.js";
import { emitPreset, validatePreset } from "./preset-yaml.js";
import { buildSchema } from "./schema.js";
import { emitTypes } from "./types.js";
import { emitValuesYaml } from "./values-yaml.js";

/** Where the generated types go, relative to the repository root; gen/ compiles against them. */
export const TYPES_PATH = "gen/generated/values.ts";

/** Generated files by path relative to the repository root. */
export async function generate(readme: string): Promise<Map<string, string>> {
  const schema = buildSchema(contract);
  const defaults = defaultOf(contract) ?? null;
  const out = new Map<string, string>();
  out.set("values.schema.json", `${JSON.stringify(schema, null, 2)}\n`);
  out.set(TYPES_PATH, await emitTypes(schema));
  out.set("values.yaml", emitValuesYaml(contract));
  for (const preset of catalog) {
    validatePreset(schema, defaults, preset);
    out.set(`presets/${preset.name}.yaml`, emitPreset(preset));
  }
  out.set("README.md", emitReadme(readme, contract, catalog));
  return out;
}
