/**
 * node-init as the chart renders it: the script from the ConfigMap, the environment and commands
 * from the DaemonSet's containers, run from the node-init image's own tree (pod.ts).
 * Tests run exactly this, inside a Testbed namespace.
 */
import type { ChildProcess } from "node:child_process";
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { ImagePod } from "./pod.js";
import { type K8sObject, render } from "../lib/chart.js";
import { groupMembers, helms, inNs, type Process, Processes, type Run, run, viaNetns, waitFor } from "../../local/index.js";
import { type Testbed } from "./testbed.js";

interface Container {
  name: string;
  command: string[];
  /** Literal values (the configuration) and downward API fields (`value` unset). */
  env: { name: string; value?: string }[];
  securityContext: { capabilities: { add?: string[]; drop: string[] }; allowPrivilegeEscalation?: boolean };
  readinessProbe?: { exec: { command: string[] } };
}

export interface NodeInit {
  /** Path of node-init.sh as extracted from the ConfigMap. */
  script: string;
  /** The main container's literal environment, exactly as rendered (downward API fields left out). */
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
  // As the ConfigMap volume mounts it (defaultMode 0555): the metrics container's user reads it.
  const script = join(dir, "node-init.sh");
  writeFileSync(script, (find("ConfigMap").data as Record<string, string>)["node-init.sh"]!, { mode: 0o555 });
  chmodSync(dir, 0o755);
  const spec = (find("DaemonSet").spec as { template: { spec: { initContainers: Container[]; containers: Container[] } & NodeInit["podSpec"] } }).template.spec;
  const init = spec.initContainers[0]!;
  const main = spec.containers[0]!;
  const env = Object.fromEntries(main.env.flatMap((e) => (e.value === undefined ? [] : [[e.name, e.value]])));
  return { script, env, init, main, podSpec: spec };
}

/** The container environment plus a PATH, with `overrides` (e.g. a state directory of the test). */
export function containerEnv(ni: NodeInit, overrides: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", ...ni.env, ...overrides };
}

/** A copy of the image's tree per testbed, made on first use and removed with the testbed's folder. */
const pods = new Map<string, ImagePod>();

/** The testbed's copy of the image's tree. */
export function imagePod(tb: Testbed): ImagePod {
  let pod = pods.get(tb.dir);
  if (!pod) pods.set(tb.dir, (pod = new ImagePod(join(tb.dir, "image"))));
  return pod;
}

/**
 * The argv and environment of `command` in a container of the node-init image, in the node's
 * network namespace (hostNetwork): the rendered script read-only at /scripts, NODE_INIT_STATE_DIR
 * (default join(tb.dir, "state")) mounted where the chart mounts the state emptyDir, the container
 * environment plus `overrides`.
 */
export function inPod(tb: Testbed, ni: NodeInit, command: readonly string[], overrides: Record<string, string> = {}): { argv: string[]; env: NodeJS.ProcessEnv } {
  const pod = imagePod(tb);
  const { NODE_INIT_STATE_DIR: state = join(tb.dir, "state"), ...env } = overrides;
  const serviceAccount = join(tb.dir, "serviceaccount");
  for (const d of [state, serviceAccount]) mkdirSync(d, { recursive: true });
  const argv = pod.argv("hostNetwork", { scripts: dirname(ni.script), state, serviceAccount }, command);
  return { argv, env: pod.env({ ...ni.env, ...env }) };
}

/** Runs one verb of the rendered script from the image, in the testbed's node namespace. */
export function verb(tb: Testbed, ni: NodeInit, name: string, overrides: Record<string, string> = {}): Run {
  const { argv, env } = inPod(tb, ni, ["/bin/sh", "/scripts/node-init.sh", name], overrides);
  return inNs(tb.node, argv[0]!, argv.slice(1), { env, allowFail: true });
}

/** Runs one verb of the rendered script with the machine's programs (`overrides` set PATH). */
export function verbOnHost(tb: Testbed, ni: NodeInit, name: string, overrides: Record<string, string> = {}): Run {
  return inNs(tb.node, "sh", [ni.script, name], { env: containerEnv(ni, { NODE_INIT_STATE_DIR: join(tb.dir, "state"), ...overrides }), allowFail: true });
}

