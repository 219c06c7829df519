/**
 * Constructors for the values contract. Every node carries an explicit JSON Schema type and a
 * description, and every leaf a default, so the schema, values.yaml and the README table are all
 * derived from one tree. Nothing is inferred from a default.
 */
import type { JSONSchema7, JSONSchema7TypeName } from "json-schema";

/** A JSON value as it appears in values.yaml. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A schema node of the contract: JSON Schema draft-07 plus the default Helm merges in. */
export type Node = JSONSchema7 & {
  description: string;
  default?: Json;
  properties?: Record<string, Node>;
  items?: Node | JSONSchema7;
};

type Extra = Omit<JSONSchema7, "type" | "description" | "default" | "properties">;

function leaf(type: JSONSchema7TypeName, description: string, def: Json, extra: Extra = {}): Node {
  if (!description.trim()) throw new Error(`a ${type} value has no description`);
  return { type, description, ...extra, default: def };
}

/** A string; `pattern` must be RE2-compatible (Helm 4 compiles it with Go's regexp). */
export const str = (description: string, def: string, extra: Extra = {}): Node =>
  leaf("string", description, def, extra);

/** A whole number; ports, counts and durations are integers, never `number`. */
export const int = (description: string, def: number, extra: Extra = {}): Node => {
  if (!Number.isInteger(def)) throw new Error(`integer default ${def} is not whole: ${description}`);
  return leaf("integer", description, def, extra);
};

/** A whole number (at least 1) or a percentage (`1%`–`100%`), as Kubernetes' IntOrString fields take. */
export const intOrPercent = (description: string, def: number | string): Node => {
  const percent = /^([1-9][0-9]?|100)%$/;
  if (!(Number.isInteger(def) && (def as number) >= 1) && !(typeof def === "string" && percent.test(def))) {
    throw new Error(`default ${def} is neither a whole number nor a percentage: ${description}`);
  }
  // Each branch carries its own type (a union `type` is not strict JSON Schema for ajv).
  return { description, anyOf: [{ type: "integer", minimum: 1 }, { type: "string", pattern: percent.source }], default: def };
};

export const bool = (description: string, def: boolean, extra: Extra = {}): Node =>
  leaf("boolean", description, def, extra);

/** A string restricted to `values`. */
export const oneOf = <T extends string>(description: string, values: readonly T[], def: T): Node => {
  if (!values.includes(def)) throw new Error(`default ${def} is not one of ${values.join(", ")}`);
  return leaf("string", description, def, { enum: [...values] });
};

/** A value pinned to exactly one setting: anything else is rejected, naming the field. */
export const pinned = (description: string, value: boolean | string | number): Node =>
  leaf(typeof value === "boolean" ? "boolean" : typeof value === "number" ? "integer" : "string",
    description, value, { const: value });

/** A list whose items follow `items`. */
export const list = (description: string, items: JSONSchema7, def: Json[] = [], extra: Extra = {}): Node =>
  leaf("array", description, def, { ...extra, items });

/** An open map (labels, annotations, nodeSelector): keys are the user's. */
export const map = (description: string, def: Record<string, Json> = {}, values: JSONSchema7 = {}): Node =>
  leaf("object", description, def, { additionalProperties: values });

/** A free-form object passed through to Kubernetes as is (affinity, resources, probes). */
export const passthrough = (description: string, def: Json): Node => {
  const type: JSONSchema7TypeName = Array.isArray(def) ? "array" : "object";
  return leaf(type, description, def);
};

export interface ObjectOptions {
  /**
   * Whether keys not named here are allowed. Objects the chart owns are closed; objects handed
   * to the Kong subchart stay open so Kong's own values keep working.
   * @default false
   */
  open?: boolean;
  /** Extra schema keywords (e.g. `allOf` for cross-field rules JSON Schema can express). */
  extra?: Extra;
  /**
   * Keys that have no default and may be absent, but are checked when set (e.g. a Kong value
   * edge does not set but must never be insecure).
   */
  optional?: Record<string, Node>;
}

/** An object whose keys are all named: every key is required (Helm always merges the default). */
export function obj(description: string, properties: Record<string, Node>, options: ObjectOptions = {}): Node {
  if (!description.trim()) throw new Error("an object has no description");
  return {
    type: "object",
    description,
    ...options.extra,
    properties: { ...properties, ...options.optional },
    required: Object.keys(properties),
    additionalProperties: options.open ?? false,
  };
}

/** A key that must stay unset; setting it is an error naming the key. */
export const forbidden = (description: string): Node => ({ description, not: {} }) as Node;

/** An optional value checked when set (no default). */
export const whenSet = (type: JSONSchema7TypeName, description: string, extra: Extra = {}): Node => ({ type, description, ...extra });

/** The default a node contributes to values.yaml (objects: the defaults of their properties). */
export function defaultOf(node: Node): Json | undefined {
  if (node.properties) {
    const out: Record<string, Json> = {};
    for (const [key, child] of Object.entries(node.properties)) {
      const value = defaultOf(child);
      if (value !== undefined) out[key] = value;
    }
    return out;
  }
  return node.default;
}
