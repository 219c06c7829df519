/**
 * The one API client of the local cluster: requests to the API server as its admin (client
 * certificate), and the few verbs the tests and Argo CD's setup need on any kind, found by
 * discovery (server-side apply, get, merge patch).
 */
import { readFileSync } from "node:fs";
import { request } from "node:https";

export interface ApiResponse {
  status: number;
  body: unknown;
}

/** A Kubernetes object as read from the API. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string; namespace?: string; uid?: string; resourceVersion?: string; generation?: number;
    labels?: Record<string, string>; annotations?: Record<string, string>; finalizers?: string[]; deletionTimestamp?: string;
  };
  [key: string]: unknown;
}

/** Where the API server listens and the admin's credentials (files). */
export interface ApiConnection {
  port: () => number;
  ca: string;
  cert: string;
  key: string;
}

export class ApiClient {
  private readonly resources = new Map<string, { name: string; kind: string; namespaced: boolean }[]>();

  constructor(private readonly connection: ApiConnection) {}

  /** One request; status 0 when the server did not answer. */
  request(method: string, path: string, body?: unknown, contentType = "application/json"): Promise<ApiResponse> {
    const c = this.connection;
    return new Promise((resolve) => {
      const req = request({
        host: "127.0.0.1", port: c.port(), path, method,
        ca: readFileSync(c.ca), cert: readFileSync(c.cert), key: readFileSync(c.key),
        headers: body === undefined ? {} : { "content-type": contentType },
        timeout: 10_000,
      }, (res) => {
        let data = "";
        res.on("data", (chunk) => (data += chunk));
        res.on("end", () => {
          let parsed: unknown = data;
          try { parsed = JSON.parse(data); } catch { /* not JSON (e.g. /readyz) */ }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      });
      req.on("error", () => resolve({ status: 0, body: null }));
      req.on("timeout", () => req.destroy());
      if (body !== undefined) req.write(JSON.stringify(body));
      req.end();
    });
  }

  /** Forgets what discovery said (after new CRDs are served). */
  forgetDiscovery(): void {
    this.resources.clear();
  }

  /** The API path of `kind` in `apiVersion` (collection, with the namespace when namespaced). */
  async path(apiVersion: string, kind: string, namespace?: string): Promise<string> {
    const base = apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    if (!this.resources.has(base)) {
      const r = await this.request("GET", base);
      this.resources.set(base, (r.body as { resources?: { name: string; kind: string; namespaced: boolean }[] }).resources ?? []);
    }
    const resource = this.resources.get(base)!.find((r) => r.kind === kind && !r.name.includes("/"));
    if (!resource) throw new Error(`api: ${kind} is not served in ${apiVersion}`);
    return `${base}${resource.namespaced ? `/namespaces/${namespace ?? "default"}` : ""}/${resource.name}`;
  }

  /**
   * Every group/version the API server serves, and group/version/Kind of each of its resources
   * (what Argo CD passes `helm template` as --api-versions).
   */
  async apiVersions(): Promise<string[]> {
    const groups = ((await this.request("GET", "/apis")).body as { groups: { versions: { groupVersion: string }[] }[] }).groups
      .flatMap((g) => g.versions.map((v) => v.groupVersion));
    const out: string[] = [];
    for (const gv of ["v1", ...groups]) {
      out.push(gv);
      const r = await this.request("GET", gv === "v1" ? "/api/v1" : `/apis/${gv}`);
      for (const res of (r.body as { resources?: { name: string; kind: string }[] }).resources ?? []) {
        if (!res.name.includes("/")) out.push(`${gv}/${res.kind}`);
      }
    }
    return [...new Set(out)].sort();
  }

  /** Server-side apply of `o` (as `kubectl apply --server-side`). */
  async apply(o: KubeObject): Promise<KubeObject> {
    const r = await this.request("PATCH", `${await this.path(o.apiVersion, o.kind, o.metadata.namespace)}/${o.metadata.name}?fieldManager=edge-local&force=true`, o, "application/apply-patch+yaml");
    if (r.status !== 200 && r.status !== 201) throw new Error(`api: applying ${o.kind} ${o.metadata.name}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
    return r.body as KubeObject;
  }

  /** GET of one object; undefined when it does not exist. */
  async get<T extends KubeObject = KubeObject>(apiVersion: string, kind: string, name: string, namespace?: string): Promise<T | undefined> {
    const r = await this.request("GET", `${await this.path(apiVersion, kind, namespace)}/${name}`);
    if (r.status === 404) return undefined;
    if (r.status !== 200) throw new Error(`api: reading ${kind} ${name}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
    return r.body as T;
  }

  /** A JSON merge patch of one object (a person's or a controller's change). */
  async patch(apiVersion: string, kind: string, name: string, namespace: string | undefined, patch: unknown, subresource = ""): Promise<ApiResponse> {
    return this.request("PATCH", `${await this.path(apiVersion, kind, namespace)}/${name}${subresource}`, patch, "application/merge-patch+json");
  }
}
