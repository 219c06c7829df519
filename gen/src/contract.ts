/**
 * The values contract of the edge chart: every value the chart owns, with its type, default,
 * constraints and description. values.schema.json, gen/generated/values.ts, values.yaml and the
 * README's values table are all generated from this tree (`npm run gen`).
 */
import { bool, forbidden, int, intOrPercent, list, map, obj, oneOf, passthrough, pinned, str, type Node, whenSet } from "./dsl.js";
import * as re from "./patterns.js";

const port = (description: string, def: number, minimum = 1): Node =>
  int(description, def, { minimum, maximum: 65535 });

/** Namespaces every cluster shares with its control plane or with everyone; edge's components never run in them. */
const sharedNamespaces = ["default", "kube-system", "kube-public", "kube-node-lease"];

/** A namespace of edge's own: an RFC 1123 label that is none of the shared namespaces. */
const namespace = (description: string, def: string): Node =>
  str(`${description} Never a shared namespace (${sharedNamespaces.map((n) => `\`${n}\``).join(", ")}).`, def,
    { pattern: re.dnsLabel, maxLength: 63, not: { enum: sharedNamespaces } });

/** One proxy listener of Kong (`kong.proxy.http` or `kong.proxy.tls`). */
const listener = (name: string, servicePort: number, containerPort: number, nodePort: number): Node =>
  obj(`Kong's ${name} proxy listener. node-init maps node port \`servicePort\` to \`nodePort\`.`, {
    enabled: bool(`Serve ${name}. When off, node-init installs no rule for its port.`, true),
    servicePort: port(`Public port on every node and port of the proxy Service.`, servicePort),
    containerPort: port(`Port Kong listens on inside its pod. At least 1024: Kong runs without root and without NET_BIND_SERVICE.`,
      containerPort, 1024),
    nodePort: port(`NodePort of the proxy Service; node-init sends node:\`servicePort\` here. Must lie in \`cluster.nodePortRange\`.`,
      nodePort),
  }, {
    open: true,
    optional: { hostPort: forbidden("Never set: Kong binds no host port (Pod Security `restricted`); node-init forwards the node's ports instead.") },
  });

/** [request, limit] of one resource. */
type Quantities = [string, string];

/**
 * Requests and limits of cpu, memory and, when given, ephemeral-storage; `open` lets the user add
 * resources edge does not set.
 */
const resources = (description: string, amounts: { cpu: Quantities; memory: Quantities; ephemeralStorage?: Quantities }, open = false): Node => {
  const q = (d: string, v: string) => str(d, v, { pattern: re.quantity });
  const pair = (d: string, i: 0 | 1) => obj(d, {
    cpu: q("CPU.", amounts.cpu[i]),
    memory: q("Memory.", amounts.memory[i]),
    ...amounts.ephemeralStorage && { "ephemeral-storage": q("Local disk, the container's logs included.", amounts.ephemeralStorage[i]) },
  }, { open });
  return obj(description, {
    requests: pair("What the scheduler reserves (and what the HPA's CPU utilization is measured against).", 0),
    limits: pair("The most the container may use.", 1),
  }, { open });
};

const image = (description: string, repository: string, tag: string, digest = ""): Node => obj(description, {
  repository: str("Image repository; point it at your mirror in air-gapped clusters.", repository, { pattern: re.imageRepository }),
  tag: str("Image tag.", tag, { pattern: re.imageTag }),
  digest: str("Optional `sha256:…` digest; when set the image is pulled by digest (the tag is kept for humans).", digest, { pattern: re.imageDigest }),
  pullPolicy: oneOf("Image pull policy.", ["IfNotPresent", "Always", "Never"], "IfNotPresent"),
});

/**
 * An image the Kong chart runs, by a tag or by a tag pinned to a digest (`3.9@sha256:…`). The Kong
 * chart reads Kong's version from the tag; a pinned tag needs `effectiveSemver`, which must agree with
 * a version-shaped tag (templates/validate.yaml). A default pinned to a digest (Renovate pins them)
 * brings its version as `effectiveSemver`'s default.
 */
