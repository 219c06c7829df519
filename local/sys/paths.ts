/** Paths of the local cluster, from this file's own place in the repository (local/sys/). */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (which is also the chart root). */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
/** The pinned tools tools/install.sh links (`.tools/bin`, `.tools/share`…). */
export const toolsDir = join(repoRoot, ".tools");
