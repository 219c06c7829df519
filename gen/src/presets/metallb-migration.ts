import { definePreset } from "../define-preset.js";

/** Kong behind a LoadBalancer Service (MetalLB or another implementation); node-init removed. */
export const metallbMigration = definePreset({
  name: "metallb-migration",
  summary: "Move from node-init to a LoadBalancer implementation such as MetalLB.",
  description: [
    "The proxy Service becomes type LoadBalancer (it keeps its NodePorts, so node ports",
    "30080/30443 keep answering during the move) and node-init is turned off, which removes its",
    "rules from every node. See the README for the step-by-step, zero-downtime path and back.",
  ],
  values: {
    kong: { proxy: { type: "LoadBalancer" } },
    nodeInit: { enabled: false },
  },
});
