/**
 * Check phase: gen/ and its presets must compile against the generated types, so a preset that
 * does not match them fails `npm run gen`. Runs `tsc -p gen/tsconfig.json --noEmit` in process,
 * with the generated files read from memory: `--check` checks what `npm run gen` would write.
 *
 * Two caches in the gitignored `.cache/`, neither able to hide an error:
 * - `gen-typecheck.json`: every file-system read of the last check that passed, with a
 *   fingerprint of its answer (see reads.ts), plus the compiler and this code. While every answer
 *   is the same, so is the verdict, and the compiler is not even loaded.
 * - `gen.tsbuildinfo`: TypeScript's incremental state; otherwise it re-checks only the files
 *   whose content hash changed and the files that depend on them.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type * as TS from "typescript";
import { repoRoot } from "./files.js";
import { answer, type InMemory, type Read, recordingSystem, unchanged } from "./reads.js";

const cache = join(repoRoot, ".cache");
const buildInfoFile = join(cache, "gen.tsbuildinfo");
const passedFile = join(cache, "gen-typecheck.json");

/** Writes through a temporary file, so a concurrent run never reads half a file. */
function writeAtomically(path: string, data: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, data);
  renameSync(temporary, path);
}

/** The reads of the last check that passed, or none. */
function lastPassed(): Read[] | undefined {
  try {
    const reads: unknown = JSON.parse(readFileSync(passedFile, "utf8"));
    return Array.isArray(reads) && reads.every((r) => Array.isArray(r) && r.length === 3) ? reads as Read[] : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Diagnostics of gen/ as tsc prints them (`gen/src/presets/ipvs.ts(13,25): error TS2322: …`),
 * empty when gen/ compiles.
 * @param generated file contents by path relative to the repository root, read instead of the disk
 */
export function typecheck(generated: ReadonlyMap<string, string>): string {
  const inMemory: InMemory = new Map([...generated].map(([path, content]) => [resolve(repoRoot, path), content]));
  const passed = lastPassed();
  if (passed && unchanged(passed, inMemory)) return "";

  // The verdict also depends on the compiler and on this code.
  const code = ([
    ["module", "typescript"],
    ["read", fileURLToPath(import.meta.url)],
    ["read", fileURLToPath(new URL("./reads.ts", import.meta.url))],
  ] as const).map(([kind, subject]): Read => [kind, subject, answer(kind, subject, inMemory)]);
  // require, not import: loading the 9 MB compiler as CommonJS skips ESM export detection.
  const ts = createRequire(import.meta.url)("typescript") as typeof TS;
  const { system, reads, state } = recordingSystem(
    { ...ts.sys, writeFile: (path, data) => writeAtomically(path, data) },
    inMemory,
    buildInfoFile,
  );
  let unreadable: TS.Diagnostic | undefined;
  const config = ts.getParsedCommandLineOfConfigFile(join(repoRoot, "gen", "tsconfig.json"),
    { incremental: true, tsBuildInfoFile: buildInfoFile, noEmit: true },
    { ...system, onUnRecoverableConfigFileDiagnostic: (d) => (unreadable = d) });
  if (!config) throw new Error(`gen: cannot read gen/tsconfig.json: ${ts.flattenDiagnosticMessageText(unreadable?.messageText, "\n")}`);
  const program = ts.createIncrementalProgram({
    rootNames: config.fileNames,
    options: config.options,
    configFileParsingDiagnostics: ts.getConfigFileParsingDiagnostics(config),
    host: ts.createIncrementalCompilerHost(config.options, system),
  });
  const diagnostics = [
    ...program.getConfigFileParsingDiagnostics(),
    ...program.getOptionsDiagnostics(),
    ...program.getSyntacticDiagnostics(),
    ...program.getGlobalDiagnostics(),
    ...program.getSemanticDiagnostics(),
  ];
  if (!diagnostics.length && state.exact) writeAtomically(passedFile, JSON.stringify([...code, ...reads()]));
  program.emit(); // with noEmit, writes only the build info
  return ts.formatDiagnostics(diagnostics, {
    getCanonicalFileName: (f) => f,
    getCurrentDirectory: () => repoRoot,
    getNewLine: () => "\n",
  });
}
