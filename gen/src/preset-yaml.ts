/** Emit phase: a typed preset → presets/<name>.yaml, validated against the schema first. */
import { Ajv, type ValidateFunction } from "ajv";
import Handlebars from "handlebars";
import type { JSONSchema7 } from "json-schema";
import YAML from "yaml";
import type { Preset } from "./define-preset.js";
import { type Json } from "./dsl.js";
import { readTemplate } from "./files.js";

const isMap = (v: unknown): v is Record<string, Json> => v !== null && typeof v === "object" && !Array.isArray(v);

/** Helm's coalescing of a values file over defaults: maps merge, lists and scalars replace, null deletes. */
export function helmMerge(base: Json, override: Json): Json {
  if (!isMap(base) || !isMap(override)) return override;
  const out: Record<string, Json> = { ...base };
  for (const [key, value] of Object.entries(override)) {
    const current = base[key];
    if (value === null) delete out[key];
    else out[key] = current === undefined ? value : helmMerge(current, value);
  }
  return out;
}

/** Compiled validators by schema text: compiling the schema costs more than validating every preset. */
const validators = new Map<string, ValidateFunction>();

function validatorOf(schema: JSONSchema7): ValidateFunction {
  const key = JSON.stringify(schema);
  let validate = validators.get(key);
  if (!validate) {
    validate = new Ajv({ strict: true, allErrors: true }).compile(schema);
    validators.set(key, validate);
  }
  return validate;
}

/** Throws, naming the preset and each failing field, unless defaults + preset satisfy the schema. */
export function validatePreset(schema: JSONSchema7, defaults: Json, preset: Preset): void {
  const validate = validatorOf(schema);
  if (!validate(helmMerge(defaults, preset.values as Json))) {
    const errors = (validate.errors ?? []).map((e) => `  ${e.instancePath || "/"} ${e.message}`).join("\n");
    throw new Error(`preset ${preset.name} does not satisfy values.schema.json:\n${errors}`);
  }
}

export function emitPreset(preset: Preset): string {
  const template = Handlebars.compile(readTemplate("preset.yaml.hbs"), { noEscape: true, strict: true });
  return template({ ...preset, body: YAML.stringify(preset.values, { lineWidth: 0 }).trimEnd() }) + "\n";
}
