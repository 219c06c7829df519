/** The pinned tools the tests run (built by tools/install.sh into .tools/bin). */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../../gen/src/files.js";

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