export function kongImage(description: string, repository: string, tag: string): Node {
  // The Kong chart's own default is null (unset).
  const effectiveSemver: Node = {
    ...whenSet("string", "The version the image is, for the Kong chart's feature checks: required when `tag` carries a digest (the chart cannot read a version from it), and must agree with a version-shaped tag.", { pattern: re.semver }),
    type: ["string", "null"],
  };
  const [version, digest] = tag.split("@");
  return obj(description, {
    repository: str("Image repository; point it at your mirror in air-gapped clusters.", repository, { pattern: re.imageRepository }),
    tag: str("Image tag, or a tag pinned to its digest (`3.9@sha256:…`), which nodes then pull by digest.", tag, { pattern: re.imageTagAtDigest }),
    ...digest && { effectiveSemver: { ...effectiveSemver, default: version! } },
  }, {
    open: true,
    // Checked here, before rendering: the Kong chart's templates fail on a pinned tag without it,
    // before templates/validate.yaml could name it.
    extra: { if: { properties: { tag: { type: "string", pattern: "^.*@.*$" } } }, then: { required: ["effectiveSemver"], properties: { effectiveSemver: { type: "string" } } } },
    optional: digest ? {} : { effectiveSemver },
  });
}

const kong = obj("Values for the Kong subchart (charts.konghq.com `kong`). Keys typed here are the ones edge relies on or pins for security; every other Kong value is passed through unchanged.", {
  namespace: namespace("Namespace Kong runs in. edge creates it (see `namespaces.kong.create`) with Pod Security `restricted`.", "kong"),
  deployment: obj("Kong's Deployment options.", {
    hostNetwork: pinned("Always false: Kong never joins the node's network namespace; node-init forwards ports 80/443 instead.", false),
  }, { open: true }),
  replicaCount: int("Kong pods when `kong.autoscaling.enabled` is false. At least 2, so one node or pod can fail without an outage.",
    2, { minimum: 2 }),
  autoscaling: obj("HorizontalPodAutoscaler (autoscaling/v2) for Kong.", {
    enabled: bool("Scale Kong between `minReplicas` and `maxReplicas` on the targets in `metrics`.", true),
    minReplicas: int("Fewest Kong pods. At least 2.", 2, { minimum: 2 }),
    maxReplicas: int("Most Kong pods.", 5, { minimum: 2 }),
    metrics: list("autoscaling/v2 metric targets. The CPU target is `metrics[].resource.target.averageUtilization`; Kong's `targetCPUUtilizationPercentage` is ignored by autoscaling/v2 and rejected here.",
      {
        type: "object",
        required: ["type"],
        properties: { type: { enum: ["Resource", "ContainerResource", "Pods", "Object", "External"] } },
        additionalProperties: true,
      },
      [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 80 } } }],
      { minItems: 1 }),
  }, { open: true }),
  image: kongImage("Kong's image, pinned here so the chart lists exactly what it runs (Chart.yaml `artifacthub.io/images`).", "kong", "3.9"),
  resources: resources("Resources of Kong's proxy container. CPU requests are required: the HPA's utilization target is a share of them.",
    { cpu: ["250m", "2"], memory: ["256Mi", "1Gi"] }, true),
  podDisruptionBudget: obj("The Kong chart's own PodDisruptionBudget: off, because it selects on the chart and version labels and so stops covering the old pods during an upgrade. edge renders Kong's budget instead (`podDisruptionBudget`).", {
    enabled: pinned("Always false: use `podDisruptionBudget` (edge's budget for Kong, selecting exactly the Deployment's pods).", false),
  }, { open: true }),
  updateStrategy: obj("Deployment update strategy: surge first, never take a ready pod away before its replacement is ready.", {
    type: pinned("Rolling updates.", "RollingUpdate"),
    rollingUpdate: obj("Rolling update parameters.", {
      maxSurge: int("Extra pods started during an update.", 1, { minimum: 1 }),
      maxUnavailable: pinned("Always 0: an update never lowers the number of ready Kong pods.", 0),
    }),
  }),
  topologySpreadConstraints: passthrough("Spread Kong pods over nodes so one node failure leaves the others serving. `nodeTaintsPolicy: Honor` skips unreachable (tainted) nodes.", [
    {
      maxSkew: 1,
      topologyKey: "kubernetes.io/hostname",
      whenUnsatisfiable: "DoNotSchedule",
      nodeTaintsPolicy: "Honor",
      labelSelector: { matchLabels: { "app.kubernetes.io/name": "kong", "app.kubernetes.io/component": "app" } },
      matchLabelKeys: ["pod-template-hash"],
    },
  ]),
  securityContext: obj("Kong's pod security context.", {
    runAsNonRoot: pinned("Always true.", true),
    seccompProfile: obj("Seccomp profile.", {
      type: oneOf("`RuntimeDefault` or `Localhost` (Pod Security `restricted`).", ["RuntimeDefault", "Localhost"], "RuntimeDefault"),
    }, { open: true }),
  }, { open: true, optional: { runAsUser: whenSet("integer", "UID of Kong's pod when set; never 0.", { minimum: 1 }) } }),
  containerSecurityContext: obj("Security context of Kong's containers (restricted-compliant; the security-critical keys are pinned).", {
    enabled: pinned("Always true: render this security context.", true),
    runAsNonRoot: pinned("Always true.", true),
    runAsUser: int("UID Kong runs as; never 0.", 1000, { minimum: 1 }),
    runAsGroup: int("GID Kong runs as.", 1000, { minimum: 1 }),
    readOnlyRootFilesystem: pinned("Always true.", true),
    allowPrivilegeEscalation: pinned("Always false.", false),
    capabilities: obj("Linux capabilities.", {
      drop: list("Dropped capabilities; must contain `ALL`.", { type: "string" }, ["ALL"], { contains: { const: "ALL" } }),
    }, { optional: { add: whenSet("array", "Added capabilities: none (Kong listens on ports above 1024).", { maxItems: 0 }) } }),
    seccompProfile: obj("Seccomp profile.", {
      type: oneOf("`RuntimeDefault` or `Localhost`.", ["RuntimeDefault", "Localhost"], "RuntimeDefault"),
    }, { open: true }),
  }, { optional: { privileged: whenSet("boolean", "Never true.", { const: false }) } }),
  admin: obj("Kong's Admin API Service: off, and never exposed on the nodes by default.", {
    enabled: bool("Create the Admin API Service (the ingress controller reaches the Admin API inside the pod without it).", false),
    type: oneOf("Service type when enabled; `ClusterIP` keeps it inside the cluster.", ["ClusterIP", "NodePort", "LoadBalancer"], "ClusterIP"),
  }, { open: true }),
  manager: obj("Kong Manager (GUI) Service: off by default (the Kong chart gives it a NodePort).", {
    enabled: bool("Create the Kong Manager Service.", false),
    type: oneOf("Service type when enabled; `ClusterIP` keeps it inside the cluster.", ["ClusterIP", "NodePort", "LoadBalancer"], "ClusterIP"),
  }, { open: true }),
  ingressController: obj("Kong's ingress controller.", {
    image: kongImage("The ingress controller's image, pinned here so the chart lists exactly what it runs (Chart.yaml `artifacthub.io/images`).", "kong/kubernetes-ingress-controller", "3.5"),
    resources: resources("Resources of the ingress controller container (in Kong's pod, so the HPA needs its CPU request too).",
      { cpu: ["50m", "500m"], memory: ["128Mi", "256Mi"] }, true),
    admissionWebhook: obj("The controller's validating admission webhook.", {
      enabled: bool("Validate Kong resources at admission. Needs `certManager.enabled`: otherwise the Kong chart generates a new certificate at every render and Argo CD never sees the release in sync.", false),
      certificate: obj("The webhook's serving certificate.", {
        provided: pinned("Always true: the certificate is the Secret `secretName` written by cert-manager, never one generated at render time.", true),
        secretName: str("Secret with the webhook certificate; edge's cert-manager Certificate of the same name writes it.",
          "edge-kong-admission-tls", { pattern: re.dnsSubdomainOrEmpty, minLength: 1, maxLength: 253 }),
      }, { open: true }),
      port: port("Port the webhook listens on in Kong's pod (admitted by edge's NetworkPolicy when the webhook is on).", 8080, 1024),
      annotations: map("Annotations of the ValidatingWebhookConfiguration; cert-manager's CA injector fills its caBundle from `<kong.namespace>/<secretName>`.",
        { "cert-manager.io/inject-ca-from": "kong/edge-kong-admission-tls" }, { type: "string" }),
    }, { open: true }),
  }, { open: true }),
  proxy: obj("Kong's proxy Service: the only thing edge exposes.", {
    enabled: pinned("Always true: the proxy is the product.", true),
    type: oneOf("`NodePort` for node-init; `LoadBalancer` when a load balancer implementation (e.g. MetalLB) fronts Kong instead.",
      ["NodePort", "LoadBalancer"], "NodePort"),
    externalTrafficPolicy: oneOf("`Cluster` spreads traffic over every Kong pod; `Local` keeps the client's source IP but only nodes running Kong answer.",
      ["Cluster", "Local"], "Cluster"),
    http: listener("HTTP", 80, 8000, 30080),
    tls: listener("HTTPS", 443, 8443, 30443),
  }, { open: true }),
}, {
  open: true,
  optional: {
    nameOverride: whenSet("string", "Kong's chart name override; edge's NetworkPolicy, helm test and certificate follow it.", { pattern: re.dnsLabel }),
    fullnameOverride: whenSet("string", "Kong's full name override; edge's NetworkPolicy, helm test and certificate follow it.", { pattern: re.dnsLabel }),
  },
});

