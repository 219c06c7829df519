/** The pinned tools the tests run (built by tools/install.sh into .tools/bin). */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "./paths.js";

const bin = join(repoRoot, ".tools", "bin");

function tool(name: string): string {
  const path = join(bin, name);
  if (!existsSync(path)) throw new Error(`${path} is missing: run \`npm run tools\` (tools/install.sh)`);
  return path;
}

/** The two Helm majors, whose values-schema validators differ (gojsonschema vs jsonschema/v6). */
export const helms = [
  { name: "helm3", path: tool("helm3") },
  { name: "helm4", path: tool("helm4") },
] as const;

export type Helm = (typeof helms)[number];

export const helmUnittest = (): string => tool("helm-unittest");

/** The Pod Security Admission check (tools/psa): manifests on stdin, one JSON line per pod. */
export const psaCheck = (): string => tool("psa-check");

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

export interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion without a shell; never throws on a non-zero exit. */
export function run(cmd: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): Run {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 64 << 20, ...options });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** The `Version:"vX.Y.Z"` a helm binary reports. */
export function helmVersion(helm: Helm): string {
  const out = execFileSync(helm.path, ["version"], { encoding: "utf8" });
  return /Version:"(v[^"]+)"/.exec(out)?.[1] ?? out.trim();
}
