/**
 * argocd > applications: the Argo CD Applications of argocd/ are valid Application objects
 * (schema of @kubernetes-models/argo-cd@4.0.0, generated from Argo CD v3.3.9's Go types), point at
 * this chart the way README describes (path `.`, a preset as values file, release `edge`), and
 * render with Helm 3 (the Helm major Argo CD 3 runs) into what each file's comments promise:
 * edge.yaml leaves the namespaces to the chart; edge-managed-namespace.yaml has Argo CD create
 * `kong` with exactly the labels the chart would give it.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  Application,
  type IApplication,
  type IApplicationDestination,
  type IApplicationSource,
  type IApplicationSourceHelm,
  type IApplicationSpec,
  type IManagedNamespaceMetadata,
  type ISyncPolicy,
  type ISyncPolicyAutomated,
} from "@kubernetes-models/argo-cd/argoproj.io/v1alpha1";
import { afterAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { type K8sObject, render } from "../lib/chart.js";
import { helms, kongChart, removeScratchCharts, run } from "../../local/index.js";
import { repoRoot } from "../lib/paths.js";

const kong = kongChart();
console.log(`argocd > applications: Kong chart = ${kong.kind} (${kong.path})`);
afterAll(removeScratchCharts);

const helm = helms[0]; // helm3
const PLACEHOLDER_REPO = "https://git.example.com/platform/edge.git";
const IN_CLUSTER = "https://kubernetes.default.svc";
const NODE_INIT_NAMESPACE = "edge-node-init";
/** The size kubectl's client-side apply can store in the last-applied-configuration annotation. */
const ANNOTATION_LIMIT = 262144;

/**
 * The field names of an Argo CD type, complete and exact (the compiler checks both), so that a
 * misspelt key, which the Application schema accepts silently, fails the test.
 */
const fields = <T>(keys: Record<keyof T, true>): Set<string> => new Set(Object.keys(keys));
const KNOWN = {
  application: fields<IApplication>({ apiVersion: true, kind: true, metadata: true, operation: true, spec: true, status: true }),
  metadata: fields<IApplication["metadata"]>({
    annotations: true, creationTimestamp: true, deletionGracePeriodSeconds: true, deletionTimestamp: true, finalizers: true,
    generateName: true, generation: true, labels: true, managedFields: true, name: true, namespace: true, ownerReferences: true,
    resourceVersion: true, selfLink: true, uid: true,
  }),
  spec: fields<IApplicationSpec>({
    destination: true, ignoreDifferences: true, info: true, project: true, revisionHistoryLimit: true, source: true,
    sourceHydrator: true, sources: true, syncPolicy: true,
  }),
  source: fields<IApplicationSource>({
    chart: true, directory: true, helm: true, kustomize: true, name: true, path: true, plugin: true, ref: true, repoURL: true,
    targetRevision: true,
  }),
  helm: fields<IApplicationSourceHelm>({
    apiVersions: true, fileParameters: true, ignoreMissingValueFiles: true, kubeVersion: true, namespace: true, parameters: true,
    passCredentials: true, releaseName: true, skipCrds: true, skipSchemaValidation: true, skipTests: true, valueFiles: true,
    values: true, valuesObject: true, version: true,
  }),
  destination: fields<IApplicationDestination>({ name: true, namespace: true, server: true }),
  syncPolicy: fields<ISyncPolicy>({ automated: true, managedNamespaceMetadata: true, retry: true, syncOptions: true }),
  automated: fields<ISyncPolicyAutomated>({ allowEmpty: true, enabled: true, prune: true, selfHeal: true }),
  managedNamespaceMetadata: fields<IManagedNamespaceMetadata>({ annotations: true, labels: true }),
};

/** The parts of an Application these files use, as parsed (not trusted until validated). */
interface App {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; finalizers?: string[] };
  spec: {
    project: string;
    source: { repoURL: string; targetRevision: string; path: string; helm: { releaseName?: string; valueFiles?: string[]; valuesObject?: Record<string, unknown> } };
    destination: { server?: string; namespace?: string };
    syncPolicy?: { automated?: { prune?: boolean; selfHeal?: boolean }; syncOptions?: string[]; managedNamespaceMetadata?: { labels?: Record<string, string> } };
  };
}

