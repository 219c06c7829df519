/** Paths the tests share, from this file's own place in the repository (tests/lib/). */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (which is also the chart root). */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
