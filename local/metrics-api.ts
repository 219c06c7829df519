/**
 * The resource metrics API (metrics.k8s.io/v1beta1, as metrics-server serves it) for a test
 * control plane (control-plane.ts), which has no metrics-server: without it an HPA can read no CPU
 * usage, and once it has scaled to its minimum it reports ScalingActive False
 * (FailedGetResourceMetric). Served over HTTPS on 127.0.0.1 and registered with the API server's
 * aggregation layer by an APIService whose ExternalName Service names 127.0.0.1. Every container
 * of a pod uses exactly what the HPAs of its namespace aim at (their CPU `averageUtilization` of
 * its requests), so an HPA computes its replicas and keeps the ones it has.
 */
import { mkdirSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import { join } from "node:path";
import type { ControlPlane } from "./control-plane.js";
import { run } from "./sys/process.js";
import { requirePrograms } from "./sys/tools.js";

const GROUP_VERSION = "metrics.k8s.io/v1beta1";
const SERVICE = { namespace: "kube-system", name: "edge-test-metrics" };

interface Container { name: string; resources?: { requests?: Record<string, string> } }
interface Pod { metadata: { name: string; namespace: string; labels?: Record<string, string> }; spec: { containers: Container[] } }
interface Hpa { spec: { metrics?: { type: string; resource?: { name: string; target: { averageUtilization?: number } } }[] } }

/** Millicores of a CPU quantity ("500m", "2", "0.5"). */
const millicores = (q: string): number => (q.endsWith("m") ? Number(q.slice(0, -1)) : Number(q) * 1000);

export class MetricsApi {
  private server: Server | undefined;

  constructor(private readonly cluster: ControlPlane) {}

  /** The CPU utilization the HPAs in `namespace` aim at (the first one found; 50 without any). */
  private async target(namespace: string): Promise<number> {
    const hpas = ((await this.cluster.api("GET", `/apis/autoscaling/v2/namespaces/${namespace}/horizontalpodautoscalers`)).body as { items?: Hpa[] }).items ?? [];
    for (const h of hpas) for (const m of h.spec.metrics ?? []) {
      if (m.type === "Resource" && m.resource?.name === "cpu" && m.resource.target.averageUtilization) return m.resource.target.averageUtilization;
    }
    return 50;
  }

  private async podMetrics(namespace: string, query: string): Promise<unknown> {
    const pods = ((await this.cluster.api("GET", `/api/v1/namespaces/${namespace}/pods${query}`)).body as { items?: Pod[] }).items ?? [];
    const percent = await this.target(namespace);
    const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    return {
      kind: "PodMetricsList", apiVersion: GROUP_VERSION, metadata: {},
      items: pods.map((p) => ({
        metadata: { name: p.metadata.name, namespace, labels: p.metadata.labels ?? {}, creationTimestamp: now },
        // A short window: the HPA counts a pod's CPU only from a window after it became Ready.
        timestamp: now, window: "1s",
        containers: p.spec.containers.map((c) => ({
          name: c.name,
          usage: {
            cpu: `${Math.round((millicores(c.resources?.requests?.cpu ?? "0") * percent) / 100)}m`,
            memory: c.resources?.requests?.memory ?? "0",
          },
        })),
      })),
    };
  }

  private async respond(method: string, url: string): Promise<{ status: number; body: unknown }> {
    const [path = "", search = ""] = url.split("?");
    const query = search ? `?${search}` : "";
    if (method !== "GET") return { status: 405, body: {} };
    if (path === `/apis/${GROUP_VERSION}`) {
      return {
        status: 200,
        body: {
          kind: "APIResourceList", apiVersion: "v1", groupVersion: GROUP_VERSION,
          resources: [
            { name: "nodes", singularName: "", namespaced: false, kind: "NodeMetrics", verbs: ["get", "list"] },
            { name: "pods", singularName: "", namespaced: true, kind: "PodMetrics", verbs: ["get", "list"] },
          ],
        },
      };
    }
    const pods = new RegExp(`^/apis/${GROUP_VERSION}/namespaces/([^/]+)/pods$`).exec(path);
    if (pods) return { status: 200, body: await this.podMetrics(decodeURIComponent(pods[1]!), query) };
    if (path === `/apis/${GROUP_VERSION}/nodes`) return { status: 200, body: { kind: "NodeMetricsList", apiVersion: GROUP_VERSION, metadata: {}, items: [] } };
    return { status: 404, body: { kind: "Status", apiVersion: "v1", status: "Failure", reason: "NotFound", code: 404 } };
  }

  /** Serves the API and registers it; resolves once the API server reports it Available. */
  async start(): Promise<void> {
    const dir = join(this.cluster.dir, "metrics-api");
    mkdirSync(dir, { recursive: true });
    const cert = run(requirePrograms("openssl").openssl, ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "tls.key", "-out", "tls.crt", "-days", "2", "-subj", "/CN=127.0.0.1"], { cwd: dir });
    if (cert.status !== 0) throw new Error(`metrics API: openssl: ${cert.stderr}`);
    const server = createServer({ key: readFileSync(join(dir, "tls.key")), cert: readFileSync(join(dir, "tls.crt")) }, (req, res) => {
      this.respond(req.method ?? "GET", req.url ?? "/").then(
        ({ status, body }) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body)),
        (e: unknown) => res.writeHead(500).end(String(e)),
      );
    });
    this.server = server;
    const port = await new Promise<number>((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port)));
    const created = [
      await this.cluster.api("POST", `/api/v1/namespaces/${SERVICE.namespace}/services`, {
        apiVersion: "v1", kind: "Service", metadata: { name: SERVICE.name, namespace: SERVICE.namespace },
        spec: { type: "ExternalName", externalName: "127.0.0.1" },
      }),
      await this.cluster.api("POST", "/apis/apiregistration.k8s.io/v1/apiservices", {
        apiVersion: "apiregistration.k8s.io/v1", kind: "APIService", metadata: { name: "v1beta1.metrics.k8s.io" },
        spec: { group: "metrics.k8s.io", version: "v1beta1", service: { ...SERVICE, port }, insecureSkipTLSVerify: true, groupPriorityMinimum: 100, versionPriority: 100 },
      }),
    ];
    for (const r of created) if (r.status !== 201) throw new Error(`metrics API: registration failed: ${r.status} ${JSON.stringify(r.body)}`);
    await this.cluster.waitFor(async () => {
      const s = (await this.cluster.api("GET", "/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.metrics.k8s.io")).body as { status?: { conditions?: { type: string; status: string }[] } };
      return s.status?.conditions?.some((c) => c.type === "Available" && c.status === "True") === true;
    }, "the metrics API Available", 60);
  }

  /** Stops serving (after the cluster has stopped: its controllers discover this API). */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}