function load(file: string): { text: string; app: App } {
  const text = readFileSync(join(repoRoot, "argocd", file), "utf8");
  const docs = parseAllDocuments(text);
  expect(docs, `${file}: one YAML document`).toHaveLength(1);
  const doc = docs[0]!;
  expect(doc.errors, `${file}: YAML errors`).toEqual([]);
  return { text, app: doc.toJS() as App };
}

/** Keys of `obj` that the Argo CD type does not declare. */
function unknownKeys(obj: unknown, known: Set<string>, path: string): string[] {
  if (obj === undefined) return [];
  return Object.keys(obj as object).filter((k) => !known.has(k)).map((k) => `${path}.${k}`);
}

/** Renders the chart the way Argo CD would with the Application's Helm settings (Helm 3). */
function renderAs(app: App, extra: { set?: string[] } = {}): K8sObject[] {
  const h = app.spec.source.helm;
  return render(helm, {
    values: (h.valueFiles ?? []).map((f) => join(repoRoot, app.spec.source.path, f)),
    // valuesObject takes precedence over valueFiles in Argo CD, as --set-json does over -f in Helm.
    setJson: Object.entries(h.valuesObject ?? {}).map(([k, v]) => `${k}=${JSON.stringify(v)}`),
    namespace: app.spec.destination.namespace,
    set: extra.set ?? [],
  });
}

const files = ["edge.yaml", "edge-managed-namespace.yaml"];

