/**
 * The one network-namespace helper. Every namespace the local cluster and its tests make is named
 * `edge-<kind>-<owner>[a-z]-<role>`, <owner> being the PID (mod 100000) of the process that made it
 * (a letter may follow, for several sets of one process): `reapStale` deletes those whose owner is
 * gone, with every process inside, which a run killed before its cleanup leaves behind. Nothing
 * here touches the machine's own namespace: links are made from inside the namespaces.
 */
import { readdirSync } from "node:fs";
import { type Run, run } from "./process.js";

/** The name of namespace `role` of set `kind` owned by this process (`tag` replaces the owner). */
export const netnsName = (kind: string, role: string, tag = ownerTag()): string => `edge-${kind}-${tag}-${role}`;

/** This process's owner tag. */
export const ownerTag = (): string => String(process.pid % 100000);

/** The command that runs a program inside `ns` (for Processes.start's `via`). */
export const viaNetns = (ns: string): string[] => ["ip", "netns", "exec", ns];

/** Runs `cmd args` inside namespace `ns`; throws with its output when it fails, unless `allowFail`. */
export function inNs(ns: string, cmd: string, args: readonly string[] = [], options: { env?: NodeJS.ProcessEnv; allowFail?: boolean } = {}): Run {
  const r = run("ip", ["netns", "exec", ns, cmd, ...args], { env: options.env ?? process.env });
  if (r.status !== 0 && !options.allowFail) throw new Error(`[${ns}] ${cmd} ${args.join(" ")} exited ${r.status}:\n${r.stdout}${r.stderr}`);
  return r;
}

/** Pipes `script` into `sh -e` inside `ns`. */
export function shIn(ns: string, script: string, options: { allowFail?: boolean } = {}): Run {
  const r = run("ip", ["netns", "exec", ns, "sh", "-e"], { input: script });
  if (r.status !== 0 && !options.allowFail) throw new Error(`[${ns}] script exited ${r.status}:\n${script}\n${r.stdout}${r.stderr}`);
  return r;
}

/** Makes the namespaces `names`. */
export function addNetns(...names: string[]): void {
  for (const ns of names) {
    const r = run("ip", ["netns", "add", ns]);
    if (r.status !== 0) throw new Error(`ip netns add ${ns}: ${r.stderr}`);
  }
}

/** Kills every process inside each of `names` and deletes it; nothing for one already gone. */
export function deleteNetns(...names: string[]): void {
  for (const ns of names) {
    for (const pid of run("ip", ["netns", "pids", ns]).stdout.split(/\s+/).filter(Boolean)) {
      try { process.kill(Number(pid), "SIGKILL"); } catch { /* already gone */ }
    }
    run("ip", ["netns", "del", ns]);
  }
}

/** The namespaces this helper names (any owner), with their owner tag. */
function ownedNetns(): { name: string; owner: number }[] {
  return run("ip", ["netns", "list"]).stdout.split("\n").flatMap((line) => {
    const m = /^(edge-[a-z]+-(\d+)[a-z]?-[a-z]+)\b/.exec(line);
    return m ? [{ name: m[1]!, owner: Number(m[2]) }] : [];
  });
}

/** Deletes the namespaces whose owner is gone (no live process has its PID mod 100000). */
export function reapStale(): void {
  const left = ownedNetns();
  if (!left.length) return;
  const tags = new Set(readdirSync("/proc").filter((p) => /^\d+$/.test(p)).map((p) => Number(p) % 100000));
  deleteNetns(...left.filter((ns) => !tags.has(ns.owner)).map((ns) => ns.name));
}
