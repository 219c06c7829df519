/** The values contract and the generator's phases, for tests and tools. */
export { catalog } from "./catalog.js";
export { contract } from "./contract.js";
export { defaultOf, type Json, type Node } from "./dsl.js";
export { generate } from "./generate.js";
export { buildSchema, assertDocumented } from "./schema.js";
export type { Preset } from "./define-preset.js";
export { helmMerge, validatePreset } from "./preset-yaml.js";
export { walk } from "./walk.js";
