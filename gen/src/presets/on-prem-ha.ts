import { definePreset } from "../define-preset.js";

/** The reference environment: three worker nodes, 4 cores and 24 GiB each, kube-proxy in iptables mode. */
export const onPremHa = definePreset({
  name: "on-prem-ha",
  summary: "3 nodes (4 cores, 24 GiB each), kube-proxy iptables mode; Kong autoscaled 2–5 at 75 % CPU.",
  description: [
    "Kong scales between 2 and 5 pods on a 75 % average CPU target, spread one per node where possible,",
    "with requests sized so that five pods fit beside other workloads on three 4-core nodes.",
    "node-init detects the kube-proxy mode on each node (auto).",
  ],
  values: {
    kong: {
      autoscaling: {
        enabled: true,
        minReplicas: 2,
        maxReplicas: 5,
        metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 75 } } }],
      },
      resources: {
        requests: { cpu: "500m", memory: "512Mi" },
        limits: { cpu: "2", memory: "1Gi" },
      },
      ingressController: {
        resources: {
          requests: { cpu: "100m", memory: "128Mi" },
          limits: { cpu: "500m", memory: "256Mi" },
        },
      },
    },
    nodeInit: { method: "auto" },
  },
});
