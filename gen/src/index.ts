/** The values contract and the generator's phases, for tests and tools. */
export { contract } from "./contract.js";
export { defaultOf, type Json, type Node } from "./dsl.js";
export { generate } from "./generate.js";
export { buildSchema, assertDocumented } from "./schema.js";
export { helmMerge, presets, validatePreset } from "./presets.js";
export type { Preset } from "./preset.js";
export { walk } from "./walk.js";