const nodeInit = obj("node-init: a DaemonSet that makes every node's ports 80/443 reach Kong's NodePorts with netfilter rules.", {
  enabled: bool("Install node-init. Turning it off removes its rules from every node.", true),
  namespace: namespace("Namespace of node-init (Pod Security `privileged`; holds nothing else).", "edge-node-init"),
  method: oneOf("`auto` picks by the kube-proxy mode found on the node; `nftables` rewrites the destination port before kube-proxy's NodePort DNAT (iptables and nftables modes); `iptables-redirect` uses a nat REDIRECT, which works only under kube-proxy IPVS mode.",
    ["auto", "nftables", "iptables-redirect"], "auto"),
  hostAccess: oneOf("How the pod reaches the node's network namespace. `hostNetwork` (least privilege): the pod runs in the node's network namespace with NET_ADMIN only; it can change the node's network configuration (netfilter rules among it), bind node ports and connect to services listening on the node's loopback, but reaches no host process or file. `hostPID`: the host PID namespace and `nsenter`, with NET_ADMIN, SYS_ADMIN and SYS_PTRACE; this is root-equivalent on the node for whoever can exec into the pod (through `/proc/<pid>/root` of any host process it reads and writes the node's filesystem). See README, Privileges.",
    ["hostNetwork", "hostPID"], "hostNetwork"),
  sourceRanges: list("Client networks (CIDR, IPv4 or IPv6) allowed to reach node ports 80/443 through node-init; empty allows all.",
    { type: "string", pattern: re.cidr }, [], { uniqueItems: true }),
  interfaces: list("Network interfaces whose incoming traffic is forwarded (a trailing `*` matches a prefix; at most 15 characters, the `*` included); empty means all. Connections from the node itself are always forwarded.",
    { type: "string", pattern: re.interfaceName }, [], { uniqueItems: true }),
  resyncSeconds: int("Seconds between full checks of the rules, the safety net: changes to the ruleset (a flush, a firewall reload, kube-proxy's NodePort addresses) wake node-init at once through `nft monitor`.",
    30, { minimum: 5, maximum: 3600 }),
  image: image("node-init's own image (images/node-init: the programs node-init.sh runs, from Debian packages), at the chart's version and pinned by digest.",
    "ghcr.io/edge-chart/edge-node-init", "0.1.0", "sha256:d02b0adf76c617e820efbe37fd7d34811ad9d777fbf0bde4ba1574da112d7cfd"),
  resources: resources("Resources of each node-init container. Its only disk use is its log (the kubelet rotates container logs at 10Mi by default); its state lives in memory.",
    { cpu: ["10m", "100m"], memory: ["16Mi", "64Mi"], ephemeralStorage: ["16Mi", "64Mi"] }),
  nodeSelector: map("Nodes that get node-init (and so answer on 80/443).", {}, { type: "string" }),
  tolerations: passthrough("Taints node-init tolerates. The default tolerates every taint so each node that can receive traffic gets the rules.",
    [{ operator: "Exists" }]),
  affinity: passthrough("Affinity rules for node-init pods.", {}),
  updateStrategy: obj("How a change rolls node-init to the nodes. The rules stay in the kernel while a pod is replaced, so replacing many at once drops no request; there is never a surge (an old and a new pod never manage one node together).", {
    rollingUpdate: obj("The DaemonSet's rolling update.", {
      maxUnavailable: intOrPercent("Nodes whose node-init pod is replaced at once: a number or a percentage of the nodes. 10% rolls 200 nodes in well under two minutes (README \"Rollouts\"); 1 replaces one node at a time.", "10%"),
    }),
  }),
  priorityClassName: str("Priority class; node-critical so the rules are kept on a full node. Empty for none.", "system-node-critical",
    { pattern: re.dnsSubdomainOrEmpty, maxLength: 253 }),
  podAnnotations: map("Annotations added to node-init pods.", {}, { type: "string" }),
  metrics: obj("node-init's metrics in Prometheus text format (README \"Metrics\"): rules installed and withheld per port, repairs, plan errors, the last apply and probe results, served by a non-root container of the pod on the pod's IP, which under `hostNetwork` is the node's own address.", {
    enabled: bool("Serve the metrics. Off by default: under `hostNetwork` it opens a port on every node's own address (never on the others).", false),
    port: port("Port of the metrics server. Under `hostNetwork` it is a port of every node: pick one free on all of them, outside `cluster.nodePortRange`.", 9850, 1024),
    scrapeFrom: passthrough("NetworkPolicy `from` peers admitted to the metrics port (under `hostPID`; NetworkPolicy does not govern `hostNetwork` pods). The default admits every namespace.",
      [{ namespaceSelector: {} }]),
    serviceMonitor: obj("A Prometheus Operator ServiceMonitor, and the headless Service it reads, for the metrics.", {
      enabled: bool("Create them (needs the monitoring.coreos.com CRDs and `nodeInit.metrics.enabled`).", false),
      interval: str("Scrape interval.", "30s", { pattern: "^[0-9]+(ms|s|m|h)$" }),
      labels: map("Labels of the ServiceMonitor (what your Prometheus selects).", {}, { type: "string" }),
    }),
    prometheusRule: obj("A Prometheus Operator PrometheusRule with node-init's alerts: a port withheld for 10 minutes, a repair storm, plan errors.", {
      enabled: bool("Create it (needs the monitoring.coreos.com CRDs and `nodeInit.metrics.enabled`).", false),
      labels: map("Labels of the PrometheusRule (what your Prometheus selects).", {}, { type: "string" }),
    }),
  }),
});

