/**
 * Recorded listings: what node-init's readers (nft, ip and /proc/net) showed on a real node, and
 * what node-init's `plan` decided from them, one text file per node under tests/fixtures/listings/.
 * `recordListings` records them on the real nodes (tests/nodes/e2e.test.ts), through programs that pass each
 * call on to the real nft and ip and write it down; tests/node-init/listings.test.ts replays them
 * without root, through programs that answer each call as recorded and refuse any other.
 *
 * The format, sections headed by a line starting "=== ":
 *   === env NAME            the value of node-init's environment variable NAME
 *   === decided NAME        the value `plan` left in the global NAME
 *   === call STATUS LINE    a call (program and arguments) and its exit status, then its output
 *   === file NAME           a file of /proc/net (tcp, tcp6, ip_tables_names)
 * Lines before the first section describe where the file was recorded.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Node } from "../../local/index.js";
import { repoRoot } from "./paths.js";

/** `s` as one shell word. */
const quoted = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`;

/** The globals `plan` decides the rules by (files/node-init.sh, its block of globals). */
export const PLAN_GLOBALS = ["MODE", "USE", "BLOCKED", "WITHHELD", "SERVED", "NODEPORTS4", "NODEPORTS6", "SERVICES4", "SERVICES6"] as const;

/** The programs whose calls are recorded and replayed. */
export const RECORDED_PROGRAMS = ["nft", "ip"] as const;

/** The files of /proc/net node-init reads. */
export const PROC_NET_FILES = ["tcp", "tcp6", "ip_tables_names"] as const;

export interface Call { program: string; args: string; status: number; output: string }

export interface Listings {
  about: string;
  env: Record<string, string>;
  decided: Record<string, string>;
  calls: Call[];
  files: Record<string, string>;
}

/**
 * The shell that sources node-init.sh (NODE_INIT_LIBRARY=1: functions only), validates the
 * configuration, plans, and prints each global of PLAN_GLOBALS as a `decided` section. With
 * `procNet`, /proc/net is read from there instead.
 */
export function planScript(nodeInit: string, procNet?: string): string {
  return [
    `. ${quoted(nodeInit)}`,
    procNet ? `PROC_NET=${quoted(procNet)}` : "",
    "load_config",
    `plan || { echo "plan failed: $NFT_ERROR" >&2; exit 3; }`,
    `for name in ${PLAN_GLOBALS.join(" ")}; do eval "value=\\$$name"; printf '=== decided %s\\n%s\\n' "$name" "$value"; done`,
  ].join("\n");
}

/** A recording program: runs the real `real` and appends its call, status and output to `record`. */
export function recorderProgram(program: string, real: string, record: string): string {
  return `#!/bin/sh
