/**
 * chart > pod security: every pod the chart renders is evaluated by the Kubernetes Pod Security
 * Admission library (tools/psa, built as .tools/bin/psa-check), the code the API server runs, at
 * the level its namespace enforces. Pods in `restricted` namespaces (Kong's, with the `helm test`
 * pod) pass; node-init passes only at `privileged`, which is why it lives in a namespace of its own. Negative cases prove the check
 * rejects a privileged container in a restricted namespace.
 */
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { type K8sObject, presetFiles, type RenderOptions, template } from "../lib/chart.js";
import { helms, kongChart, tool, removeScratchCharts, run } from "../../local/index.js";

const kong = kongChart();
console.log(`chart > pod security: Kong chart = ${kong.kind} (${kong.path})`);
afterAll(removeScratchCharts);
const helm = helms[0];

type Level = "privileged" | "baseline" | "restricted";

/** One line of psa-check's output. */
interface PsaResult {
  kind: string;
  namespace: string;
  name: string;
  /** Enforce level of the pod's namespace. */
  level: Level;
  /** At `level`. */
  allowed: boolean;
  allowedAt: Record<Level, boolean>;
  /** At `level`: "reason: detail". */
  violations: string[];
  violationsAt: Record<Level, string[]>;
}

const POD_KINDS = new Set(["Pod", "Deployment", "DaemonSet", "StatefulSet", "ReplicaSet", "Job", "CronJob"]);

/** Runs psa-check on a YAML stream; `defaultLevel` applies to namespaces the stream does not label. */
function psa(manifests: string, defaultLevel: Level = "restricted"): PsaResult[] {
  const r = run(tool("psa-check"), ["--default-level", defaultLevel], { input: manifests });
  if (r.status !== 0) throw new Error(`psa-check failed:\n${r.stderr}`);
  return r.stdout.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as PsaResult);
}

/**
 * `helm template` (hooks, such as `helm test` pods, included) as text for psa-check, and parsed.
 * Helm's own YAML is what psa-check reads: re-serialising could change how scalars are typed.
 */
function renderText(options: RenderOptions): { text: string; objects: K8sObject[] } {
  const r = template(helm, options);
  if (r.status !== 0) throw new Error(`${helm.name} template failed:\n${r.stderr}`);
  const objects = parseAllDocuments(r.stdout).map((d) => d.toJS() as K8sObject | null).filter((o): o is K8sObject => o !== null);
  return { text: r.stdout, objects };
}

const key = (o: { kind: string; namespace: string; name: string }) => `${o.kind}/${o.namespace}/${o.name}`;
const sorted = (a: string[]) => [...a].sort();

const hostAccessModes = ["hostPID", "hostNetwork"] as const;
type HostAccess = (typeof hostAccessModes)[number];

/** What the library reports against node-init at baseline and restricted, per host-access mode. */
function nodeInitViolations(mode: HostAccess): Record<"baseline" | "restricted", string[]> {
  const caps = mode === "hostPID" ? `"NET_ADMIN", "SYS_ADMIN", "SYS_PTRACE"` : `"NET_ADMIN"`;
  const hostNs = `host namespaces: ${mode}=true`;
  return {
    baseline: [hostNs, `non-default capabilities: containers "apply", "node-init" must not include ${caps} in securityContext.capabilities.add`],
    restricted: [
      hostNs,
      // Kubernetes rejects allowPrivilegeEscalation=false together with SYS_ADMIN (README, Privileges).
      ...(mode === "hostPID" ? [`allowPrivilegeEscalation != false: containers "apply", "node-init" must set securityContext.allowPrivilegeEscalation=false`] : []),
      `unrestricted capabilities: containers "apply", "node-init" must not include ${caps} in securityContext.capabilities.add`,
      `runAsNonRoot != true: containers "apply", "node-init" must not set securityContext.runAsNonRoot=false`,
      `runAsUser=0: containers "apply", "node-init" must not set runAsUser=0`,
    ],
  };
}

const presetCases = [
  { name: "defaults", values: [] as string[], nodeInit: true },
  ...presetFiles().map((f) => {
    const preset = parse(readFileSync(f, "utf8")) as { nodeInit?: { enabled?: boolean } } | null;
    return { name: basename(f, ".yaml"), values: [f], nodeInit: preset?.nodeInit?.enabled !== false };
  }),
];
// Each host-access mode where node-init renders; once where it does not.
const cases = presetCases.flatMap((c) =>
  c.nodeInit ? hostAccessModes.map((hostAccess) => ({ ...c, hostAccess: hostAccess as HostAccess | "off" })) : [{ ...c, hostAccess: "off" as const }],
);

