/** Paths of the repository and the generator's templates. */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (which is also the chart root). */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

export const readTemplate = (name: string): string =>
  readFileSync(join(repoRoot, "gen", "templates", name), "utf8");