export interface RunProcess {
  child: ChildProcess;
  /** Everything the process wrote so far. */
  log: () => string;
  /** Resolves with the exit code. */
  exited: Promise<number>;
  /** Sends SIGTERM to it alone (the kubelet's stop) and resolves with the exit code; fails after 30 s. */
  stop: () => Promise<number>;
}

/** `run` processes started and not yet exited; `stopRuns` ends them however a test ended. */
const running = new Set<Process>();
let runs = 0;

/** Starts `run` from the image in the node namespace, as the main container does; returns the process and its log. */
export function startRun(tb: Testbed, ni: NodeInit, overrides: Record<string, string> = {}): RunProcess {
  const { argv, env } = inPod(tb, ni, ["/bin/sh", "/scripts/node-init.sh", "run"], overrides);
  // Its own process group (the runner's), so stopRuns can end it with its children (ticker, nft monitor).
  const p = new Processes(tb.dir).start(`run-${runs++}`, argv[0]!, argv.slice(1), { env, via: viaNetns(tb.node) });
  // Ended as a container ends: its main process and every process it started (its group: the
  // ticker, the nft monitor), as the runtime's PID namespace would have it.
  const exited = p.exited.then(async (code) => {
    await waitFor(() => groupMembers(p.child.pid!).length === 0, "run's processes to end", { seconds: 30, everyMs: 20 }).catch(() => undefined);
    return code;
  });
  running.add(p);
  void exited.then(() => running.delete(p));
  const stop = async () => {
    p.child.kill("SIGTERM");
    // The kubelet's grace period is 30 s: a run that outlives it names what kept it.
    const code = await Promise.race([exited, new Promise<undefined>((r) => setTimeout(r, 30_000))]);
    if (code !== undefined) return code;
    throw new Error(`run did not end within 30 s of SIGTERM; still running:\n${sessionProcesses(p.child.pid!).join("\n")}\nits log:\n${p.log()}`);
  };
  return { child: p.child, log: p.log, exited, stop };
}

/**
 * Kills every `run` process still alive with its children (SIGKILL: its rules stay, as after a
 * crash) and returns how many there were. Call it from afterEach: a test that failed half-way
 * must not leave a process re-applying its configuration under the next tests.
 */
export async function stopRuns(): Promise<number> {
  const left = [...running];
  for (const p of left) p.signal("SIGKILL");
  await Promise.all(left.map((p) => waitFor(() => !p.running() && groupMembers(p.child.pid!).length === 0, "a run's processes to end", { seconds: 30, everyMs: 20 })));
  return left.length;
}

/**
 * The live processes of a session (a `run` started by startRun leads its own), zombies aside:
 * "PID command (wchan: what it waits in)", one per line.
 */
export function sessionProcesses(sid: number): string[] {
  return readdirSync("/proc").filter((p) => /^\d+$/.test(p)).flatMap((pid) => {
    try {
      // /proc/PID/stat: "pid (comm) state ppid pgrp session …"; comm may hold spaces.
      const [state, , , session] = readFileSync(`/proc/${pid}/stat`, "latin1").replace(/^.*\) /s, "").split(" ");
      if (Number(session) !== sid || state === "Z") return [];
      const command = readFileSync(`/proc/${pid}/cmdline`, "latin1").replace(/\0/g, " ").trim();
      return [`${pid} ${command} (wchan: ${readFileSync(`/proc/${pid}/wchan`, "latin1")})`];
    } catch {
      return []; // ended while we looked
    }
  });
}

/** PIDs of node-init `run` processes inside the testbed's node namespace (none between tests). */
export function runsInNode(tb: Testbed): number[] {
  return run("ip", ["netns", "pids", tb.node]).stdout.split(/\s+/).filter(Boolean).map(Number).filter((pid) => {
    try { return /node-init\.sh\0run\0/.test(readFileSync(`/proc/${pid}/cmdline`, "latin1")); } catch { return false; }
  });
}