out=$('${real}' "$@" 2>&1)
status=$?
printf '=== call %s %s %s\\n%s\\n' "$status" ${program} "$*" "$out" >>'${record}'
if [ "$status" = 0 ]; then printf '%s\\n' "$out"; else printf '%s\\n' "$out" >&2; fi
exit "$status"
`;
}

/** Parses a listings file (see the format above). */
export function parseListings(text: string): Listings {
  const listings: Listings = { about: "", env: {}, decided: {}, calls: [], files: {} };
  const sections = text.split(/^=== /m);
  listings.about = sections.shift()!.trim();
  for (const section of sections) {
    const newline = section.indexOf("\n");
    const head = section.slice(0, newline);
    const body = section.slice(newline + 1).replace(/\n$/, "");
    const [kind, ...rest] = head.split(" ");
    if (kind === "env") listings.env[rest[0]!] = body;
    else if (kind === "decided") listings.decided[rest[0]!] = body;
    else if (kind === "file") listings.files[rest[0]!] = body;
    else if (kind === "call") listings.calls.push({ status: Number(rest[0]), program: rest[1]!, args: rest.slice(2).join(" "), output: body });
    else throw new Error(`listings: unknown section "=== ${head}"`);
  }
  return listings;
}

/** A listings file's text (the inverse of parseListings). */
export function formatListings(l: Listings): string {
  const section = (head: string, body: string) => `=== ${head}\n${body}\n`;
  return [
    `${l.about}\n`,
    ...Object.entries(l.env).map(([k, v]) => section(`env ${k}`, v)),
    ...Object.entries(l.decided).map(([k, v]) => section(`decided ${k}`, v)),
    ...l.calls.map((c) => section(`call ${c.status} ${c.program} ${c.args}`, c.output)),
    ...Object.entries(l.files).map(([k, v]) => section(`file ${k}`, v)),
  ].join("");
}

/**
 * Writes into `dir` what replays `listings`: bin/nft and bin/ip answering each recorded call as
 * recorded (output, and exit status) and failing any other with status 99 and "unrecorded call",
 * and proc/ holding the recorded /proc/net files.
 */
export function writeReplay(listings: Listings, dir: string): { bin: string; procNet: string } {
  const bin = join(dir, "bin");
  const procNet = join(dir, "proc");
  mkdirSync(bin, { recursive: true });
  mkdirSync(procNet, { recursive: true });
  for (const program of RECORDED_PROGRAMS) {
    const cases = listings.calls.filter((c) => c.program === program).map((c, i) => {
      if (c.args.includes("'")) throw new Error(`listings: a recorded call has a quote: ${c.args}`);
      const end = `RECORDED_${i}`;
      return `  '${c.args}')\n    cat ${c.status === 0 ? "" : ">&2 "}<<'${end}'\n${c.output}\n${end}\n    exit ${c.status} ;;`;
    });
    const script = `#!/bin/sh\ncase "$*" in\n${cases.join("\n")}\n  *) echo "unrecorded call: ${program} $*" >&2; exit 99 ;;\nesac\n`;
    writeFileSync(join(bin, program), script);
    chmodSync(join(bin, program), 0o755);
  }
  for (const [name, text] of Object.entries(listings.files)) writeFileSync(join(procNet, name), `${text}\n`);
  return { bin, procNet };
}

/**
 * What node-init's `plan` reads on real node `node` and decides from it: the script sourced with
 * node-init's environment `env`, every nft and ip call passed through a recording program to the
 * node's own (or, for nft, to `nft`: another release's program), and the /proc/net files it reads.
 */
export function recordListings(node: Node, env: Record<string, string>, about: string, nft?: string): Listings {
  const dir = mkdtempSync(join(node.options.dir, "listings-"));
  const record = join(dir, "calls");
  for (const program of RECORDED_PROGRAMS) {
    const real = program === "nft" && nft ? nft : node.exec("sh", ["-c", `command -v ${program}`]).stdout.trim();
    if (!real) throw new Error(`node ${node.name}: no ${program}`);
    writeFileSync(join(dir, program), recorderProgram(program, real, record), { mode: 0o755 });
  }
  const exports = Object.entries({ ...env, NODE_INIT_LIBRARY: "1", NODE_INIT_STATE_DIR: join(dir, "state") })
    .map(([k, v]) => `export ${k}=${quoted(v)}`).join("\n");
  const r = node.exec("sh", ["-c", `${exports}\nexport PATH=${dir}:$PATH\n${planScript(join(repoRoot, "files", "node-init.sh"))}`]);
  if (r.status !== 0) throw new Error(`node ${node.name}: node-init's plan failed: ${r.stderr}`);
  const decided = parseListings(r.stdout).decided;
  const calls = parseListings(readFileSync(record, "utf8")).calls;
  rmSync(dir, { recursive: true, force: true });
  const files: Record<string, string> = {};
  for (const f of PROC_NET_FILES) {
    const cat = node.exec("cat", [`/proc/net/${f}`]);
    if (cat.status === 0) files[f] = cat.stdout.replace(/\n$/, "");
  }
  return { about, env, decided, calls, files };
}