describe("argocd > applications", () => {
  describe.each(files)("%s", (file) => {
    const { text, app } = load(file);

    it("should be a valid Argo CD Application (@kubernetes-models/argo-cd schema)", () => {
      expect(() => new Application(app as unknown as IApplication).validate()).not.toThrow();
      expect([app.apiVersion, app.kind]).toEqual(["argoproj.io/v1alpha1", "Application"]);
    });

    it("should use only field names Argo CD knows (the schema accepts unknown ones)", () => {
      const s = app.spec;
      expect([
        ...unknownKeys(app, KNOWN.application, ""),
        ...unknownKeys(app.metadata, KNOWN.metadata, ".metadata"),
        ...unknownKeys(s, KNOWN.spec, ".spec"),
        ...unknownKeys(s.source, KNOWN.source, ".spec.source"),
        ...unknownKeys(s.source.helm, KNOWN.helm, ".spec.source.helm"),
        ...unknownKeys(s.destination, KNOWN.destination, ".spec.destination"),
        ...unknownKeys(s.syncPolicy, KNOWN.syncPolicy, ".spec.syncPolicy"),
        ...unknownKeys(s.syncPolicy?.automated, KNOWN.automated, ".spec.syncPolicy.automated"),
        ...unknownKeys(s.syncPolicy?.managedNamespaceMetadata, KNOWN.managedNamespaceMetadata, ".spec.syncPolicy.managedNamespaceMetadata"),
      ]).toEqual([]);
    });

    it("should deploy this chart: placeholder repoURL, path `.`, release `edge`, value files from presets/", () => {
      const src = app.spec.source;
      expect(src.repoURL).toBe(PLACEHOLDER_REPO);
      expect(text).toMatch(/# PLACEHOLDER: replace .*\n\s*repoURL: /);
      expect(src.path).toBe(".");
      expect(src.helm.releaseName).toBe("edge");
      expect(src.helm.valueFiles).toEqual(["presets/on-prem-ha.yaml"]);
      for (const f of src.helm.valueFiles ?? []) {
        expect(f, "a preset").toMatch(/^presets\/[a-z0-9-]+\.yaml$/);
        expect(existsSync(join(repoRoot, src.path, f)), `${f} exists`).toBe(true);
      }
    });

    it("should sync into the in-cluster `kong` namespace, pruning, with the resources finalizer and without server-side apply", () => {
      expect(app.spec.destination).toEqual({ server: IN_CLUSTER, namespace: "kong" });
      expect(app.spec.syncPolicy?.automated).toEqual({ prune: true, selfHeal: true });
      expect(app.metadata.finalizers).toEqual(["resources-finalizer.argocd.argoproj.io"]);
      expect(app.spec.syncPolicy?.syncOptions ?? []).not.toContain("ServerSideApply=true");
    });

    it("should render only into the destination namespace and node-init's", () => {
      const objects = renderAs(app);
      const namespaces = new Set(objects.flatMap((o) => (o.metadata.namespace ? [o.metadata.namespace] : [])));
      expect([...namespaces].sort()).toEqual([NODE_INIT_NAMESPACE, app.spec.destination.namespace].sort());
    });

    // Backs the choice of client-side apply (no ServerSideApply=true) stated in the files.
    it("should sync only objects that fit the last-applied-configuration annotation", () => {
      const objects = renderAs(app);
      if (kong.kind === "real") {
        const crds = run(helm.path, ["show", "crds", kong.path]);
        expect(crds.status, crds.stderr).toBe(0);
        objects.push(...parseAllDocuments(crds.stdout).map((d) => d.toJS() as K8sObject | null).filter((o): o is K8sObject => o !== null));
      }
      const sizes = objects.map((o) => ({ id: `${o.kind}/${o.metadata.name}`, bytes: JSON.stringify(o).length }));
      expect(sizes.filter((s) => s.bytes >= ANNOTATION_LIMIT)).toEqual([]);
    });
  });

  describe("edge.yaml (namespaces created by the chart)", () => {
    const { app } = load("edge.yaml");

    it("should leave namespace creation to the chart: no CreateNamespace, no managed metadata, no namespaces.* override", () => {
      expect(app.spec.syncPolicy?.syncOptions ?? []).not.toContain("CreateNamespace=true");
      expect(app.spec.syncPolicy?.managedNamespaceMetadata).toBeUndefined();
      expect(app.spec.source.helm.valuesObject).toBeUndefined();
      const namespaces = renderAs(app).filter((o) => o.kind === "Namespace").map((n) => n.metadata.name);
      expect(namespaces.sort()).toEqual([NODE_INIT_NAMESPACE, app.spec.destination.namespace].sort());
    });
  });

  describe("edge-managed-namespace.yaml (kong created by Argo CD)", () => {
    const { app } = load("edge-managed-namespace.yaml");
    const destination = app.spec.destination.namespace;

    it("should have Argo CD create the destination namespace while the chart does not", () => {
      expect(app.spec.syncPolicy?.syncOptions).toEqual(["CreateNamespace=true"]);
      expect(app.spec.source.helm.valuesObject).toEqual({ namespaces: { kong: { create: false } } });
      // A rendered Namespace of the same name would override managedNamespaceMetadata.
      const namespaces = renderAs(app).filter((o) => o.kind === "Namespace").map((n) => n.metadata.name);
      expect(namespaces).toEqual([NODE_INIT_NAMESPACE]);
    });

    it("should give `kong` the Pod Security labels templates/namespaces.yaml gives it (restricted)", () => {
      const labels = app.spec.syncPolicy?.managedNamespaceMetadata?.labels;
      const rendered = renderAs(app, { set: ["namespaces.kong.create=true"] }).find((o) => o.kind === "Namespace" && o.metadata.name === destination);
      expect(rendered, `the chart renders Namespace ${destination}`).toBeDefined();
      // Helm's ownership labels (managed-by, chart version) would be false on a namespace Argo CD owns.
      const podSecurity = Object.fromEntries(Object.entries(rendered?.metadata.labels ?? {}).filter(([k]) => k.startsWith("pod-security.kubernetes.io/")));
      expect(labels).toEqual(podSecurity);
      expect(labels).toMatchObject({
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/audit": "restricted",
        "pod-security.kubernetes.io/warn": "restricted",
      });
    });
  });
});
