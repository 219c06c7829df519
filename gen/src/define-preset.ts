/**
 * The type of a preset and `definePreset`, which each module in gen/src/presets/ calls: a partial
 * values file checked by the compiler and by the schema.
 */
import type { EdgeValues } from "../generated/values.js";

/** Every key optional at every depth; lists are replaced whole, as Helm does. */
export type DeepPartial<T> = T extends readonly (infer U)[]
  ? U[]
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;

export interface Preset {
  /** File name under presets/, kebab-case. */
  name: string;
  /** One line: the cluster it is for. */
  summary: string;
  /** Paragraphs on what it changes and what that costs, copied into the file's header. */
  description: string[];
  /** Values layered over the chart defaults. */
  values: DeepPartial<EdgeValues>;
}

/** Identity with a type check: a preset with an unknown key or a wrong type does not compile. */
export const definePreset = (preset: Preset): Preset => preset;
