/**
 * The local cluster: Kubernetes on this machine, for the demo, the tests and the benches. `up()`
 * starts one; the rest is what its users reach below it.
 *
 *   up({ nodes: 3 })                                   control plane + 3 kwok nodes (simulated)
 *   up({ real: { proxyMode: "nftables", images } })    control plane + 2 real nodes + a client
 *   up({ argocd: true })                               … + Argo CD's controller and repo-server
 *
 * Components, one module each: control-plane.ts (etcd, kube-apiserver, controller-manager,
 * scheduler, kwok), nodes.ts and node.ts (containerd, runc, CNI, kubelet, kube-proxy in namespaces
 * of their own), registry.ts, argocd.ts and git-server.ts, metrics-api.ts; edge.ts installs edge
 * on real nodes. Below them, sys/ knows nothing of Kubernetes: one process runner, one
 * network-namespace helper, one poll loop, one tool lookup. Needs root (namespaces, mounts).
 */
import type { ApiClient } from "./api.js";
import { ArgoCD } from "./argocd.js";
import { ControlPlane } from "./control-plane.js";
import type { NodeImage } from "./images.js";
import type { Node, PortmapBackend, ProxyMode } from "./node.js";
import { NodeCluster } from "./nodes.js";
import type { Run } from "./sys/process.js";
import { helm } from "./sys/tools.js";

export interface UpOptions {
  /** How many nodes: real ones with `real` (default 2), else kwok's simulated ones (default 3). */
  nodes?: number;
  /** Real nodes, with kube-proxy in `proxyMode`, pulling `images` (besides pause) from the lan's registry. */
  real?: { proxyMode: ProxyMode; portmap?: PortmapBackend; images?: NodeImage[] };
  /** Argo CD's application controller and repo-server against the cluster. */
  argocd?: boolean;
}

export interface Local {
  kubeconfig: string;
  /** The admin's API client. */
  api: ApiClient;
  /** `helm <args>` against the cluster (the pinned Helm 3). */
  helm(args: string[]): Run;
  /** The control plane's processes and files. */
  control: ControlPlane;
  /** The real nodes, with the lan and the client (with `real`). */
  cluster?: NodeCluster;
  /** The real nodes (empty with kwok). */
  nodes: Node[];
  /** The client's network namespace, outside the nodes (with `real`). */
  client?: string;
  argocd?: ArgoCD;
  /** Ends every process and removes every namespace and folder (the logs stay with `keepLogs`). */
  down(keepLogs?: boolean): Promise<void>;
}

/** Starts a local cluster; on failure, ends what it started and throws. */
export async function up(options: UpOptions = {}): Promise<Local> {
  const cluster = options.real
    ? new NodeCluster({ mode: options.real.proxyMode, portmap: options.real.portmap, images: options.real.images, nodes: options.nodes })
    : undefined;
  const control = cluster?.control ?? new ControlPlane({ kwokNodes: options.nodes });
  const argocd = options.argocd ? new ArgoCD(control) : undefined;
  const down = async (keepLogs = false) => {
    await argocd?.stop(keepLogs);
    await (cluster ?? control).stop(keepLogs);
  };
  try {
    await (cluster ?? control).start();
    await argocd?.start();
  } catch (e) {
    await down(true);
    throw e;
  }
  return {
    kubeconfig: control.kubeconfig, api: control.client, control, cluster, argocd, down,
    helm: (args) => control.helm(helm(), args),
    nodes: cluster?.nodes ?? [],
    client: cluster?.client,
  };
}

export { type ApiResponse, ApiClient, type KubeObject } from "./api.js";
export { type Application, ARGOCD_NAMESPACE, ArgoCD, type ResourceStatus } from "./argocd.js";
export { kongChart, type KongChart, removeScratchCharts, scratchChart } from "./chart.js";
export { ControlPlane } from "./control-plane.js";
export { edgeImages, installEdge, nodeAnswers, STAND_IN_ANSWER, standInValues } from "./edge.js";
export { GitServer } from "./git-server.js";
export * from "./images.js";
export { MetricsApi } from "./metrics-api.js";
export { kubeletSysctls, Node, type PortmapBackend, type ProxyMode } from "./node.js";
export { clusterCidr, lan, type LoadResult, NodeCluster, type NodeClusterOptions } from "./nodes.js";
export { Registry } from "./registry.js";
export * from "./sys/netns.js";
export { groupMembers, type Process, Processes, run, runAsync, type Run } from "./sys/process.js";
export { freePort } from "./sys/ports.js";
export { repoRoot, toolsDir } from "./sys/paths.js";
export * from "./sys/tools.js";
export { sleep, waitFor } from "./sys/wait.js";