describe(`chart > pod security (Pod Security Admission library, ${helm.name})`, () => {
  it.each(cases)("should admit every pod of $name (node-init $hostAccess) at its namespace's level", ({ name, values, nodeInit, hostAccess }) => {
    const { text, objects } = renderText({ values, set: hostAccess === "off" ? [] : [`nodeInit.hostAccess=${hostAccess}`] });
    const results = psa(text);
    const summary = results.map((r) => `${key(r)} ${r.level}:${r.allowed ? "allowed" : "DENIED"}`).join(", ");
    console.log(`pod security: ${name} (node-init ${hostAccess}): ${results.length} pod(s) evaluated, ${results.filter((r) => r.allowed).length} allowed — ${summary}`);

    // psa-check saw every object of the render that carries a pod spec, and the ones expected.
    const carriers = objects.filter((o) => POD_KINDS.has(o.kind)).map((o) => key({ kind: o.kind, namespace: o.metadata.namespace ?? "default", name: o.metadata.name }));
    expect(sorted(results.map(key))).toEqual(sorted(carriers));
    // edge's `helm test` pod always; node-init when enabled; Kong's pods only from the real chart.
    const expected = [
      "Pod/kong/edge-proxy-test",
      ...(nodeInit ? ["DaemonSet/edge-node-init/edge-node-init"] : []),
      ...(kong.kind === "real" ? ["Deployment/kong/edge-kong"] : []),
    ];
    expect(results.map(key)).toEqual(expect.arrayContaining(expected));
    expect(results.length).toBeGreaterThan(0);

    // Every pod lands in a namespace the chart labels; only node-init's is not restricted.
    const levels = new Map(objects.filter((o) => o.kind === "Namespace").map((n) => [n.metadata.name, n.metadata.labels?.["pod-security.kubernetes.io/enforce"]]));
    for (const r of results) {
      expect(levels.get(r.namespace), `${key(r)}: namespace not rendered by the chart`).toBe(r.level);
      expect(r.level, key(r)).toBe(r.namespace === "edge-node-init" ? "privileged" : "restricted");
      expect({ pod: key(r), allowed: r.allowed, violations: r.violations }).toEqual({ pod: key(r), allowed: true, violations: [] });
    }
    for (const r of results.filter((x) => x.level === "restricted")) expect(r.allowedAt, key(r)).toEqual({ privileged: true, baseline: true, restricted: true });

    // node-init is admitted only at privileged: these are the violations that keep it out of kong's namespace.
    const ni = results.find((r) => r.kind === "DaemonSet" && r.name === "edge-node-init");
    if (hostAccess === "off") {
      expect(ni).toBeUndefined();
    } else {
      expect(ni?.allowedAt).toEqual({ privileged: true, baseline: false, restricted: false });
      const want = nodeInitViolations(hostAccess);
      expect(sorted(ni?.violationsAt.baseline ?? [])).toEqual(sorted(want.baseline));
      expect(sorted(ni?.violationsAt.restricted ?? [])).toEqual(sorted(want.restricted));
    }
  });

  it.runIf(kong.kind === "real")("should admit Kong's Deployment pod, init containers and ingress controller included, at restricted (real chart)", () => {
    const { text, objects } = renderText({});
    const deployment = objects.find((o) => o.kind === "Deployment" && o.metadata.name === "edge-kong");
    const spec = (deployment?.spec as { template: { spec: { initContainers?: { name: string }[]; containers: { name: string }[] } } }).template.spec;
    console.log(`pod security: Kong pod containers: init [${(spec.initContainers ?? []).map((c) => c.name).join(", ")}], [${spec.containers.map((c) => c.name).join(", ")}]`);
    expect(spec.initContainers?.length).toBeGreaterThan(0);
    expect(spec.containers.map((c) => c.name)).toEqual(expect.arrayContaining(["proxy", "ingress-controller"]));
    const r = psa(text).find((x) => key(x) === "Deployment/kong/edge-kong");
    expect(r).toMatchObject({ level: "restricted", allowed: true, violations: [], allowedAt: { restricted: true } });
  });
});

/** A Deployment that meets `restricted`, except for `privileged` when asked. */
const deployment = (namespace: string, privileged: boolean) => `
apiVersion: apps/v1
kind: Deployment
metadata: {name: probe, namespace: ${namespace}}
spec:
  selector: {matchLabels: {app: probe}}
  template:
    metadata: {labels: {app: probe}}
    spec:
      securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
      containers:
        - name: app
          image: registry.example/app:1
          securityContext:
            allowPrivilegeEscalation: false
            capabilities: {drop: [ALL]}
            privileged: ${privileged}
`;
const restrictedNamespace = `
apiVersion: v1
kind: Namespace
metadata:
  name: probe-ns
  labels: {pod-security.kubernetes.io/enforce: restricted, pod-security.kubernetes.io/enforce-version: latest}
`;
const PRIVILEGED = `privileged: container "app" must not set securityContext.privileged=true`;

describe("chart > pod security: the check bites", () => {
  it("should flip a restricted-compliant Deployment to denied when one container sets privileged: true", () => {
    const [ok] = psa(`${restrictedNamespace}---${deployment("probe-ns", false)}`);
    expect(ok).toMatchObject({ namespace: "probe-ns", level: "restricted", allowed: true, violations: [] });
    const [denied] = psa(`${restrictedNamespace}---${deployment("probe-ns", true)}`);
    expect(denied).toMatchObject({ level: "restricted", allowed: false, violations: [PRIVILEGED] });
    expect(denied?.allowedAt).toEqual({ privileged: true, baseline: false, restricted: false });
  });

  it("should deny a privileged pod in the kong namespace by the label the chart renders", () => {
    const { text } = renderText({});
    // Unlabelled namespaces count as privileged here, so only the chart's label can deny it.
    const results = psa(`${text}\n---${deployment("kong", true)}`, "privileged");
    expect(results.find((r) => key(r) === "Deployment/kong/probe")).toMatchObject({ level: "restricted", allowed: false, violations: [PRIVILEGED] });
  });

  it.runIf(kong.kind === "real")("should deny Kong's pod when a privileged init container is added through kong.deployment.initContainers (real chart)", () => {
    const init = {
      name: "privileged-init",
      image: "registry.example/busybox:1",
      securityContext: { runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] }, seccompProfile: { type: "RuntimeDefault" }, privileged: true },
    };
    const { text } = renderText({ setJson: [`kong.deployment.initContainers=${JSON.stringify([init])}`] });
    const r = psa(text).find((x) => key(x) === "Deployment/kong/edge-kong");
    expect(r).toMatchObject({
      level: "restricted",
      allowed: false,
      violations: [`privileged: container "privileged-init" must not set securityContext.privileged=true`],
      allowedAt: { privileged: true, baseline: false, restricted: false },
    });
  });
});
