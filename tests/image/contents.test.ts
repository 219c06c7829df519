/**
 * node-init image > contents: the image holds exactly the programs node-init runs — each command
 * of files/node-init.sh that is neither one of its functions nor a builtin of the image's sh, and
 * each executable of the rendered containers and probes — every one found on the image's PATH
 * with all its libraries inside the image, and nothing else (no package manager, no second shell).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { builtImage, releaseArchs, removeScratchCharts, requirePrograms } from "../../local/index.js";
import { executablesOf, nodeInitScript, renderedCommands, scriptCommands } from "./commands.js";
import { closureOf, copyTree, definition, imageOf, inImage, pathOf, programProblems, resolveIn, treeOf } from "../lib/image.js";

if (process.getuid?.() !== 0) throw new Error("node-init image > contents: chroot needs root (CI runs as root)");
requirePrograms("chroot", "cp", "mount", "readelf", "unshare");

const arch = "amd64";
let rootfs = "";
let pathEnv = "";
/** A copy of the image's tree to run: the same files, plus the mount points a runtime creates. */
let container = "";
const temps: string[] = [];
beforeAll(() => {
  const image = builtImage();
  rootfs = image.rootfs(arch);
  pathEnv = pathOf(imageOf(image.out, arch).config);
  container = copyOfRootfs();
});
afterAll(() => {
  removeScratchCharts();
  for (const t of temps) rmSync(t, { recursive: true, force: true });
});

/** Runs `args` in the image (a copy of its tree) with the image's PATH. */
const runIn = (root: string, args: string[]) => inImage(root, args, { PATH: pathEnv, NODE_INIT_PORTS: "80:30080" });

/** A fresh copy of the image's tree, to run or to break on purpose. */
function copyOfRootfs(): string {
  const dir = mkdtempSync(join(tmpdir(), "edge-image-"));
  temps.push(dir);
  return copyTree(rootfs, join(dir, "rootfs"));
}

const programs = definition().programs.map((p) => p.name).sort();

describe("node-init image > contents", () => {
  it("should hold exactly the programs node-init.sh and its rendered commands run", () => {
    const script = scriptCommands(nodeInitScript());
    // A command named by a variable could be anything: the script has none, so the list is complete.
    expect(script.dynamic).toBe(0);
    const candidates = [...script.commands].filter((c) => !script.functions.has(c));
    // The image's own sh says which words are its builtins.
    const described = runIn(container, ["/bin/sh", "-c", 'for w do command -V "$w" 2>&1; done', "sh", ...candidates]).stdout;
    const builtins = new Set([...described.matchAll(/^(\S+) is a (special )?shell builtin$/gm)].map((m) => m[1]!));
    expect(builtins).toContain("printf");
    const fromScript = candidates.filter((c) => !builtins.has(c));
    const fromChart = ["hostPID", "hostNetwork"].flatMap((access) =>
      renderedCommands([`nodeInit.hostAccess=${access}`]).flatMap(executablesOf)).map((e) => e.replace(/.*\//, ""));
    expect(fromChart).toContain("nsenter");
    expect([...new Set([...fromScript, ...fromChart])].sort()).toEqual(programs);
  });

  it("should declare in `require` only programs the image holds", () => {
    const { required } = scriptCommands(nodeInitScript());
    expect(required.size).toBeGreaterThan(0);
    expect([...required].filter((p) => !programs.includes(p))).toEqual([]);
  });

  it("should find each program on the image's PATH, and the chart's absolute paths, with every library inside the image", () => {
    const absolute = ["hostPID", "hostNetwork"].flatMap((access) =>
      renderedCommands([`nodeInit.hostAccess=${access}`]).flatMap(executablesOf)).filter((e) => e.startsWith("/"));
    expect(absolute).toContain("/bin/sh");
    expect(programProblems(rootfs, arch, pathEnv, [...programs, ...new Set(absolute)])).toEqual([]);
  });

  it.each(releaseArchs.filter((a) => a !== arch))("should resolve every program and library of the %s image too (built, not run here)", (other) => {
    const image = builtImage();
    expect(programProblems(image.rootfs(other), other, pathOf(imageOf(image.out, other).config), programs)).toEqual([]);
  });

  it("should load each program with the image's own dynamic loader, which finds every library in the image", () => {
    for (const program of programs) {
      const path = pathEnv.split(":").map((d) => `${d}/${program}`).find((p) => resolveIn(rootfs, p))!;
      const r = runIn(container, ["/lib64/ld-linux-x86-64.so.2", "--list", path]);
      expect(r.status, `${program}: ${r.stdout}${r.stderr}`).toBe(0);
      expect(r.stdout, program).not.toContain("not found");
      expect(r.stdout, program).toMatch(/libc\.so\.6 => \/lib\/x86_64-linux-gnu\/libc\.so\.6/);
    }
  });

  it("should hold nothing else: every file is a program, a library one loads, or package metadata", () => {
    const starts = programs.map((p) => pathEnv.split(":").map((d) => `${d}/${p}`).find((path) => resolveIn(rootfs, path))!);
    const { files, problems } = closureOf(rootfs, arch, starts);
    expect(problems).toEqual([]);
    const metadata = /^\/(usr\/share\/doc\/[^/]+\/copyright|var\/lib\/dpkg\/status\.d\/[^/]+|etc\/debian_version|usr\/lib\/os-release)$/;
    expect(treeOf(rootfs).filter((e) => e.kind === "f" && !files.has(e.path) && !metadata.test(e.path)).map((e) => e.path)).toEqual([]);
    for (const absent of ["apt", "apt-get", "dpkg", "perl", "bash", "busybox", "ash", "zsh", "python3", "ls", "tar"]) {
      expect(programProblems(rootfs, arch, pathEnv, [absent]), absent).toEqual([`${absent}: not found on PATH ${pathEnv}`]);
    }
  });

  it("should fail, naming ip, when ip is missing: in the check and in node-init.sh itself", () => {
    const copy = copyOfRootfs();
    rmSync(join(copy, "bin", "ip"));
    expect(programProblems(copy, arch, pathEnv, programs)).toEqual([`ip: not found on PATH ${pathEnv}`]);
    writeFileSync(join(copy, "node-init.sh"), nodeInitScript());
    const r = runIn(copy, ["/bin/sh", "/node-init.sh", "check"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("required tool 'ip' is not installed in this image");
  });

  it("should fail, naming the library and who needs it, when a library is missing", () => {
    const copy = copyOfRootfs();
    rmSync(join(copy, "usr", "lib", "x86_64-linux-gnu", "libmnl.so.0.2.0"));
    const problems = programProblems(copy, arch, pathEnv, programs);
    expect(problems).toContain("ip: libmnl.so.0 (needed by /bin/ip) not found");
    expect(problems).toContain("nft: libmnl.so.0 (needed by /usr/lib/x86_64-linux-gnu/libnftables.so.1.1.0) not found");
    expect(problems.filter((p) => !/^(ip|nft): /.test(p))).toEqual([]);
  });
});
