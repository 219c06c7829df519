import { definePreset } from "../define-preset.js";

/** A one-node lab: everything on one machine, no autoscaling. */
export const singleNode = definePreset({
  name: "single-node",
  summary: "A one-node lab: two Kong pods on the same node, no autoscaling.",
  description: [
    "Two Kong pods still run, so a rolling update or a pod crash does not interrupt traffic,",
    "but both share the node: a node failure or reboot is an outage. Autoscaling is off",
    "because a single node has no room to scale into.",
  ],
  values: {
    kong: {
      autoscaling: { enabled: false },
      replicaCount: 2,
    },
  },
});
