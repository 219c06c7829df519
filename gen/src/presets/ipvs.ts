import { definePreset } from "../define-preset.js";

/** kube-proxy in IPVS mode. */
export const ipvs = definePreset({
  name: "ipvs",
  summary: "Clusters whose kube-proxy runs in IPVS mode.",
  description: [
    "Under IPVS, kube-proxy answers NodePorts in the INPUT path (LOCAL_IN), after PREROUTING,",
    "so a nat REDIRECT of node ports 80/443 to the NodePorts reaches Kong. The method is forced",
    "instead of detected so a node where detection fails does not fall back to another method.",
  ],
  values: {
    nodeInit: { method: "iptables-redirect" },
  },
});
