/**
 * chart > node-init network: node-init's pods admit no traffic in or out, and that is safe because
 * everything node-init does on the network happens in the node's network namespace, which
 * NetworkPolicy does not govern: every container command enters it with `nsenter --net` (hostPID)
 * or runs in it (hostNetwork); the readiness and liveness probes read files of the pod.
 */
import { afterAll, describe, expect, it } from "vitest";
import { type K8sObject, render } from "../lib/chart.js";
import { helms, removeScratchCharts } from "../../local/index.js";

afterAll(removeScratchCharts);

interface Container { name: string; command: string[]; readinessProbe?: { exec: { command: string[] } }; livenessProbe?: { exec: { command: string[] } } }
interface PodSpec { hostNetwork?: boolean; hostPID?: boolean; initContainers: Container[]; containers: Container[] }

describe.each(["hostPID", "hostNetwork"])("chart > node-init network with nodeInit.hostAccess=%s", (hostAccess) => {
  const objects = render(helms[0], { set: [`nodeInit.hostAccess=${hostAccess}`] });
  const find = (kind: string): K8sObject => objects.find((o) => o.kind === kind && o.metadata.namespace === "edge-node-init")!;
  const pod = (find("DaemonSet").spec as { template: { spec: PodSpec } }).template.spec;

  it("should deny all ingress and egress to node-init's pods, selected as the DaemonSet selects them", () => {
    const policies = objects.filter((o) => o.kind === "NetworkPolicy" && o.metadata.namespace === "edge-node-init");
    expect(policies).toHaveLength(1);
    const selector = (find("DaemonSet").spec as { selector: { matchLabels: Record<string, string> } }).selector;
    expect(policies[0]!.spec).toEqual({ podSelector: { matchLabels: selector.matchLabels }, policyTypes: ["Ingress", "Egress"] });
  });

  it("should run every command in the node's network namespace", () => {
    const commands = [...pod.initContainers, ...pod.containers].map((c) => c.command);
    expect(commands.length).toBe(2);
    for (const command of commands) {
      if (hostAccess === "hostPID") expect(command.slice(0, 5)).toEqual(["nsenter", "--target", "1", "--net", "--"]);
      else expect(pod.hostNetwork).toBe(true);
    }
  });

  it("should probe readiness and liveness with verbs that use no network (files of the pod)", () => {
    expect(pod.containers[0]!.readinessProbe?.exec.command).toEqual(["/bin/sh", "/scripts/node-init.sh", "ready"]);
    expect(pod.containers[0]!.livenessProbe?.exec.command).toEqual(["/bin/sh", "/scripts/node-init.sh", "alive"]);
  });
});
