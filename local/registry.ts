/**
 * A real OCI registry for the tests: CNCF Distribution's `registry` (tools/install.sh group
 * `registry`) serving HTTPS with a certificate of a CA made for it, storage in the fixture's
 * folder. It listens in the machine's namespace on 127.0.0.1 (for the control plane and Argo CD)
 * or in a network namespace of the caller's (the real nodes' lan). Its clients — helm, oras and
 * cosign, all Go programs — trust that CA through SSL_CERT_FILE and run where the registry is
 * reachable; a node's containerd trusts it through a hosts.toml (`hostsToml`).
 *
 * `stop()` ends the registry (its process group, and SIGKILL should the test process die first)
 * and removes its folder.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Processes, type Run, run } from "./sys/process.js";
import { viaNetns } from "./sys/netns.js";
import { requirePrograms, tool } from "./sys/tools.js";
import { waitFor } from "./sys/wait.js";


export interface RegistryOptions {
  /** The address it listens on and its certificate names (default 127.0.0.1). */
  address?: string;
  port?: number;
  /** A network namespace (ip netns) to listen in; the machine's when absent. */
  netns?: string;
}

export class Registry {
  readonly dir = mkdtempSync(join(tmpdir(), "edge-registry-"));
  readonly address: string;
  readonly port: number;
  /** The CA certificate its clients trust. */
  readonly ca = join(this.dir, "ca.crt");
  private readonly daemons = new Processes(this.dir);

  constructor(private readonly options: RegistryOptions = {}) {
    requirePrograms("openssl", "setpriv", "nsenter");
    this.address = options.address ?? "127.0.0.1";
    this.port = options.port ?? 5443;
  }

  /** host:port, as image references and oci:// URLs name it. */
  get host(): string { return `${this.address}:${this.port}`; }

  async start(): Promise<void> {
    this.certificates();
    writeFileSync(join(this.dir, "config.yml"), `version: 0.1
log: {level: info, accesslog: {disabled: false}}
storage:
  filesystem: {rootdirectory: ${join(this.dir, "data")}}
  delete: {enabled: true}
http:
  addr: ${this.host}
  secret: edge-test
  tls: {certificate: ${join(this.dir, "registry.crt")}, key: ${join(this.dir, "registry.key")}}
`);
    this.daemons.start("registry", tool("registry"), ["serve", join(this.dir, "config.yml")], { via: this.via() });
    await waitFor(() => {
      if (!this.daemons.running("registry")) throw new Error(`registry exited:\n${this.log()}`);
      return this.client("curl", ["-sf", "--cacert", this.ca, `https://${this.host}/v2/`]).status === 0;
    }, `the registry on ${this.host}`, { seconds: 30, everyMs: 200, logs: join(this.dir, "logs") });
  }

  /** The command that runs a program where the registry listens (nothing for the machine's namespace). */
  private via(): string[] {
    return this.options.netns ? viaNetns(this.options.netns) : [];
  }

  /** A CA of its own and a server certificate for `address` signed by it. */
  private certificates(): void {
    const f = (name: string) => join(this.dir, name);
    const ok = (r: Run) => { if (r.status !== 0) throw new Error(`openssl: ${r.stderr}`); };
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    ok(run("openssl", ["req", "-x509", ...ec, "-keyout", f("ca.key"), "-out", this.ca, "-days", "2", "-subj", "/CN=edge test registry CA"]));
    ok(run("openssl", ["req", ...ec, "-keyout", f("registry.key"), "-out", f("registry.csr"), "-subj", `/CN=${this.address}`]));
    writeFileSync(f("san.ext"), `subjectAltName=IP:${this.address}\n`);
    ok(run("openssl", ["x509", "-req", "-in", f("registry.csr"), "-CA", this.ca, "-CAkey", f("ca.key"), "-CAcreateserial",
      "-out", f("registry.crt"), "-days", "2", "-extfile", f("san.ext")]));
  }

  /**
   * Runs a registry client (`cmd`: a path, or helm, oras, cosign, curl) where the registry is
   * reachable, trusting its CA. Never throws on a non-zero exit.
   */
  client(cmd: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string } = {}): Run {
    const env = { ...process.env, SSL_CERT_FILE: this.ca, ...options.env };
    const argv = [...this.via(), cmd, ...args];
    // stdin closed: cosign would otherwise wait on it for a password.
    return run(argv[0]!, argv.slice(1), { env, input: options.input ?? "", cwd: options.cwd });
  }

  /** `oras cp --from-oci-layout ARCHIVE:TAG HOST/REPOSITORY:TAG` (with its referrers); the pushed digest. */
  pushArchive(archive: string, tag: string, repository: string): string {
    const r = this.client(tool("oras"), ["cp", "-r", "--from-oci-layout", `${archive}:${tag}`, `${this.host}/${repository}:${tag}`]);
    if (r.status !== 0) throw new Error(`oras cp ${archive}:${tag}: ${r.stdout}${r.stderr}`);
    const digest = /Digest: (sha256:[0-9a-f]{64})/.exec(r.stdout)?.[1];
    if (!digest) throw new Error(`oras cp printed no digest: ${r.stdout}`);
    return digest;
  }

  /**
   * A node's containerd registry configuration (a hosts.toml, in the folder `config_path` names)
   * for `upstream` (default: this registry's own host:port): pull and resolve here, over HTTPS
   * with this CA. For another host it is a mirror, as an air-gapped cluster's nodes have for the
   * registries its images name: the image names stay, only the host they are fetched from differs.
   */
  hostsToml(configPath: string, upstream = this.host): void {
    const dir = join(configPath, upstream);
    mkdirSync(dir, { recursive: true });
    copyFileSync(this.ca, join(dir, "ca.crt"));
    writeFileSync(join(dir, "hosts.toml"), `server = "https://${upstream}"
[host."https://${this.host}"]
  capabilities = ["pull", "resolve"]
  ca = "${join(dir, "ca.crt")}"
`);
  }

  /** What the registry logged (every request). */
  log(): string { return this.daemons.log("registry"); }

  async stop(): Promise<void> {
    await this.daemons.stopAll();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
