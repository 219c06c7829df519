import { definePreset } from "../define-preset.js";

/** Keep the client's source IP in Kong's logs and plugins. */
export const sourceIp = definePreset({
  name: "source-ip",
  summary: "Kong sees the client's real source IP (externalTrafficPolicy Local).",
  description: [
    "With externalTrafficPolicy Local, kube-proxy sends NodePort traffic only to Kong pods on the",
    "node that received it and does not SNAT it, so Kong sees the client address. The cost: a node",
    "without a Kong pod drops traffic to its ports 80/443, so point clients (DNS, an external",
    "balancer) only at nodes that run Kong, or run as many Kong pods as nodes.",
  ],
  values: {
    kong: { proxy: { externalTrafficPolicy: "Local" } },
  },
});
