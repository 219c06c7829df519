/**
 * A Git server on loopback for Argo CD's repo-server: `git daemon` serving bare repositories over
 * git:// (read-only, no credentials), as a Git host serves a public repository. Tests commit to a
 * repository with `commit()` (a local push into the bare repository), which is what Argo CD sees
 * when someone pushes to the branch it follows.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Processes, run } from "./sys/process.js";
import { freePort } from "./sys/ports.js";
import { requirePrograms } from "./sys/tools.js";

export class GitServer {
  readonly dir = mkdtempSync(join(tmpdir(), "edge-git-"));
  private readonly daemons = new Processes(this.dir);
  private readonly git = requirePrograms("git").git;
  private port = 0;

  /** Git with no system or user configuration of this machine, committing as a test identity. */
  private run(args: string[], cwd: string): string {
    const r = run(this.git, ["-c", "user.name=edge test", "-c", "user.email=edge-test@example.invalid", "-c", "init.defaultBranch=main", ...args], {
      cwd,
      env: { ...process.env, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null", HOME: this.dir },
    });
    if (r.status !== 0) throw new Error(`git ${args.join(" ")}: ${r.stderr}`);
    return r.stdout.trim();
  }

  async start(): Promise<void> {
    mkdirSync(join(this.dir, "repos"));
    this.port = await freePort();
    this.daemons.start("git-daemon", this.git, [
      "daemon", "--listen=127.0.0.1", `--port=${this.port}`, "--reuseaddr", "--export-all", "--informative-errors",
      `--base-path=${join(this.dir, "repos")}`, join(this.dir, "repos"),
    ], { env: { ...process.env, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null", HOME: this.dir } });
    // Ready when it answers ls-remote for a repository it serves.
    this.run(["init", "--bare", "-q", join(this.dir, "repos", "ready.git")], this.dir);
    const deadline = Date.now() + 20_000;
    while (run(this.git, ["ls-remote", this.url("ready")], { env: { ...process.env, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" } }).status !== 0) {
      if (!this.daemons.running("git-daemon") || Date.now() > deadline) throw new Error(`git daemon did not start: ${this.daemons.log("git-daemon")}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** The git:// URL of `repo`. */
  url(repo: string): string {
    return `git://127.0.0.1:${this.port}/${repo}.git`;
  }

  /**
   * Makes the content of `tree` (a directory) the next commit of branch `main` of `repo`, created on
   * first use, and returns the commit's SHA.
   */
  commit(repo: string, tree: string, message: string): string {
    const bare = join(this.dir, "repos", `${repo}.git`);
    const work = join(this.dir, "work", repo);
    if (!existsSync(bare)) {
      this.run(["init", "--bare", "-q", bare], this.dir);
      mkdirSync(work, { recursive: true });
      this.run(["init", "-q", work], this.dir);
    }
    for (const f of readdirSync(work)) if (f !== ".git") rmSync(join(work, f), { recursive: true, force: true });
    cpSync(tree, work, { recursive: true });
    this.run(["add", "-A"], work);
    this.run(["commit", "-q", "--allow-empty", "-m", message], work);
    this.run(["push", "-q", bare, "HEAD:refs/heads/main"], work);
    return this.run(["rev-parse", "HEAD"], work);
  }

  async stop(keepLogs = false): Promise<void> {
    await this.daemons.stopAll();
    if (!keepLogs) rmSync(this.dir, { recursive: true, force: true });
    else console.log(`git server: logs kept in ${join(this.dir, "logs")}`);
  }
}
