/**
 * The one way the local cluster starts a process. `run` runs a command to completion. `Processes`
 * keeps long-running ones (servers, control-plane components, a node's kubelet): each in a
 * process group of its own, so that stopping it also ends what it started (the git and helm
 * processes of Argo CD's repo-server), with the parent-death signal SIGKILL (setpriv), so that it
 * dies with the process that started it however that one ends, even by SIGKILL; and logging to
 * `<dir>/logs/<name>.log`, which the owner keeps when a run failed.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string;
}

/** Runs a command to completion without a shell; never throws on a non-zero exit. */
export function run(cmd: string, args: readonly string[], options: RunOptions = {}): Run {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 64 << 20, ...options });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** `run` without blocking this process, so that it can watch something meanwhile. */
export function runAsync(cmd: string, args: readonly string[], options: Omit<RunOptions, "input"> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, options);
    let stdout = "", stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ status: code ?? -1, stdout, stderr }));
  });
}

export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /**
   * The command that runs the program somewhere else, given before it: `ip netns exec NS` (a
   * network namespace) or `nsenter …` (a node's namespaces).
   */
  via?: readonly string[];
}

/** A process `Processes.start` started. */
export interface Process {
  readonly name: string;
  readonly child: ChildProcess;
  /** Resolves with the exit code (-1 when a signal ended it) once its output is written. */
  readonly exited: Promise<number>;
  running(): boolean;
  /** What it has logged so far (every run under this name). */
  log(): string;
  /** Sends `signal` to its whole process group now. */
  signal(signal: NodeJS.Signals): void;
  /** SIGTERM to its process group, SIGKILL after `graceSeconds`; resolves with the exit code. */
  stop(graceSeconds?: number): Promise<number>;
}

/** The live (not zombie) processes of process group `pgid`. */
export function groupMembers(pgid: number): number[] {
  return readdirSync("/proc").filter((p) => /^\d+$/.test(p)).flatMap((pid) => {
    try {
      // /proc/PID/stat: "pid (comm) state ppid pgrp …"; comm may hold spaces.
      const [state, , pgrp] = readFileSync(`/proc/${pid}/stat`, "latin1").replace(/^.*\) /s, "").split(" ");
      return Number(pgrp) === pgid && state !== "Z" ? [Number(pid)] : [];
    } catch {
      return []; // ended while we looked
    }
  });
}

/** Every process group started here and not yet ended: SIGKILLed should this process exit first. */
const alive = new Set<Process>();
process.on("exit", () => {
  for (const p of alive) p.signal("SIGKILL");
});

export class Processes {
  private readonly started = new Map<string, Process>();

  /** `dir` holds the logs (`dir/logs/<name>.log`) and is the processes' working directory. */
  constructor(readonly dir: string) {}

  /** Starts `path args` as `name`, logging to logs/<name>.log (appended). */
  start(name: string, path: string, args: readonly string[], options: StartOptions = {}): Process {
    if (this.started.get(name)?.running()) throw new Error(`processes: ${name} is already running`);
    mkdirSync(join(this.dir, "logs"), { recursive: true });
    // The log file itself, not a pipe through this process: a caller blocked in a synchronous
    // spawn (helm, oras) would stop draining the pipe, and a process that logs every request
    // would block on it.
    const logFile = this.logFile(name);
    const fd = openSync(logFile, "a");
    const child = spawn("setpriv", ["--pdeathsig", "SIGKILL", "--", ...(options.via ?? []), path, ...args], {
      stdio: ["ignore", fd, fd], cwd: options.cwd ?? this.dir, env: options.env ?? process.env, detached: true,
    });
    closeSync(fd);
    const exited = new Promise<number>((resolve) => child.on("close", (code) => resolve(code ?? -1)));
    const signal = (s: NodeJS.Signals) => {
      try { process.kill(-child.pid!, s); } catch { /* already gone */ }
    };
    const proc: Process = {
      name, child, exited, signal,
      running: () => child.exitCode === null && child.signalCode === null,
      log: () => { try { return readFileSync(logFile, "utf8"); } catch { return ""; } },
      stop: async (graceSeconds = 10) => {
        signal("SIGTERM");
        // The whole group, not only its leader: nsenter, say, ends at once while the program it
        // forked into a node's PID namespace shuts down.
        const deadline = Date.now() + graceSeconds * 1000;
        while (groupMembers(child.pid!).length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        signal("SIGKILL");
        return exited;
      },
    };
    this.started.set(name, proc);
    alive.add(proc);
    void exited.then(() => alive.delete(proc));
    return proc;
  }

  logFile(name: string): string {
    return join(this.dir, "logs", `${name}.log`);
  }

  /** What `name` has logged so far (all its runs). */
  log(name: string): string {
    try { return readFileSync(this.logFile(name), "utf8"); } catch { return ""; }
  }

  /** True while `name` runs. */
  running(name: string): boolean {
    return !!this.started.get(name)?.running();
  }

  /** Stops `name` (see Process.stop); nothing when it was never started. */
  async stop(name: string, graceSeconds = 10): Promise<void> {
    const p = this.started.get(name);
    this.started.delete(name);
    await p?.stop(graceSeconds);
  }

  /** Stops every process, the last started first. */
  async stopAll(graceSeconds = 10): Promise<void> {
    for (const name of [...this.started.keys()].reverse()) await this.stop(name, graceSeconds);
  }
}
