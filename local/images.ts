/**
 * The images the local cluster runs, built here: node-init's (images/node-init/build.sh) and the
 * Go ones (images/build-go.sh: pause, the Kong stand-in), each an OCI archive whose index names it.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "./sys/paths.js";
import { type Run, run } from "./sys/process.js";

export const imageSource = join(repoRoot, "images", "node-init");
/** Where build.sh writes by default; a build is reused while its inputs are unchanged. */
export const defaultOut = join(repoRoot, ".cache", "images", "node-init");

/** Runs build.sh for `archs` with `env` (OUT, LOCK, FORCE…); never throws. */
export function build(archs: readonly string[], env: Record<string, string> = {}): Run {
  return run("sh", [join(imageSource, "build.sh"), ...archs], { env: { ...process.env, ...env } });
}

/** The architectures of the default build: what a release pushes. */
export const releaseArchs = ["amd64", "arm64"] as const;

/** Builds (or reuses) the default image with every release architecture; throws when the build fails. */
export function builtImage(): { out: string; digest: string; rootfs: (arch: string) => string } {
  const r = build(releaseArchs);
  if (r.status !== 0) throw new Error(`images/node-init/build.sh failed:\n${r.stderr}`);
  return {
    out: defaultOut,
    digest: readFileSync(join(defaultOut, "digest"), "utf8").trim(),
    rootfs: (arch) => join(defaultOut, arch, "rootfs"),
  };
}

/** An image built here as an OCI archive. */
export interface NodeImage {
  /** repository:tag, as the archive's index records it (io.containerd.image.name). */
  name: string;
  /** The digest the registry serves it by: the archive's manifest (or index) of that name. */
  digest: string;
  archive: string;
}

/** The image an OCI archive holds, by the name and digest its index.json records. */
export function ociImage(archive: string): NodeImage {
  const r = run("tar", ["-xOf", archive, "index.json"]);
  if (r.status !== 0) throw new Error(`${archive}: no index.json: ${r.stderr}`);
  const index = JSON.parse(r.stdout) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
  const named = index.manifests.find((m) => m.annotations?.["io.containerd.image.name"]);
  if (!named) throw new Error(`${archive} records no image name (io.containerd.image.name)`);
  return { name: named.annotations!["io.containerd.image.name"]!, digest: named.digest, archive };
}

/** An image built here as an OCI archive: `sh images/build-go.sh NAME`. */
export function goImage(name: string): NodeImage {
  const out = join(repoRoot, ".cache", "images", name);
  const r = run("sh", [join(repoRoot, "images", "build-go.sh"), name]);
  if (r.status !== 0) throw new Error(`images/build-go.sh ${name}: ${r.stderr}`);
  return ociImage(join(out, `${name}.oci.tar`));
}

/** How a pod spec names an image so that nodes pull it by digest: repository:tag@digest. */
export const pinnedName = (image: NodeImage): string => `${image.name}@${image.digest}`;

/** The repository and tag of an image name. */
export const repositoryAndTag = (name: string): [string, string] => [name.replace(/:[^:/]+$/, ""), name.replace(/^.*:/, "")];

/** node-init's image as build.sh wrote it (every release architecture), by its archive's name and digest. */
export const nodeInitImage = (): NodeImage => ociImage(join(builtImage().out, "edge-node-init.oci.tar"));
