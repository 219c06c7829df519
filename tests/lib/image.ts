/**
 * The node-init image as images/node-init/build.sh writes it: its definition, its build, its OCI
 * layout, and checks that read its file tree as the image's own dynamic loader would (libraries
 * resolved inside the tree, symlinks followed inside it, never into the machine's own files).
 */
import { closeSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, readSync } from "node:fs";
import { join, posix } from "node:path";
import { imageSource, type Run, run } from "../../local/index.js";

export interface Program {
  name: string;
  pkg: string;
  /** The package's executable that `name` links to, when the package's maintainer script makes the link. */
  file?: string;
}

export interface Definition {
  programs: Program[];
  files: { path: string; pkg: string }[];
  env: string[];
}

/** images/node-init/definition, parsed. */
export function definition(): Definition {
  const lines = readFileSync(join(imageSource, "definition"), "utf8").split("\n").filter((l) => l && !l.startsWith("#"));
  const words = (kind: string) => lines.filter((l) => l.startsWith(`${kind} `)).map((l) => l.split(/\s+/).slice(1));
  return {
    programs: words("program").map(([name, pkg, file]) => ({ name: name!, pkg: pkg!, ...(file ? { file } : {}) })),
    files: words("file").map(([path, pkg]) => ({ path: path!, pkg: pkg! })),
    env: lines.filter((l) => l.startsWith("env ")).map((l) => l.slice(4)),
  };
}

/** A blob of an OCI layout, by digest. */
export const blobPath = (layout: string, digest: string): string => join(layout, "blobs", "sha256", digest.replace(/^sha256:/, ""));

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { architecture: string; os: string; variant?: string };
  annotations?: Record<string, string>;
}

export interface ImageConfig {
  architecture: string;
  os: string;
  created: string;
  config: { Env: string[]; Cmd?: string[]; Entrypoint?: string[]; Labels?: Record<string, string> };
  rootfs: { type: string; diff_ids: string[] };
}

export const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, "utf8")) as T;

/** The image of `arch` in the layout at `out`/oci: its manifest and config. */
export function imageOf(out: string, arch: string): { manifest: { config: Descriptor; layers: Descriptor[] }; config: ImageConfig } {
  const layout = join(out, "oci");
  const [top] = readJson<{ manifests: Descriptor[] }>(join(layout, "index.json")).manifests;
  const index = readJson<{ manifests: Descriptor[] }>(blobPath(layout, top!.digest));
  const entry = index.manifests.find((m) => m.platform?.architecture === arch);
  if (!entry) throw new Error(`no ${arch} image in ${layout}`);
  const manifest = readJson<{ config: Descriptor; layers: Descriptor[] }>(blobPath(layout, entry.digest));
  return { manifest, config: readJson<ImageConfig>(blobPath(layout, manifest.config.digest)) };
}

/** The Debian multiarch directory of each architecture build.sh supports. */
export const triplets: Record<string, string> = { amd64: "x86_64-linux-gnu", arm64: "aarch64-linux-gnu" };

/**
 * Follows `path` inside the tree at `root` as a process chrooted there would: absolute symlinks
 * stay inside `root`. Returns the resolved path inside the image, or undefined when nothing is there.
 */
export function resolveIn(root: string, path: string, hops = 0): string | undefined {
  if (hops > 40) return undefined;
  const parts = path.split("/").filter(Boolean);
  let at = "/";
  for (const [i, part] of parts.entries()) {
    const next = posix.join(at, part);
    let stat;
    try { stat = lstatSync(join(root, next)); } catch { return undefined; }
    if (stat.isSymbolicLink()) {
      const target = readlinkSync(join(root, next));
      return resolveIn(root, posix.join(target.startsWith("/") ? target : posix.join(at, target), ...parts.slice(i + 1)), hops + 1);
    }
    at = next;
  }
  return at;
}

/** Whether the file at `path` starts with the ELF magic number. */
export function isElf(path: string): boolean {
  const fd = openSync(path, "r");
  try {
    const head = Buffer.alloc(4);
    return readSync(fd, head, 0, 4, 0) === 4 && head.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  } finally {
    closeSync(fd);
  }
}

/** An ELF file's program interpreter, DT_NEEDED libraries and whether it carries an RPATH/RUNPATH (readelf). */
export function elfInfo(path: string): { interp?: string; needed: string[]; runpath: boolean } {
  const r = run("readelf", ["-W", "--dynamic", "--program-headers", path]);
  if (r.status !== 0) throw new Error(`readelf ${path}: ${r.stderr}`);
  const interp = /\[Requesting program interpreter: (.+)\]/.exec(r.stdout)?.[1];
  const needed = [...r.stdout.matchAll(/\(NEEDED\)\s+Shared library: \[(.+)\]/g)].map((m) => m[1]!);
  return { ...(interp ? { interp } : {}), needed, runpath: /\((RUNPATH|RPATH)\)/.test(r.stdout) };
}

