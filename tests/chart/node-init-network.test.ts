/**
 * chart > node-init network: node-init's namespace denies all pod traffic, and that is safe because
 * everything node-init does on the network happens in the node's network namespace, which
 * NetworkPolicy does not govern: every container command and the readiness probe enter it with
 * `nsenter --net` (hostPID) or run in it (hostNetwork); the liveness probe reads a file.
 */
import { afterAll, describe, expect, it } from "vitest";
import { type K8sObject, removeScratchCharts, render } from "../lib/chart.js";
import { helms } from "../lib/tools.js";

afterAll(removeScratchCharts);

interface Container { name: string; command: string[]; readinessProbe?: { exec: { command: string[] } }; livenessProbe?: { exec: { command: string[] } } }
interface PodSpec { hostNetwork?: boolean; hostPID?: boolean; initContainers: Container[]; containers: Container[] }

describe.each(["hostPID", "hostNetwork"])("chart > node-init network with nodeInit.hostAccess=%s", (hostAccess) => {
  const objects = render(helms[0], { set: [`nodeInit.hostAccess=${hostAccess}`] });
  const find = (kind: string): K8sObject => objects.find((o) => o.kind === kind && o.metadata.namespace === "edge-node-init")!;
  const pod = (find("DaemonSet").spec as { template: { spec: PodSpec } }).template.spec;

  it("should deny all ingress and egress to every pod in node-init's namespace", () => {
    const policies = objects.filter((o) => o.kind === "NetworkPolicy" && o.metadata.namespace === "edge-node-init");
    expect(policies).toHaveLength(1);
    expect(policies[0]!.spec).toEqual({ podSelector: {}, policyTypes: ["Ingress", "Egress"] });
  });

  it("should run every command and the readiness probe in the node's network namespace", () => {
    const commands = [...pod.initContainers, ...pod.containers].flatMap((c) => [c.command, c.readinessProbe?.exec.command].filter((x) => x !== undefined));
    expect(commands.length).toBe(3);
    for (const command of commands) {
      if (hostAccess === "hostPID") expect(command.slice(0, 5)).toEqual(["nsenter", "--target", "1", "--net", "--"]);
      else expect(pod.hostNetwork).toBe(true);
    }
  });

  it("should probe liveness with a verb that uses no network (the heartbeat file)", () => {
    expect(pod.containers[0]!.livenessProbe?.exec.command).toEqual(["/bin/sh", "/scripts/node-init.sh", "alive"]);
  });
});
