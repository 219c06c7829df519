/**
 * release workflow: .github/workflows/*.yaml pass actionlint (which runs shellcheck on every `run:`
 * script), a broken copy does not (so the lint really runs), every action is pinned by commit, every
 * tool is built from the Go module proxy at its pin, the Kong chart comes from the commit of its
 * tag, and the release builds the image with the tests' build script, pushes the chart to an OCI
 * registry and signs both only in the one job that holds id-token; the build container installs its
 * tools from the Debian snapshot of the image's package lock; and zizmor's audits that apply hold.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { afterAll, describe, expect, it } from "vitest";
import { repoRoot } from "../lib/paths.js";
import { releaseArchs, requirePrograms, run } from "../../local/index.js";

// actionlint hands `run:` scripts to shellcheck when it is on PATH; require it so that it does.
requirePrograms("shellcheck");
const actionlint = join(repoRoot, ".tools", "bin", "actionlint");
const workflows = join(repoRoot, ".github", "workflows");
const files = readdirSync(workflows).filter((f) => f.endsWith(".yaml")).map((f) => join(workflows, f));
const release = readFileSync(join(workflows, "release.yaml"), "utf8");
const temps: string[] = [];
afterAll(() => { for (const t of temps) rmSync(t, { recursive: true, force: true }); });

const lint = (paths: string[], cwd = repoRoot) => run(actionlint, ["-no-color", ...paths], { cwd });

interface Step { uses?: string; run?: string; with?: Record<string, string | boolean> }
interface Job {
  permissions?: Record<string, string>;
  steps: Step[];
}
const workflow = parse(release) as { permissions: Record<string, string>; env: Record<string, string>; jobs: Record<string, Job> };
const versions = readFileSync(join(repoRoot, "tools", "versions.env"), "utf8");
/** The `run:` scripts of `job`, or of every job. */
const runsOf = (job?: string) => Object.entries(workflow.jobs).filter(([name]) => !job || name === job).flatMap(([, j]) => j.steps.map((x) => x.run ?? ""));