const namespaceSwitch = (which: string): Node =>
  obj(`The ${which} namespace.`, {
    create: bool(`Create the ${which} namespace with its Pod Security labels. Turn off when it already exists (made by hand, by \`--create-namespace\` or by Argo CD) and apply the labels yourself (see README).`, true),
  });

const certManager = obj("cert-manager integration: issues the certificate of Kong's admission webhook, so every render of the chart is the same.", {
  enabled: bool("Create a cert-manager Certificate for the webhook (requires cert-manager in the cluster). Turn on together with `kong.ingressController.admissionWebhook.enabled`.", false),
  issuer: obj("Who signs the certificate.", {
    kind: oneOf("`Issuer` (in Kong's namespace) or `ClusterIssuer`.", ["Issuer", "ClusterIssuer"], "Issuer"),
    name: str("Issuer name; empty: edge creates a self-signed Issuer in Kong's namespace.", "", { pattern: re.dnsSubdomainOrEmpty, maxLength: 253 }),
  }),
});

const networkPolicy = obj("NetworkPolicies: Kong's pods admit proxy traffic (and the admission webhook when on), nothing else; node-init's namespace admits no traffic in or out (node-init works in the node's network namespace).", {
  enabled: bool("Create the NetworkPolicies. CNIs without NetworkPolicy support ignore them.", true),
  metricsFrom: passthrough("NetworkPolicy `from` peers admitted to Kong's metrics: its status listener (`kong.status.http.containerPort`, 8100) and the ingress controller's metrics port (10255), the two targets of the Kong chart's ServiceMonitor (`kong.serviceMonitor.enabled`). Empty admits nobody.", []),
  extraIngress: passthrough("More NetworkPolicy ingress rules for Kong's pods.", []),
});