/** The tree's files: `kind` f (regular), l (symlink) or d, by path inside the image. */
export function treeOf(root: string, at = "/"): { path: string; kind: "f" | "l" | "d"; size: number }[] {
  return readdirSync(join(root, at), { withFileTypes: true }).flatMap((e) => {
    const path = posix.join(at, e.name);
    if (e.isDirectory()) return [{ path, kind: "d" as const, size: 0 }, ...treeOf(root, path)];
    return [{ path, kind: e.isSymbolicLink() ? "l" as const : "f" as const, size: e.isFile() ? lstatSync(join(root, path)).size : 0 }];
  });
}

export interface Closure {
  /** Regular files reached (paths inside the image, symlinks resolved). */
  files: Set<string>;
  /** What could not be resolved, e.g. "libmnl.so.0 (needed by /usr/sbin/nft) not found". */
  problems: string[];
}

/**
 * Everything `start` (paths inside the image) needs to run, as the dynamic loader would find it
 * in the tree: each ELF file's interpreter and DT_NEEDED libraries, transitively, looked up in
 * Debian's default library path of `arch` (the image has no ld.so.cache).
 */
export function closureOf(root: string, arch: string, start: readonly string[]): Closure {
  const triplet = triplets[arch];
  if (!triplet) throw new Error(`unknown architecture ${arch}`);
  const dirs = [`/lib/${triplet}`, `/usr/lib/${triplet}`, "/lib", "/usr/lib"];
  const files = new Set<string>();
  const problems: string[] = [];
  const queue = start.map((path) => ({ path, from: "" }));
  for (let item = queue.shift(); item; item = queue.shift()) {
    const real = resolveIn(root, item.path);
    if (!real) { problems.push(`${item.path}${item.from} not found`); continue; }
    if (files.has(real)) continue;
    files.add(real);
    if (!isElf(join(root, real))) continue;
    const elf = elfInfo(join(root, real));
    if (elf.runpath) problems.push(`${real} has an RPATH/RUNPATH, which this check does not follow`);
    if (elf.interp) queue.push({ path: elf.interp, from: ` (interpreter of ${real})` });
    for (const soname of elf.needed) {
      const dir = dirs.find((d) => resolveIn(root, posix.join(d, soname)));
      if (dir) queue.push({ path: posix.join(dir, soname), from: "" });
      else problems.push(`${soname} (needed by ${real}) not found`);
    }
  }
  return { files, problems };
}

/**
 * What is wrong with `programs` in the tree: each must be found on PATH (a name) or at its path
 * (an absolute path), and everything it loads must resolve inside the tree. Empty when all is well.
 */
export function programProblems(root: string, arch: string, pathEnv: string, programs: readonly string[]): string[] {
  return programs.flatMap((program) => {
    const path = program.startsWith("/")
      ? program
      : pathEnv.split(":").map((d) => posix.join(d, program)).find((p) => resolveIn(root, p));
    if (!path || !resolveIn(root, path)) return [`${program}: not found${program.startsWith("/") ? "" : ` on PATH ${pathEnv}`}`];
    return closureOf(root, arch, [path]).problems.map((p) => `${program}: ${p}`);
  });
}

/** The PATH of an image config's environment. */
export const pathOf = (config: ImageConfig): string =>
  config.config.Env.find((e) => e.startsWith("PATH="))?.slice(5) ?? "";

/**
 * The mounts a container runtime makes in every container, as shell for a mount namespace of its
 * own (they end with it): /dev as a tmpfs holding the usual devices, bound from the machine's, and
 * /proc. $root is the image's tree, with the mount points copyTree adds.
 */
export const runtimeMounts = `mount -t tmpfs -o nosuid,mode=755 tmpfs "$root/dev"
for d in null zero full random urandom tty; do : >"$root/dev/$d" && mount --bind "/dev/$d" "$root/dev/$d"; done
mount -t proc proc "$root/proc"`;

/** A copy of an image's tree at `dest` (symlinks kept as they are) with the mount points a runtime creates. */
export function copyTree(rootfs: string, dest: string, mountPoints: readonly string[] = []): string {
  const r = run("cp", ["-a", rootfs, dest]);
  if (r.status !== 0) throw new Error(`cp -a ${rootfs}: ${r.stderr}`);
  for (const d of ["dev", "proc", ...mountPoints]) mkdirSync(join(dest, d), { recursive: true });
  return dest;
}

/** Runs `args` chrooted into `root` (a copyTree) with the runtime's mounts, in network and mount namespaces of its own. */
export function inImage(root: string, args: readonly string[], env: NodeJS.ProcessEnv): Run {
  return run("unshare", ["--net", "--mount", "--", "sh", "-c", `root=$0\n${runtimeMounts}\nexec chroot "$root" "$@"`, root, ...args], { env });
}