describe("release workflow", () => {
  it("should pass actionlint and shellcheck", () => {
    expect(files.map((f) => f.replace(`${repoRoot}/`, ""))).toContain(".github/workflows/release.yaml");
    const r = lint(files);
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("should fail actionlint on a broken copy, naming each fault", () => {
    const dir = mkdtempSync(join(tmpdir(), "edge-actionlint-"));
    temps.push(dir);
    mkdirSync(join(dir, ".github", "workflows"), { recursive: true });
    const broken = release
      .replace("${{ steps.build.outputs.digest }}", "${{ steps.bulid.outputs.digest }}")
      .replace('cosign sign --yes --recursive "$IMAGE@$DIGEST"', "cosign sign --yes --recursive $IMAGE@$DIGEST");
    expect(broken).not.toBe(release);
    const copy = join(dir, ".github", "workflows", "release.yaml");
    writeFileSync(copy, broken);
    const r = lint([copy], dir);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('property "bulid" is not defined');
    expect(r.stdout).toContain("SC2086");
  });

  it("should pin every action by commit, with its release in a comment", () => {
    const uses = [...release.matchAll(/^\s*(?:- )?uses: (.+)$/gm)].map((m) => m[1]!);
    expect(uses.length).toBeGreaterThan(5);
    expect(uses.filter((u) => !/^[\w.-]+\/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$/.test(u))).toEqual([]);
  });

  it("should build every release architecture with the tests' build script, and grant id-token only to the job that signs, which runs nothing but cosign", () => {
    expect(workflow.permissions).toEqual({});
    expect(workflow.env.IMAGE).toBe("ghcr.io/edge-chart/edge-node-init");
    expect(runsOf()).toContainEqual(expect.stringContaining(`sh images/node-init/build.sh ${releaseArchs.join(" ")}`));
    const withIdToken = Object.entries(workflow.jobs).filter(([, j]) => j.permissions?.["id-token"] === "write").map(([name]) => name);
    expect(withIdToken).toEqual(["sign"]);
    const sign = runsOf("sign").join("\n");
    expect([...sign.matchAll(/go install \S+ "([^"@]+)@/g)].map((m) => m[1])).toEqual(["github.com/sigstore/cosign/v3/cmd/cosign"]);
    expect(sign).toMatch(/cosign sign --yes --recursive "\$IMAGE@\$DIGEST"/);
    expect(sign).toMatch(/cosign attest --yes --type spdxjson/);
  });

  it("should build each tool from the Go module proxy at its pin in tools/versions.env, with no installer action, no unchecked download and no build cache", () => {
    const uses = Object.values(workflow.jobs).flatMap((j) => j.steps.flatMap((x) => (x.uses ? [x.uses.split("@")[0]] : [])));
    expect(new Set(uses)).toEqual(new Set(["actions/checkout", "actions/setup-go", "actions/upload-artifact", "actions/download-artifact", "docker/login-action"]));
    const runs = runsOf().join("\n");
    const installs = [...runs.matchAll(/go install (.*)$/gm)].map((m) => m[1]!);
    expect(installs.length).toBe(4);
    for (const install of installs) {
      const pin = /"[\w./-]+@\$([A-Z0-9_]+_VERSION)"$/.exec(install)?.[1];
      expect(pin, install).toBeDefined();
      expect(versions).toMatch(new RegExp(`^${pin}=v\\d+\\.\\d+\\.\\d+$`, "m"));
    }
    // The Go toolchain by its exact version, and no cache a previous run could have filled.
    for (const j of Object.values(workflow.jobs)) {
      for (const x of j.steps.filter((y) => y.uses?.startsWith("actions/setup-go@"))) expect(x.with).toEqual({ "go-version": expect.stringMatching(/^1\.\d+\.\d+$/), cache: false });
    }
    expect(runs).not.toMatch(/(^|[;&|(]\s*)(curl|wget)\s/m);
    expect(runs).not.toMatch(/helm repo add|helm dependency (build|update)/);
  });

  it("should package the Kong chart from Kong/charts at the commit of the tag Chart.yaml depends on, and push the chart to an OCI registry where it is signed, attested and verified", () => {
    const chart = parse(readFileSync(join(repoRoot, "Chart.yaml"), "utf8")) as { dependencies: { name: string; version: string }[] };
    expect(workflow.env.KONG_CHART_TAG).toBe(`kong-${chart.dependencies.find((d) => d.name === "kong")!.version}`);
    expect(workflow.env.KONG_CHART_COMMIT).toMatch(/^[0-9a-f]{40}$/);
    const kong = workflow.jobs.chart!.steps.find((x) => x.with?.repository === "Kong/charts");
    expect(kong?.with).toEqual({ repository: "Kong/charts", ref: "${{ env.KONG_CHART_COMMIT }}", path: "kong-charts", "persist-credentials": false });
    expect(workflow.env.CHARTS).toBe("ghcr.io/edge-chart/charts");
    expect(runsOf("chart").join("\n")).toContain('helm push "dist/edge-$VERSION.tgz" "oci://$CHARTS"');
    const sign = runsOf("sign").join("\n");
    expect(sign).toContain('cosign sign --yes "$CHARTS/edge@$CHART_DIGEST"');
    expect(sign).toContain('cosign attest --yes --type slsaprovenance1 --predicate provenance.json "$CHARTS/edge@$CHART_DIGEST"');
    expect(sign).toContain('for artifact in "$IMAGE@$DIGEST" "$CHARTS/edge@$CHART_DIGEST"; do');
    expect(sign).toContain("cosign verify-attestation");
  });

  it("should install the build container's Debian tools from the snapshot of images/node-init/packages.lock, not from a mirror that moves", () => {
    const step = workflow.jobs.image!.steps.find((x) => x.run?.includes("apt-get install"));
    expect(step?.run).toBeDefined();
    // The script as the job runs it, with /etc/apt in a scratch folder and apt-get recording its arguments.
    const dir = mkdtempSync(join(tmpdir(), "edge-apt-"));
    temps.push(dir);
    mkdirSync(join(dir, "etc", "apt", "sources.list.d"), { recursive: true });
    writeFileSync(join(dir, "etc", "apt", "sources.list.d", "debian.sources"), "URIs: http://deb.debian.org/debian\n");
    mkdirSync(join(dir, "bin"));
    writeFileSync(join(dir, "bin", "apt-get"), `#!/bin/sh\necho "$*" >>"${dir}/apt-get.log"\n`, { mode: 0o755 });
    const r = run("sh", ["-euc", step!.run!.replaceAll("/etc/apt/", `${dir}/etc/apt/`)], { cwd: repoRoot, env: { ...process.env, PATH: `${join(dir, "bin")}:${process.env.PATH}` } });
    expect(r.status, r.stderr).toBe(0);
    const snapshot = /^snapshot (\d{8}T\d{6}Z)$/m.exec(readFileSync(join(repoRoot, "images", "node-init", "packages.lock"), "utf8"))![1];
    expect(readdirSync(join(dir, "etc", "apt", "sources.list.d"))).toEqual(["snapshot.list"]);
    expect(readFileSync(join(dir, "etc", "apt", "sources.list.d", "snapshot.list"), "utf8")).toBe([
      `deb [check-valid-until=no] http://snapshot.debian.org/archive/debian/${snapshot} bookworm main`,
      `deb [check-valid-until=no] http://snapshot.debian.org/archive/debian/${snapshot} bookworm-updates main`,
      `deb [check-valid-until=no] http://snapshot.debian.org/archive/debian-security/${snapshot} bookworm-security main`,
      "",
    ].join("\n"));
    expect(readFileSync(join(dir, "apt-get.log"), "utf8")).toBe("update -qq\ninstall -y -qq --no-install-recommends binutils ca-certificates curl\n");
  });

  it("should never let a checkout keep its credentials", () => {
    const checkouts = Object.values(workflow.jobs).flatMap((j) => j.steps.filter((x) => x.uses?.startsWith("actions/checkout@")));
    expect(checkouts.length).toBeGreaterThan(4);
    for (const c of checkouts) expect(c.with?.["persist-credentials"]).toBe(false);
  });
});

/**
 * The audits of zizmor (a GitHub Actions security linter; neither the Go module proxy nor npm
 * serves it) that apply to this workflow, beyond pinned actions and checkouts without credentials
 * (above): template-injection, dangerous-triggers, excessive-permissions, overprovisioned-secrets,
 * cache-poisoning and unpinned-images.
 */
describe("release workflow > security audits", () => {
  const raw = parse(release) as { on: Record<string, unknown>; jobs: Record<string, Job & { container?: string | { image: string }; services?: Record<string, { image: string }> }> };

  it("should expand no expression inside a script (template-injection): values reach scripts through env", () => {
    expect(runsOf().filter((x) => x.includes("${{"))).toEqual([]);
  });

  it("should run only on a pushed version tag (dangerous-triggers: no pull_request_target, workflow_run or issue events)", () => {
    expect(raw.on).toEqual({ push: { tags: ["v*"] } });
  });

  it("should grant each job only the scopes it uses, none at the top (excessive-permissions)", () => {
    expect(workflow.permissions).toEqual({});
    expect(Object.fromEntries(Object.entries(workflow.jobs).map(([name, j]) => [name, j.permissions]))).toEqual({
      image: { contents: "read" },
      push: { contents: "read", packages: "write" },
      chart: { contents: "read", packages: "write" },
      sbom: { contents: "read", packages: "read" },
      sign: { contents: "read", packages: "write", "id-token": "write" },
      release: { contents: "write" },
    });
  });

  it("should use no secret but the job's own GITHUB_TOKEN (overprovisioned-secrets)", () => {
    expect(new Set([...release.matchAll(/\bsecrets\.(\w+)/g)].map((m) => m[1]))).toEqual(new Set(["GITHUB_TOKEN"]));
    expect(release).not.toMatch(/toJSON\(secrets\)|secrets: inherit/);
  });

  it("should restore no cache a previous run could have filled (cache-poisoning; setup-go's cache is off, above)", () => {
    const uses = Object.values(workflow.jobs).flatMap((j) => j.steps.map((x) => x.uses ?? ""));
    expect(uses.filter((u) => /^actions\/cache[@/]/.test(u))).toEqual([]);
  });

  it("should name every container image by digest but the build container, which Renovate pins (unpinned-images)", () => {
    const images = Object.values(raw.jobs).flatMap((j) => [
      ...j.container ? [typeof j.container === "string" ? j.container : j.container.image] : [],
      ...Object.values(j.services ?? {}).map((x) => x.image),
    ]);
    // debian:bookworm is resolved to a digest by Renovate's first run (renovate.json, pinDigests):
    // no registry is reachable here to resolve it. Once pinned, this list is empty.
    expect(images.filter((i) => !/@sha256:[0-9a-f]{64}$/.test(i))).toEqual(["debian:bookworm"]);
  });
});
