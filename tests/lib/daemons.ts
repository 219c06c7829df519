/**
 * Long-running local processes of a test fixture (servers, controllers): each in a process group
 * of its own, so that stopping it also ends what it started (the git and helm processes of Argo
 * CD's repo-server), logging to `<dir>/logs/<name>.log`. Whatever a test does, they end: `stop()`
 * from afterAll, and a SIGKILL to every group still alive when the test process exits.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";

interface Daemon {
  name: string;
  child: ChildProcess;
  /** Resolves when the process has exited and its output is written. */
  closed: Promise<void>;
}

/** Every group started by any Daemons of this process and not yet ended. */
const alive = new Set<Daemon>();
process.on("exit", () => {
  for (const d of alive) {
    try { process.kill(-d.child.pid!, "SIGKILL"); } catch { /* already gone */ }
  }
});

export class Daemons {
  private readonly daemons: Daemon[] = [];

  /** `dir` holds the logs (`dir/logs/<name>.log`). */
  constructor(private readonly dir: string) {}

  /** Starts `path args` in a process group of its own, logging to logs/<name>.log (appended). */
  start(name: string, path: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): ChildProcess {
    if (this.daemons.some((d) => d.name === name)) throw new Error(`daemons: ${name} is already running`);
    mkdirSync(join(this.dir, "logs"), { recursive: true });
    // The log file itself, not a pipe through this process: a test blocked in a synchronous
    // spawn (helm, oras) would stop draining the pipe, and a daemon that logs every request would
    // block on it.
    const log = openSync(this.logFile(name), "a");
    const child = spawn(path, args, { stdio: ["ignore", log, log], cwd: options.cwd ?? this.dir, env: options.env ?? process.env, detached: true });
    closeSync(log);
    const closed = new Promise<void>((resolve) => child.on("close", () => resolve()));
    const daemon = { name, child, closed };
    this.daemons.push(daemon);
    alive.add(daemon);
    void closed.then(() => alive.delete(daemon));
    return child;
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
    const d = this.daemons.find((x) => x.name === name);
    return !!d && d.child.exitCode === null && d.child.signalCode === null;
  }

  /** SIGTERM to `name`'s process group, SIGKILL after `graceSeconds`; resolves once it exited. */
  async stop(name: string, graceSeconds = 10): Promise<void> {
    const d = this.daemons.find((x) => x.name === name);
    if (!d) return;
    const group = (signal: NodeJS.Signals) => {
      try { process.kill(-d.child.pid!, signal); } catch { /* already gone */ }
    };
    group("SIGTERM");
    const timer = setTimeout(() => group("SIGKILL"), graceSeconds * 1000);
    await d.closed;
    clearTimeout(timer);
    // Children that outlived their leader.
    group("SIGKILL");
    this.daemons.splice(this.daemons.indexOf(d), 1);
  }

  /** Stops every daemon, the last started first. */
  async stopAll(): Promise<void> {
    for (const d of [...this.daemons].reverse()) await this.stop(d.name);
  }
}
