/**
 * The file-system reads of a compilation, recorded with a fingerprint of each answer, so a later
 * run can tell that every answer is still the same — and with it the compiler's verdict, which is
 * a function of those answers. Each fingerprint is computed here, by the same function when
 * recording and when replaying, and is at least as fine as what the compiler learns from the read.
 */
import { createHash } from "node:crypto";
import { readFileSync, readdirSync, realpathSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, extname, resolve } from "node:path";
import type * as TS from "typescript";

/** What was asked: a path's kind, a file's bytes, a directory's entries or tree, a real path, … */
export type Kind = "stat" | "read" | "list" | "tree" | "realpath" | "cwd" | "env" | "module";

/** One question and the fingerprint of its answer. */
export type Read = readonly [kind: Kind, subject: string, answer: string];

/** ts.sys, with a member it has but does not declare (the compiler host passes it on). */
type System = TS.System & { getEnvironmentVariable?(name: string): string };

/** File contents by absolute path, answered instead of the disk. */
export type InMemory = ReadonlyMap<string, string>;

const require = createRequire(import.meta.url);

const digest = (data: string | Buffer): string => createHash("sha256").update(data).digest("base64url");

const failure = (error: unknown): string => `!${(error as NodeJS.ErrnoException).code ?? "error"}`;

/** f(ile), d(irectory), o(ther), or the error (`!ENOENT`); symbolic links followed, as the compiler does. */
function kindOf(path: string): string {
  try {
    const stat = statSync(path);
    return stat.isFile() ? "f" : stat.isDirectory() ? "d" : "o";
  } catch (error) {
    return failure(error);
  }
}

/** A directory's entries with their kinds, sorted. */
function entries(dir: string): string[] {
  return readdirSync(dir).sort().map((name) => `${name}:${kindOf(resolve(dir, name))}`);
}

/** Every entry under `root` with its kind, and the real path of every directory. */
function tree(root: string): string {
  const lines: string[] = [];
  const seen = new Set<string>();
  const visit = (dir: string): void => {
    const real = realpathSync.native(dir);
    lines.push(`${dir} -> ${real}`);
    if (seen.has(real)) return;
    seen.add(real);
    for (const entry of entries(dir)) {
      lines.push(`${dir}/${entry}`);
      if (entry.endsWith(":d")) visit(resolve(dir, entry.slice(0, -2)));
    }
  };
  const kind = kindOf(root);
  if (kind === "d") visit(root);
  else lines.push(`${root}:${kind}`);
  return digest(lines.join("\n"));
}

/** The fingerprint of the answer to a question, now. */
export function answer(kind: Kind, subject: string, inMemory: InMemory): string {
  try {
    switch (kind) {
      case "stat":
        return `${inMemory.has(subject) ? "m" : ""}${kindOf(subject)}`;
      case "read": {
        const content = inMemory.get(subject);
        return content === undefined ? digest(readFileSync(subject)) : `m${digest(content)}`;
      }
      case "list":
        return digest(entries(subject).join("\n"));
      case "tree":
        return tree(subject);
      case "realpath":
        return realpathSync.native(subject);
      case "cwd":
        return process.cwd();
      case "env":
        return process.env[subject] ?? "!unset";
      case "module": {
        const path = require.resolve(subject);
        return `${path} ${digest(readFileSync(path))}`;
      }
    }
  } catch (error) {
    return failure(error);
  }
}

/** True when every recorded question still has the recorded answer. */
export const unchanged = (reads: readonly Read[], inMemory: InMemory): boolean =>
  reads.every(([kind, subject, fingerprint]) => answer(kind, subject, inMemory) === fingerprint);

/**
 * The directories that `readDirectory(path, …, includes)` walks: each include spec up to its first
 * wildcard, or the directory of a spec that names a file.
 */
function walkedRoots(path: string, includes: readonly string[] | undefined): string[] {
  return (includes ?? ["**/*"]).map((spec) => {
    const parts = resolve(path, spec).split("/");
    const wildcard = parts.findIndex((p) => /[*?]/.test(p));
    if (wildcard >= 0) return parts.slice(0, wildcard).join("/") || "/";
    const full = parts.join("/");
    return extname(full) ? dirname(full) : full;
  });
}

/**
 * `system` answering from `inMemory` first and recording every read it serves, except reads of
 * `unrecorded` (the compiler's own cache, which cannot change its verdict). `state.exact` turns
 * false when an answer changed while it was served, or on a read this module cannot fingerprint;
 * such a record must not be trusted.
 */
export function recordingSystem(system: System, inMemory: InMemory, unrecorded: string) {
  const reads = new Map<string, Read>();
  const state = { exact: true };
  /** Serves a read, fingerprinting the answer to each question before and after. */
  const ask = <T>(kind: Kind, paths: readonly string[], serve: () => T): T => {
    const subjects = paths.map((p) => (kind === "cwd" || kind === "env" ? p : resolve(p)));
    const before = subjects.map((subject) => answer(kind, subject, inMemory));
    const served = serve();
    subjects.forEach((subject, i) => {
      const key = `${kind}\0${subject}`;
      const earlier = reads.get(key);
      if (answer(kind, subject, inMemory) !== before[i] || (earlier && earlier[2] !== before[i])) state.exact = false;
      reads.set(key, [kind, subject, before[i]!]);
    });
    return served;
  };
  const unfingerprinted = <T>(serve: () => T): T => {
    state.exact = false;
    return serve();
  };
  const recorded: System = {
    ...system,
    fileExists: (path) => ask("stat", [path], () => inMemory.has(resolve(path)) || system.fileExists(path)),
    directoryExists: (path) => ask("stat", [path], () => system.directoryExists(path)),
    readFile: (path, encoding) =>
      resolve(path) === unrecorded
        ? system.readFile(path, encoding)
        : ask("read", [path], () => inMemory.get(resolve(path)) ?? system.readFile(path, encoding)),
    getDirectories: (path) => ask("list", [path], () => system.getDirectories(path)),
    readDirectory: (path, extensions, excludes, includes, depth) =>
      ask("tree", walkedRoots(resolve(path), includes), () => system.readDirectory(path, extensions, excludes, includes, depth)),
    realpath: (path) => ask("realpath", [path], () => system.realpath?.(path) ?? path),
    getCurrentDirectory: () => ask("cwd", [""], () => system.getCurrentDirectory()),
    getEnvironmentVariable: (name) => ask("env", [name], () => system.getEnvironmentVariable?.(name) ?? ""),
    getFileSize: (path) => unfingerprinted(() => system.getFileSize?.(path) ?? 0),
    getModifiedTime: (path) => unfingerprinted(() => system.getModifiedTime?.(path)),
  };
  return { system: recorded, reads: () => [...reads.values()], state };
}
