/**
 * node-init > listings: node-init's `plan` replayed without root on what it read on real nodes
 * (tests/fixtures/listings, recorded by tests/nodes/e2e.test.ts: kube-proxy's tables in its
 * iptables and nftables modes, CNI portmap's hostPort chains in both backends, nft 1.0.6 and 1.1.3; the
 * format is tests/lib/listings.ts's). From the same nft and ip answers and /proc/net files it must
 * decide what it decided there; a call it makes that was not recorded fails the replay; and a
 * changed answer changes the decision as it should. Runs as an unprivileged user.
 */
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type Listings, parseListings, planScript, writeReplay } from "../lib/listings.js";
import { repoRoot } from "../lib/paths.js";
import { run } from "../../local/index.js";

const corpus = join(repoRoot, "tests", "fixtures", "listings");
const files = readdirSync(corpus).filter((f) => f.endsWith(".txt")).sort();
/** Each setup and node, listed by the node's nft (1.0.6) and by a newer release (1.1.3, which prints priorities by name). */
const expected = ["iptables-portmap-iptables", "nftables-portmap-nftables"].flatMap((setup) => ["edge-node-a", "edge-node-b"]
  .flatMap((n) => ["", "-nft1.1.3"].map((release) => `${setup}-${n}${release}.txt`)));
if (files.join() !== [...expected].sort().join()) throw new Error(`node-init > listings: tests/fixtures/listings holds ${files.join(", ")}; expected ${expected.join(", ")} (record them: EDGE_RECORD_LISTINGS=1 EDGE_LISTINGS_NFT=$(sh tools/newer-nft.sh) npx vitest run tests/nodes/e2e.test.ts)`);
const load = (file: string): Listings => parseListings(readFileSync(join(corpus, file), "utf8"));

const temps: string[] = [];
afterAll(() => { for (const t of temps) rmSync(t, { recursive: true, force: true }); });

/** The command prefix that runs what follows as the user nobody, with no capability (when run as root). */
const unprivileged = process.getuid?.() === 0 ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--"] : [];
/** Runs `args` through `unprivileged`. */
const runUnprivileged = (args: string[], env?: NodeJS.ProcessEnv) => run(unprivileged[0] ?? args[0]!, [...unprivileged.slice(1), ...(unprivileged.length ? args : args.slice(1))], env ? { env } : {});

/** Runs node-init's plan against `listings` unprivileged. */
function replay(listings: Listings) {
  const dir = mkdtempSync(join(tmpdir(), "edge-listings-"));
  temps.push(dir);
  const { bin, procNet } = writeReplay(listings, dir);
  for (const d of [dir, bin, procNet]) chmodSync(d, 0o755);
  const env = { ...listings.env, NODE_INIT_LIBRARY: "1", NODE_INIT_STATE_DIR: join(dir, "state"), PATH: `${bin}:/usr/sbin:/usr/bin:/sbin:/bin`, LC_ALL: "C" };
  const r = runUnprivileged(["sh", "-c", planScript(join(repoRoot, "files", "node-init.sh"), procNet)], env);
  return { ...r, decided: parseListings(r.stdout).decided };
}

/** `listings` with the output of the call `args` of `program` replaced by `edit` of it (and, given, its status). */
function answer(listings: Listings, program: string, args: string, edit: (output: string) => string, status?: number): Listings {
  const calls = listings.calls.map((c) => (c.program === program && c.args === args ? { ...c, output: edit(c.output), status: status ?? c.status } : c));
  if (calls.every((c, i) => c === listings.calls[i])) throw new Error(`no recorded call ${program} ${args}`);
  return { ...listings, calls };
}

