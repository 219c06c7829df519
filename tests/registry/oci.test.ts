/**
 * registry > OCI: the chart and node-init's image go through a real OCI registry (CNCF
 * Distribution, HTTPS), are signed with cosign and verified before use, as a release and an
 * air-gapped mirror do:
 *
 * - the chart: `helm package`, `helm push oci://…`, `cosign sign` of its digest, `cosign verify`,
 *   then `helm install edge oci://…/edge --version …` on the test control plane (kwok nodes);
 * - node-init's image: pushed from its OCI archive by digest, signed, then mirrored with the
 *   README's commands (`oras cp -r` to an OCI layout and from it into another repository), its
 *   signature carried along and verified there, by the digest the chart pins.
 *
 * A re-pushed (tampered) artifact and a wrong key fail verification. Signing uses a key pair made
 * for the test with no transparency log: keyless signing (the release's) needs Sigstore, which is
 * not reachable here.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { builtImage, ControlPlane, goImage, helms, Registry, tool, removeScratchCharts, type Run, run, scratchChart } from "../../local/index.js";
import { repoRoot } from "../lib/paths.js";

const helm = helms[1];
const chartYaml = parse(readFileSync(join(repoRoot, "Chart.yaml"), "utf8")) as { version: string };
const values = parse(readFileSync(join(repoRoot, "values.yaml"), "utf8")) as { nodeInit: { image: { digest: string } } };

describe("registry > the chart and node-init's image through an OCI registry, signed and verified", () => {
  const registry = new Registry({ port: 15000 + (process.pid % 1000) });
  const cluster = new ControlPlane();
  let failed = false;
  const keys = join(registry.dir, "keys");
  const ok = (r: Run, what: string) => {
    expect(r.status, `${what}\n${r.stdout}\n${r.stderr}`).toBe(0);
    return r.stdout;
  };
  const cosign = (args: string[]) => registry.client(tool("cosign"), args, { cwd: keys, env: { COSIGN_PASSWORD: "" } });
  /** cosign sign with the test's key; no transparency log or timestamp service (an empty signing config). */
  const sign = (ref: string) => ok(cosign(["sign", "--yes", "--key", "cosign.key", "--signing-config", "signing-config.json", ref]), `cosign sign ${ref}`);
  const verify = (ref: string, key = "cosign.pub") => cosign(["verify", "--key", key, "--insecure-ignore-tlog=true", ref]);
  const oras = (args: string[]) => ok(registry.client(tool("oras"), args, { cwd: registry.dir }), `oras ${args.join(" ")}`);
  let chartDigest = "";

  beforeAll(async () => {
    try {
      await Promise.all([registry.start(), cluster.start()]);
      run("mkdir", ["-p", keys]);
      ok(cosign(["generate-key-pair"]), "cosign generate-key-pair");
      ok(cosign(["generate-key-pair", "--output-key-prefix", "other"]), "cosign generate-key-pair (another key)");
      ok(cosign(["signing-config", "create", "--out", "signing-config.json"]), "cosign signing-config create");
    } catch (e) {
      failed = true;
      throw e;
    }
  }, 240_000);
  afterEach((context) => {
    if (context.task.result?.state === "fail") failed = true;
  });
  afterAll(async () => {
    if (failed) console.log(`registry log (the last lines):\n${registry.log().split("\n").slice(-20).join("\n")}`);
    await Promise.all([registry.stop(), cluster.stop(failed)]);
    removeScratchCharts();
  });

  it("should push the packaged chart to oci://, sign its digest and verify it with the key", () => {
    const pkg = join(registry.dir, "package");
    ok(run(helm.path, ["package", scratchChart(), "-d", pkg]), "helm package");
    const out = registry.client(helm.path, ["push", join(pkg, `edge-${chartYaml.version}.tgz`), `oci://${registry.host}/charts`]);
    chartDigest = /Digest: (sha256:[0-9a-f]{64})/.exec(ok(out, "helm push") + out.stderr)?.[1] ?? "";
    expect(chartDigest).toMatch(/^sha256:/);
    sign(`${registry.host}/charts/edge@${chartDigest}`);
    const verified = ok(verify(`${registry.host}/charts/edge:${chartYaml.version}`), "cosign verify");
    expect(verified).toContain(`"docker-manifest-digest":"${chartDigest}"`);
  });

  it("should refuse the chart with another key", () => {
    const r = verify(`${registry.host}/charts/edge@${chartDigest}`, "other.pub");
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/no matching (signatures|attestations)/);
  });

  it("should install edge from oci:// at the verified digest on the control plane", async () => {
    ok(cluster.helm(helm.path, ["install", "edge", `oci://${registry.host}/charts/edge@${chartDigest}`, "--ca-file", registry.ca, "--wait", "--timeout", "180s"]), "helm install from oci://");
    const releases = JSON.parse(ok(cluster.helm(helm.path, ["list", "-o", "json"]), "helm list")) as { name: string; status: string; chart: string }[];
    expect(releases).toEqual([expect.objectContaining({ name: "edge", status: "deployed", chart: `edge-${chartYaml.version}` })]);
    const ds = (await cluster.api("GET", "/apis/apps/v1/namespaces/edge-node-init/daemonsets/edge-node-init")).body as { spec: { template: { spec: { containers: { image: string }[] } } } };
    expect(ds.spec.template.spec.containers[0]!.image).toContain(`@${values.nodeInit.image.digest}`);
    // The registry served the chart by its digest.
    expect(registry.log()).toContain(`GET /v2/charts/edge/manifests/${chartDigest}`);
  });

  it("should refuse a tampered chart: another package pushed under the signed version", () => {
    const tampered = join(registry.dir, "tampered");
    run("cp", ["-r", scratchChart(), tampered]);
    run("sh", ["-c", `printf '\\n# tampered\\n' >> ${join(tampered, "values.yaml")}`]);
    const pkg = join(registry.dir, "tampered-package");
    ok(run(helm.path, ["package", tampered, "-d", pkg]), "helm package (tampered)");
    ok(registry.client(helm.path, ["push", join(pkg, `edge-${chartYaml.version}.tgz`), `oci://${registry.host}/charts`]), "helm push (tampered)");
    const r = verify(`${registry.host}/charts/edge:${chartYaml.version}`);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/no (matching )?signatures/);
    // The signed digest still verifies.
    ok(verify(`${registry.host}/charts/edge@${chartDigest}`), "cosign verify of the signed digest");
  });

  it("should mirror node-init's image with its signature by the README's commands and verify it there by the chart's digest", () => {
    const digest = values.nodeInit.image.digest;
    const version = chartYaml.version;
    const archive = join(builtImage().out, "edge-node-init.oci.tar");
    // The release: the image pushed under its name (here the registry stands for ghcr.io) and signed.
    expect(registry.pushArchive(archive, version, "edge-chart/edge-node-init")).toBe(digest);
    sign(`${registry.host}/edge-chart/edge-node-init@${digest}`);
    // The README's air-gapped steps, only the registry host differing.
    oras(["cp", "-r", "--to-oci-layout", `${registry.host}/edge-chart/edge-node-init:${version}`, `./edge-node-init:${version}`]);
    oras(["cp", "-r", "--from-oci-layout", `./edge-node-init:${version}`, `${registry.host}/edge/edge-node-init:${version}`]);
    const verified = ok(verify(`${registry.host}/edge/edge-node-init@${digest}`), "cosign verify of the mirrored image");
    expect(verified).toContain(`"docker-manifest-digest":"${digest}"`);
    expect(verify(`${registry.host}/edge/edge-node-init@${digest}`, "other.pub").status).not.toBe(0);
    // Another image under the mirrored tag carries no signature of ours.
    registry.pushArchive(goImage("pause").archive, version, "edge/edge-node-init");
    expect(verify(`${registry.host}/edge/edge-node-init:${version}`).status).not.toBe(0);
  });
});
