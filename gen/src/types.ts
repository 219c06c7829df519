/** Emit phase: the schema → TypeScript types (json-schema-to-typescript, options set explicitly). */
import type { JSONSchema7 } from "json-schema";
import { compile } from "json-schema-to-typescript";
import { GENERATED_NOTE } from "./schema.js";

export async function emitTypes(schema: JSONSchema7): Promise<string> {
  return compile(schema as Parameters<typeof compile>[0], "EdgeValues", {
    bannerComment: `/* ${GENERATED_NOTE} */`,
    additionalProperties: false, // objects are open only where the schema says so
    strictIndexSignatures: true, // open objects yield `unknown`, never `any`
    unknownAny: true,
    declareExternallyReferenced: true,
    enableConstEnums: false,
    unreachableDefinitions: false,
    format: true,
    style: { printWidth: 110, singleQuote: false },
  });
}
