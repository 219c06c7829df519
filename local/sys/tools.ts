/**
 * The one tool lookup: the pinned tools tools/install.sh links into .tools (programs in
 * .tools/bin, the data they need at run time in .tools/share), and the machine's programs, each
 * listed in tools/programs.tsv with its Debian package.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot, toolsDir } from "./paths.js";

/** The path of pinned tool `name` (.tools/bin); throws naming the command that installs it. */
export function tool(name: string): string {
  const path = join(toolsDir, "bin", name);
  if (!existsSync(path)) throw new Error(`${path} is missing: run \`npm run tools\` (sh tools/install.sh test), or \`sh tools/install.sh demo\` for the demo's`);
  return path;
}

/** The path of `path` in the data a pinned tool brings (.tools/share), e.g. kwok/stage. */
export function toolData(path: string): string {
  const full = join(toolsDir, "share", path);
  if (!existsSync(full)) throw new Error(`${full} is missing: run \`npm run tools\` (sh tools/install.sh test)`);
  return full;
}

export interface Helm {
  name: "helm3" | "helm4";
  path: string;
}

const helmOf = (name: Helm["name"]): Helm => ({ name, get path() { return tool(name); } });

/** The two Helm majors, whose values-schema validators differ (gojsonschema vs jsonschema/v6). */
export const helms = [helmOf("helm3"), helmOf("helm4")] as const;

/** The Helm the local cluster installs with. */
export const helm = (): string => tool("helm3");

/** program → Debian package, from tools/programs.tsv (what `sh tools/install.sh system` installs). */
const packages = new Map(readFileSync(join(repoRoot, "tools", "programs.tsv"), "utf8").split("\n")
  .filter((line) => line && !line.startsWith("#"))
  .map((line) => line.split("\t") as [string, string]));

/** The path of `program` on PATH, or undefined. */
export function which(program: string): string | undefined {
  return (process.env.PATH ?? "").split(":").map((dir) => join(dir, program)).find((path) => existsSync(path));
}

/**
 * The paths of `programs`; throws naming the Debian package of each one missing from PATH.
 * Every program a test runs is listed in tools/programs.tsv, which `npm run tools` installs from.
 */
export function requirePrograms<const T extends readonly string[]>(...programs: T): Record<T[number], string> {
  const found: Record<string, string> = {};
  const missing: string[] = [];
  for (const program of programs) {
    const pkg = packages.get(program);
    if (!pkg) throw new Error(`${program} is not listed in tools/programs.tsv; add it with its Debian package`);
    const path = which(program);
    if (path) found[program] = path;
    else missing.push(`${program} (Debian package ${pkg})`);
  }
  if (missing.length) {
    throw new Error(`missing: ${missing.join(", ")}; run \`sh tools/install.sh system\` as root, or apt-get install ${[...new Set(programs.filter((p) => !found[p]).map((p) => packages.get(p)))].join(" ")}`);
  }
  return found as Record<T[number], string>;
}
