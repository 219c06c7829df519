/**
 * node-init as the chart renders it: the script from the ConfigMap, the environment and commands
 * from the DaemonSet's containers. Tests run exactly this, inside a Testbed namespace.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type K8sObject, render } from "../lib/chart.js";
import { helms, type Run } from "../lib/tools.js";
import { inNs, type Testbed } from "./testbed.js";

interface Container {
  name: string;
  command: string[];
  env: { name: string; value: string }[];
  securityContext: { capabilities: { add?: string[]; drop: string[] }; allowPrivilegeEscalation?: boolean };
  readinessProbe?: { exec: { command: string[] } };
}

export interface NodeInit {
  /** Path of node-init.sh as extracted from the ConfigMap. */
  script: string;
  /** The containers' environment, exactly as rendered. */
  env: Record<string, string>;
  init: Container;
  main: Container;
  podSpec: { hostPID?: boolean; hostNetwork?: boolean };
}

/** Renders the chart with `set` values and extracts node-init into `dir`. */
export function renderNodeInit(dir: string, set: string[] = []): NodeInit {
  const objects = render(helms[0], { set });
  const find = (kind: string): K8sObject => {
    const o = objects.find((x) => x.kind === kind && x.metadata.name.endsWith("node-init"));
    if (!o) throw new Error(`no node-init ${kind} rendered`);
    return o;
  };
  const script = join(dir, "node-init.sh");
  writeFileSync(script, (find("ConfigMap").data as Record<string, string>)["node-init.sh"]!);
  const spec = (find("DaemonSet").spec as { template: { spec: { initContainers: Container[]; containers: Container[] } & NodeInit["podSpec"] } }).template.spec;
  const init = spec.initContainers[0]!;
  const main = spec.containers[0]!;
  return { script, env: Object.fromEntries(main.env.map((e) => [e.name, e.value])), init, main, podSpec: spec };
}

/** The container environment plus a PATH, with `overrides` (e.g. a state directory of the test). */
export function containerEnv(ni: NodeInit, overrides: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", ...ni.env, ...overrides };
}

/** Runs one verb of the rendered script in the testbed's node namespace. */
export function verb(tb: Testbed, ni: NodeInit, name: string, overrides: Record<string, string> = {}): Run {
  return inNs(tb.node, "sh", [ni.script, name], { env: containerEnv(ni, { NODE_INIT_STATE_DIR: join(tb.dir, "state"), ...overrides }), allowFail: true });
}

/** Starts `run` in the node namespace, as the main container does; returns the process and its log. */
export function startRun(tb: Testbed, ni: NodeInit, overrides: Record<string, string> = {}): { child: ChildProcess; log: () => string; exited: Promise<number> } {
  const child = spawn("ip", ["netns", "exec", tb.node, "sh", ni.script, "run"], {
    env: containerEnv(ni, { NODE_INIT_STATE_DIR: join(tb.dir, "state"), ...overrides }),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout?.on("data", (d) => (out += d));
  child.stderr?.on("data", (d) => (out += d));
  const exited = new Promise<number>((resolve) => child.on("exit", (code) => resolve(code ?? -1)));
  return { child, log: () => out, exited };
}
