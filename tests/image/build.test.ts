/**
 * node-init image > build: images/node-init/build.sh turns packages.lock into the same bytes every
 * time; its OCI layout holds together (every blob matches its digest and size); its layer carries
 * no owner or time but the lock's; scanners find its packages; it stays small; and it refuses to
 * build when the lock lacks a package a program needs.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { repoRoot } from "../lib/paths.js";
import { build, builtImage, imageSource, releaseArchs, requirePrograms, run, which } from "../../local/index.js";
import { blobPath, copyTree, type Descriptor, imageOf, inImage, readJson, treeOf } from "../lib/image.js";

requirePrograms("curl", "dpkg-deb", "readelf", "flock", "tar", "gzip", "shellcheck", "cp", "chroot", "mount", "unshare", "nft", "ip", "nsenter");

const MiB = 1024 * 1024;
const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");
const md5 = (data: Buffer) => createHash("md5").update(data).digest("hex");
const lockLines = () => readFileSync(join(imageSource, "packages.lock"), "utf8").split("\n");
const sourceDate = () => Number(lockLines().find((l) => l.startsWith("source-date-epoch "))!.split(" ")[1]);
const chartVersion = () => /^version: *(\S+)/m.exec(readFileSync(join(repoRoot, "Chart.yaml"), "utf8"))![1]!;

let out = "";
const temps: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "edge-image-build-"));
  temps.push(dir);
  return dir;
};
beforeAll(() => { out = builtImage().out; });
afterAll(() => { for (const t of temps) rmSync(t, { recursive: true, force: true }); });

describe("node-init image > build", () => {
  it("should give the same digests and archive bytes when built again from the same lock, on a machine without the image's programs", () => {
    const again = tempDir();
    // The build machine's own nft, ip and nsenter, hidden (in a mount namespace of the build's
    // own): a package's absolute symlink (iproute2's /sbin/ip -> /bin/ip) must not be followed
    // into the machine, or what the image holds would depend on what the machine has installed.
    const hidden = ["nft", "ip", "nsenter"].map((p) => realpathSync(which(p)!));
    const r = run("unshare", ["--mount", "--propagation", "private", "--", "sh", "-c",
      'for f in $HIDE; do mount --bind /dev/null "$f" || exit 1; done; [ ! -f /sbin/ip ] && exec sh "$0" "$@"',
      join(imageSource, "build.sh"), ...releaseArchs], { env: { ...process.env, OUT: again, FORCE: "1", HIDE: hidden.join(" ") } });
    expect(r.status, r.stderr).toBe(0);
    const read = (dir: string, file: string) => readFileSync(join(dir, file), "utf8");
    expect(read(again, "digest")).toMatch(/^sha256:[0-9a-f]{64}\n$/);
    expect(read(again, "digest")).toBe(read(out, "digest"));
    for (const arch of releaseArchs) expect(read(again, `${arch}/digest`)).toBe(read(out, `${arch}/digest`));
    expect(sha256(readFileSync(join(again, "edge-node-init.oci.tar")))).toBe(sha256(readFileSync(join(out, "edge-node-init.oci.tar"))));
  }, 300_000);

  it("should be the image the chart runs by default: its repository at the chart version, pinned to this digest", () => {
    const values = parse(readFileSync(join(repoRoot, "values.yaml"), "utf8")) as { nodeInit: { image: { repository: string; tag: string; digest: string } } };
    expect(values.nodeInit.image).toMatchObject({
      repository: "ghcr.io/edge-chart/edge-node-init",
      tag: chartVersion(),
      digest: readFileSync(join(out, "digest"), "utf8").trim(),
    });
  });

  it("should write an OCI layout whose every blob matches its digest and size, named for the chart version", () => {
    const layout = join(out, "oci");
    const checked = (d: Descriptor, mediaType: string): Buffer => {
      expect(d.mediaType).toBe(mediaType);
      const data = readFileSync(blobPath(layout, d.digest));
      expect(`sha256:${sha256(data)}`).toBe(d.digest);
      expect(data.length).toBe(d.size);
      return data;
    };
    const top = readJson<{ manifests: Descriptor[] }>(join(layout, "index.json")).manifests;
    expect(top).toHaveLength(1);
    expect(top[0]!.annotations).toEqual({
      "io.containerd.image.name": `ghcr.io/edge-chart/edge-node-init:${chartVersion()}`,
      "org.opencontainers.image.ref.name": chartVersion(),
    });
    expect(top[0]!.digest).toBe(readFileSync(join(out, "digest"), "utf8").trim());
    const index = JSON.parse(checked(top[0]!, "application/vnd.oci.image.index.v1+json").toString()) as { manifests: Descriptor[] };
    expect(index.manifests.map((m) => m.platform?.architecture)).toEqual([...releaseArchs]);
    for (const entry of index.manifests) {
      const manifest = JSON.parse(checked(entry, "application/vnd.oci.image.manifest.v1+json").toString()) as { config: Descriptor; layers: Descriptor[] };
      const config = JSON.parse(checked(manifest.config, "application/vnd.oci.image.config.v1+json").toString()) as ReturnType<typeof imageOf>["config"];
      expect(config.architecture).toBe(entry.platform!.architecture);
      expect(config.created).toBe(new Date(sourceDate() * 1000).toISOString().replace(".000", ""));
      expect(config.config.Env).toEqual(["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]);
      expect(manifest.layers).toHaveLength(1);
      const layer = checked(manifest.layers[0]!, "application/vnd.oci.image.layer.v1.tar+gzip");
      expect(config.rootfs.diff_ids).toEqual([`sha256:${sha256(gunzipSync(layer))}`]);
    }
    // The archive holds the layout and nothing else.
    const listed = run("tar", ["-tf", join(out, "edge-node-init.oci.tar")]).stdout.split("\n").filter((l) => l && !l.endsWith("/"));
    expect(listed.sort()).toEqual(treeOf(layout).filter((e) => e.kind === "f").map((e) => e.path.slice(1)).sort());
  });

  it.each(releaseArchs)("should stamp every %s layer entry with owner 0 and the lock's source date, in name order", (arch) => {
    const { manifest } = imageOf(out, arch);
    const listing = run("tar", ["-tvz", "--numeric-owner", "--full-time", "-f", blobPath(join(out, "oci"), manifest.layers[0]!.digest)], { env: { ...process.env, TZ: "UTC" } });
    expect(listing.status, listing.stderr).toBe(0);
    const entries = listing.stdout.trim().split("\n").map((l) => l.split(/\s+/));
    const when = new Date(sourceDate() * 1000).toISOString().replace("T", " ").replace(".000Z", "");
    expect(entries.filter(([, owner, , date, time]) => owner !== "0/0" || `${date} ${time}` !== when)).toEqual([]);
    const names = entries.map((e) => e[5]!);
    expect(names).toEqual([...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
    expect(names).toContain("usr/sbin/nft");
  });

  it.each(releaseArchs)("should describe each %s package for scanners: control fields, and md5sums of the files kept", (arch) => {
    const dir = join(out, arch);
    const pins = lockLines().filter((l) => l.startsWith(`${arch} `)).map((l) => l.split(" ")[1]!);
    const packages = readFileSync(join(dir, "packages"), "utf8").trim().split("\n");
    // The lock pins exactly the packages the image holds files of.
    expect(packages.sort()).toEqual(pins.sort());
    const status = join(dir, "rootfs", "var", "lib", "dpkg", "status.d");
    for (const pin of packages) {
      const [pkg, version] = pin.split("=") as [string, string];
      const control = readFileSync(join(status, pkg), "utf8");
      expect(control).toMatch(new RegExp(`^Package: ${pkg}$`, "m"));
      expect(control).toContain(`\nVersion: ${version}\n`);
      expect(control).toMatch(new RegExp(`^Architecture: (${arch}|all)$`, "m"));
      let sums = "";
      try { sums = readFileSync(join(status, `${pkg}.md5sums`), "utf8"); } catch { continue; }
      for (const [sum, path] of sums.trim().split("\n").map((l) => l.split(/\s+/))) {
        expect(md5(readFileSync(join(dir, "rootfs", path!))), `${pkg}: ${path}`).toBe(sum);
      }
    }
    expect(readFileSync(join(status, "nftables.md5sums"), "utf8")).toMatch(/ usr\/sbin\/nft\n/);
  });

  it.each(releaseArchs)("should stay under 30 MiB uncompressed (%s)", (arch) => {
    const files = treeOf(join(out, arch, "rootfs")).reduce((sum, e) => sum + e.size, 0);
    const { manifest } = imageOf(out, arch);
    const layer = gunzipSync(readFileSync(blobPath(join(out, "oci"), manifest.layers[0]!.digest))).length;
    console.info(`node-init image ${arch}: files ${(files / MiB).toFixed(1)} MiB, layer ${(layer / MiB).toFixed(1)} MiB, compressed ${(manifest.layers[0]!.size / MiB).toFixed(1)} MiB`);
    expect(files).toBeLessThan(30 * MiB);
    expect(layer).toBeLessThan(30 * MiB);
    expect(statSync(join(out, "edge-node-init.oci.tar")).size).toBeLessThan(30 * MiB);
  });

  it("should ship Debian bookworm's nft 1.0.6, the line kube-proxy's image stays on", () => {
    for (const arch of releaseArchs) {
      expect(lockLines().filter((l) => l.startsWith(`${arch} nftables=`) || l.startsWith(`${arch} libnftables1=`)).map((l) => l.split(/[ =]/)[2]))
        .toEqual(["1.0.6-2+deb12u2", "1.0.6-2+deb12u2"]);
    }
    const root = copyTree(join(out, "amd64", "rootfs"), join(tempDir(), "rootfs"));
    expect(inImage(root, ["nft", "--version"], { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" }).stdout).toMatch(/^nftables v1\.0\.6 /);
  });

  it.each([
    ["iproute2", "pins no iproute2 for amd64, which ip comes from"],
    ["libmnl0", "needs libmnl.so.0, which no package in the lock ships"],
  ])("should refuse to build from a lock without %s, naming what needs it", (pkg, message) => {
    const dir = tempDir();
    writeFileSync(join(dir, "lock"), lockLines().filter((l) => !l.startsWith(`amd64 ${pkg}=`)).join("\n"));
    const r = build(["amd64"], { OUT: join(dir, "out"), LOCK: join(dir, "lock") });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(message);
  }, 120_000);

  it("should pass shellcheck", () => {
    const r = run("shellcheck", [join(imageSource, "build.sh"), join(imageSource, "update-lock.sh")]);
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });
});
