/**
 * Check phase: gen/ and its presets must compile against the generated types, so a preset that
 * does not match them fails `npm run gen`. Runs `tsc -p gen/tsconfig.json --noEmit` in process,
 * with the generated files read from memory: `--check` checks what `npm run gen` would write.
 *
 * Two caches in the gitignored `.cache/`, neither able to hide an error:
 * - `gen-typecheck.key`: the hash of the inputs of the last check that passed (see `inputsHash`).
 *   While the hash is the same, so is the verdict, and the compiler is not even loaded. A check
 *   whose program holds a file neither under gen/ nor under a node_modules/ (which the lockfiles
 *   stand for: a package changed by hand, not by npm, goes unseen) is not remembered.
 * - `gen.tsbuildinfo`: TypeScript's incremental state; otherwise it re-checks only the files
 *   whose content hash changed and the files that depend on them.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve, sep } from "node:path";
import type * as TS from "typescript";

/**
 * The inputs besides every file under gen/ (this code, the presets, gen/tsconfig.json, the
 * generated types): the compiler options gen/tsconfig.json extends, package.json (its `type`
 * makes gen/ ES modules under NodeNext), and npm's lockfiles, which fix the compiler's version and
 * every package whose types gen/ imports.
 */
const INPUTS_OUTSIDE_GEN = ["tsconfig.json", "package.json", "package-lock.json", join("node_modules", ".package-lock.json")];

/** Writes through a temporary file, so a concurrent run never reads half a file. */
function writeAtomically(path: string, data: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, data);
  renameSync(temporary, path);
}

const readOrUndefined = (path: string, encoding?: "utf8"): string | Buffer | undefined => {
  try {
    return readFileSync(path, encoding);
  } catch {
    return undefined;
  }
};

/**
 * SHA-256 over the path and content of every input, with `inMemory` (contents by absolute path)
 * read instead of the disk, and a missing input counted as missing.
 */
export function inputsHash(root: string, inMemory: ReadonlyMap<string, string>): string {
  const gen = join(root, "gen");
  const paths = new Set([
    ...readdirSync(gen, { recursive: true, encoding: "utf8" }).map((p) => join(gen, p)).filter((p) => statSync(p).isFile()),
    ...INPUTS_OUTSIDE_GEN.map((p) => join(root, p)),
    ...inMemory.keys(),
  ]);
  const hash = createHash("sha256");
  for (const path of [...paths].sort()) {
    const content = inMemory.get(path) ?? readOrUndefined(path);
    const digest = content === undefined ? "missing" : createHash("sha256").update(content).digest("hex");
    hash.update(`${relative(root, path)}\0${digest}\n`);
  }
  return hash.digest("hex");
}

/** What a check found: tsc's diagnostics, and whether the verdict of an earlier check was reused. */
export interface TypecheckResult {
  /** As tsc prints them (`gen/src/presets/ipvs.ts(13,25): error TS2322: …`), empty when gen/ compiles. */
  diagnostics: string;
  /** True when the inputs hash to that of the last check that passed, and the compiler did not run. */
  reused: boolean;
}

/**
 * Type-checks `root`'s gen/ against the generated types.
 * @param generated file contents by path relative to `root`, read instead of the disk
 */
export function typecheck(root: string, generated: ReadonlyMap<string, string>): TypecheckResult {
  const cache = join(root, ".cache");
  const buildInfoFile = join(cache, "gen.tsbuildinfo");
  const passedFile = join(cache, "gen-typecheck.key");
  const inMemory = new Map([...generated].map(([path, content]) => [resolve(root, path), content]));
  const before = inputsHash(root, inMemory);
  if (readOrUndefined(passedFile, "utf8") === before) return { diagnostics: "", reused: true };

  // require, not import: loading the 9 MB compiler as CommonJS skips ESM export detection.
  const ts = createRequire(import.meta.url)("typescript") as typeof TS;
  const system: TS.System = {
    ...ts.sys,
    fileExists: (path) => inMemory.has(resolve(path)) || ts.sys.fileExists(path),
    readFile: (path, encoding) => inMemory.get(resolve(path)) ?? ts.sys.readFile(path, encoding),
    writeFile: (path, data) => writeAtomically(path, data),
  };
  let unreadable: TS.Diagnostic | undefined;
  const config = ts.getParsedCommandLineOfConfigFile(join(root, "gen", "tsconfig.json"),
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
  // Remembered only if the hash covered every file the compiler read, and no input changed meanwhile.
  const covered = program.getProgram().getSourceFiles().every(({ fileName }) =>
    resolve(fileName).startsWith(join(root, "gen") + sep) || fileName.split("/").includes("node_modules"));
  if (!diagnostics.length && covered && inputsHash(root, inMemory) === before) writeAtomically(passedFile, before);
  program.emit(); // with noEmit, writes only the build info
  return {
    diagnostics: ts.formatDiagnostics(diagnostics, {
      getCanonicalFileName: (f) => f,
      getCurrentDirectory: () => root,
      getNewLine: () => "\n",
    }),
    reused: false,
  };
}