const helmTest = obj("The `helm test` pod: checks that Kong's proxy answers through its Service.", {
  enabled: bool("Render the test pod (a Helm test hook; it runs only on `helm test`).", true),
  image: image("Image with curl, running as non-root.", "docker.io/curlimages/curl", "8.11.1"),
});

/** The root of values.yaml. */
export const contract: Node = obj("Values of the edge chart.", {
  global: map("Helm's global values, shared with the Kong subchart.", {}),
  cluster: obj("Facts about the cluster that the chart cannot read at render time.", {
    nodePortRange: obj("The API server's `--service-node-port-range`; Kong's NodePorts must lie in it.", {
      min: port("Lowest NodePort.", 30000),
      max: port("Highest NodePort.", 32767),
    }),
  }),
  namespaces: obj("Namespaces the chart creates.", {
    kong: namespaceSwitch("Kong (`kong.namespace`, Pod Security `restricted`)"),
    nodeInit: namespaceSwitch("node-init (`nodeInit.namespace`, Pod Security `privileged`)"),
  }),
  kong,
  nodeInit,
  certManager,
  podDisruptionBudget: obj("Kong's PodDisruptionBudget, rendered by edge in Kong's namespace. It selects exactly the pods of Kong's Deployment (name, instance and component labels), so it keeps covering the old pods while an upgrade of Kong or of its chart rolls them.", {
    enabled: bool("Create the PodDisruptionBudget.", true),
    maxUnavailable: int("Kong pods a voluntary disruption (drain) may take down at once.", 1, { minimum: 1 }),
  }),
  networkPolicy,
  helmTest,
});