describe("node-init > listings", () => {
  it.each(files)("should decide on the replay of %s what it decided on that real node", (file) => {
    const listings = load(file);
    const r = replay(listings);
    expect(r.status, r.stderr).toBe(0);
    expect(r.decided).toEqual(listings.decided);
  });

  it("should serve NodePorts only at the addresses kube-proxy's nodeport-ips holds (nftables mode)", () => {
    const listings = answer(load("nftables-portmap-nftables-edge-node-a.txt"), "nft", "list set ip kube-proxy nodeport-ips",
      (o) => o.replace("elements = { 192.0.2.11 }", "elements = { 192.0.2.11, 192.0.2.99 }"));
    expect(replay(listings).decided).toMatchObject({ MODE: "nftables", NODEPORTS4: "192.0.2.11, 192.0.2.99", SERVED: "80:30080 443:30443" });
  });

  it("should serve NodePorts only at the addresses KUBE-SERVICES jumps to KUBE-NODEPORTS for (--nodeport-addresses, iptables mode)", () => {
    const listings = answer(load("iptables-portmap-iptables-edge-node-a.txt"), "nft", "list chain ip nat KUBE-SERVICES",
      (o) => o.replace(" fib daddr type local counter packets 7 bytes 420 jump KUBE-NODEPORTS", " ip daddr 192.0.2.11 counter packets 7 bytes 420 jump KUBE-NODEPORTS"));
    expect(replay(listings).decided).toMatchObject({ MODE: "iptables-nft", NODEPORTS4: "192.0.2.11" });
  });

  it.each([
    { file: "iptables-portmap-iptables-edge-node-b.txt", call: "list chain ip nat CNI-DN-997897019883707fc3e68" },
    { file: "nftables-portmap-nftables-edge-node-b.txt", call: "list chain ip cni_hostport hostports" },
  ])("should serve :80 again once the hostPort's rule is gone from $call", ({ file, call }) => {
    const listings = answer(load(file), "nft", call, (o) => o.split("\n").filter((l) => !/tcp dport 80 /.test(l)).join("\n"));
    expect(replay(listings).decided).toMatchObject({ WITHHELD: "", SERVED: "80:30080 443:30443", BLOCKED: "" });
  });

  it("should block every rule, waiting for kube-proxy, when its tables are gone", () => {
    const recorded = answer(load("nftables-portmap-nftables-edge-node-a.txt"), "nft", "list chains",
      (o) => o.replace(/^table ip6? kube-proxy \{\n[\s\S]*?^\}\n?/gm, ""));
    expect(recorded.calls[0]!.output).not.toContain("kube-proxy");
    // Without kube-proxy's tables, node-init looks for iptables' KUBE-SERVICES in table ip nat (portmap's).
    const listings = { ...recorded, calls: [...recorded.calls, { program: "nft", args: "list chain ip nat KUBE-SERVICES", status: 1, output: "Error: No such file or directory" }] };
    const r = replay(listings);
    expect(r.status, r.stderr).toBe(0);
    expect(r.decided.MODE).toBe("none");
    expect(r.decided.BLOCKED).toMatch(/^no kube-proxy found/);
  });

  it("should fail the plan, never decide, when nft cannot list the chains", () => {
    const listings = answer(load("nftables-portmap-nftables-edge-node-a.txt"), "nft", "list chains",
      () => "Error: Could not process rule: Operation not permitted", 1);
    const r = replay(listings);
    expect(r.status).toBe(3);
    expect(r.stderr).toContain("plan failed: Error: Could not process rule: Operation not permitted");
  });

  it("should fail the replay on a call that was not recorded", () => {
    const listings = load("nftables-portmap-nftables-edge-node-a.txt");
    const r = replay({ ...listings, calls: listings.calls.filter((c) => c.args !== "list set ip kube-proxy nodeport-ips") });
    expect(r.status, r.stderr).toBe(3);
    expect(r.stderr).toContain("unrecorded call: nft list set ip kube-proxy nodeport-ips");
  });

  it("should run unprivileged: no capability in its effective set", () => {
    const r = runUnprivileged(["sh", "-c", "grep ^CapEff /proc/self/status; id -u"]);
    expect(r.stdout).toMatch(/^CapEff:\s+0+\n[1-9]\d*\n$/);
  });
});
