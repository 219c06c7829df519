/**
 * Vitest global setup: with EDGE_CPU_LOAD=N, N CPU-bound processes run for the whole test run, so
 * timing-sensitive suites (the netns testbed) are proven on a machine as busy as a loaded CI host.
 * Each spins while the test runner lives and exits with it, however the run ends.
 */
import { type ChildProcess, spawn } from "node:child_process";

export default function setup(): () => void {
  const count = Number(process.env.EDGE_CPU_LOAD ?? 0);
  if (!Number.isInteger(count) || count < 0) throw new Error(`EDGE_CPU_LOAD=${process.env.EDGE_CPU_LOAD}: expected a whole number of busy processes`);
  const busy: ChildProcess[] = [];
  for (let i = 0; i < count; i++) {
    busy.push(spawn("sh", ["-c", 'while kill -0 "$0" 2>/dev/null; do :; done', String(process.pid)], { stdio: "ignore" }));
  }
  if (count) console.log(`cpu-load: ${count} busy processes running alongside the tests`);
  return () => { for (const b of busy) b.kill("SIGKILL"); };
}
