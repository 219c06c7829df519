/**
 * chart > values usage: the contract and the templates agree both ways. Every value the chart
 * owns changes what renders (or makes rendering fail); every kong.* default reaches Kong; every
 * `.Values.…` path a template reads exists in the schema.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { contract, walk, type Node } from "../../gen/src/index.js";
import { kongValues, render, template } from "../lib/chart.js";
import { helms, kongChart, removeScratchCharts } from "../../local/index.js";
import { repoRoot } from "../lib/paths.js";

afterAll(removeScratchCharts);
const helm = helms[0];

/** A different valid value for each chart-owned leaf; exceptions carry a reason instead. */
const alternates: Record<string, unknown> = {
  "cluster.nodePortRange.min": 30081, // puts NodePort 30080 out of range: rendering fails
  "cluster.nodePortRange.max": 30100, // puts NodePort 30443 out of range: rendering fails
  "namespaces.kong.create": false,
  "namespaces.nodeInit.create": false,
  "nodeInit.enabled": false,
  "nodeInit.namespace": "elsewhere",
  "nodeInit.method": "nftables",
  "nodeInit.hostAccess": "hostPID",
  "nodeInit.updateStrategy.rollingUpdate.maxUnavailable": 3,
  "nodeInit.sourceRanges": ["10.0.0.0/8"],
  "nodeInit.interfaces": ["eth0"],
  "nodeInit.resyncSeconds": 45,
  "nodeInit.image.repository": "registry.example:5000/mirror/edge-node-init",
  "nodeInit.image.tag": "0.1.1",
  "nodeInit.image.digest": `sha256:${"a".repeat(64)}`,
  "nodeInit.image.pullPolicy": "Always",
  "nodeInit.resources.requests.cpu": "20m",
  "nodeInit.resources.requests.memory": "32Mi",
  "nodeInit.resources.limits.cpu": "200m",
  "nodeInit.resources.limits.memory": "128Mi",
  "nodeInit.resources.requests.ephemeral-storage": "8Mi",
  "nodeInit.resources.limits.ephemeral-storage": "32Mi",
  "nodeInit.nodeSelector": { "kubernetes.io/os": "linux" },
  "nodeInit.tolerations": [],
  "nodeInit.affinity": { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: "edge", operator: "Exists" }] }] } } },
  "nodeInit.priorityClassName": "",
  "nodeInit.podAnnotations": { "example.com/note": "x" },
  "nodeInit.metrics.enabled": true,
  "nodeInit.metrics.port": 9851,
  "nodeInit.metrics.scrapeFrom": [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } }],
  "nodeInit.metrics.serviceMonitor.enabled": true, // without metrics on: rendering fails, naming nodeInit.metrics
  "nodeInit.metrics.serviceMonitor.interval": "15s",
  "nodeInit.metrics.serviceMonitor.labels": { release: "prometheus" },
  "nodeInit.metrics.prometheusRule.enabled": true, // without metrics on: rendering fails, naming nodeInit.metrics
  "nodeInit.metrics.prometheusRule.labels": { release: "prometheus" },
  "certManager.enabled": true, // without the webhook on: rendering fails, naming certManager
  "certManager.issuer.kind": "ClusterIssuer",
  "certManager.issuer.name": "corporate-ca",
  "podDisruptionBudget.enabled": false,
  "podDisruptionBudget.maxUnavailable": 2,
  "networkPolicy.enabled": false,
  "networkPolicy.metricsFrom": [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } }],
  "networkPolicy.extraIngress": [{ from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } }] }],
  "helmTest.enabled": false,
  "helmTest.image.repository": "registry.example:5000/mirror/curl",
  "helmTest.image.tag": "8.12.0",
  "helmTest.image.digest": `sha256:${"b".repeat(64)}`,
  "helmTest.image.pullPolicy": "Always",
};
/** Values set together with an alternate, where the alternate alone has no visible effect. */
const context: Record<string, string[]> = {
  "certManager.issuer.kind": ["certManager.enabled=true", "kong.ingressController.admissionWebhook.enabled=true", "certManager.issuer.name=corporate-ca"],
  "certManager.issuer.name": ["certManager.enabled=true", "kong.ingressController.admissionWebhook.enabled=true"],
  "nodeInit.metrics.port": ["nodeInit.metrics.enabled=true"],
  "nodeInit.metrics.scrapeFrom": ["nodeInit.metrics.enabled=true"],
  "nodeInit.metrics.serviceMonitor.interval": ["nodeInit.metrics.enabled=true", "nodeInit.metrics.serviceMonitor.enabled=true"],
  "nodeInit.metrics.serviceMonitor.labels": ["nodeInit.metrics.enabled=true", "nodeInit.metrics.serviceMonitor.enabled=true"],
  "nodeInit.metrics.prometheusRule.labels": ["nodeInit.metrics.enabled=true", "nodeInit.metrics.prometheusRule.enabled=true"],
};
/** Leaves the chart does not read itself, and why. */
const notRead: Record<string, string> = {
  global: "Helm's global values, passed to the Kong subchart by Helm",
};

const leaves = [...walk(contract)].filter((e) => !e.section && e.node.default !== undefined);
const owned = leaves.filter((e) => !e.path.startsWith("kong.") && !(e.path in notRead));
const defaults = render(helm);
const kong = kongChart();

describe("chart > values usage", () => {
  it("should have an alternate value for every chart-owned leaf and none for unknown paths", () => {
    expect(Object.keys(alternates).sort()).toEqual(owned.map((e) => e.path).sort());
  });

  it.each(owned.map((e) => e.path))("should change the rendering when %s changes", (path) => {
    const set = context[path] ?? [];
    const changed = template(helm, { set, setJson: [`${path}=${JSON.stringify(alternates[path])}`] });
    if (changed.status !== 0) {
      // A failure counts as an effect when it names the value (or the object holding it).
      expect(changed.stderr).toContain(path.split(".").slice(0, -1).join("."));
      return;
    }
    expect(changed.stdout).not.toBe(template(helm, { set }).stdout);
  });

  it.runIf(kong.kind === "stand-in")("should hand every kong.* default to Kong unchanged", () => {
    const received = kongValues(defaults);
    for (const e of leaves.filter((x) => x.path.startsWith("kong."))) {
      const value = e.path.split(".").slice(1).reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], received);
      expect(value, e.path).toEqual(e.node.default);
    }
  });

  it("should read only paths the schema declares", () => {
    const files: string[] = [];
    const collect = (dir: string) => {
      for (const f of readdirSync(dir)) {
        const p = join(dir, f);
        if (statSync(p).isDirectory()) collect(p); else files.push(p);
      }
    };
    collect(join(repoRoot, "templates"));
    const read = new Set<string>();
    for (const f of files) {
      for (const m of readFileSync(f, "utf8").matchAll(/\.Values\.([A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*)/g)) read.add(m[1]!);
    }
    expect(read.size).toBeGreaterThan(10);
    /** Whether the schema declares `path` (any key below an open map or free-form object counts). */
    const declared = (path: string): boolean => {
      let node: Node | undefined = contract;
      for (const key of path.split(".")) {
        if (node === undefined) return false;
        if (!node.properties) return node.type === "object" || node.type === "array";
        node = node.properties[key] ?? (node.additionalProperties === true ? { type: "object", description: "open" } : undefined);
      }
      return node !== undefined;
    };
    const missing = [...read].filter((path) => !declared(path));
    expect(missing).toEqual([]);
  });
});
