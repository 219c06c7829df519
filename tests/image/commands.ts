/**
 * What node-init runs, derived from its sources rather than listed by hand: the commands of
 * files/node-init.sh (read with shfmt's parser, so commands inside $(…), pipelines and here-documents
 * count and quoted awk programs do not), and the executables of the rendered containers and probes.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { render } from "../lib/chart.js";
import { repoRoot } from "../lib/paths.js";
import { helms, run } from "../../local/index.js";

const shfmt = join(repoRoot, ".tools", "bin", "shfmt");

export const scriptPath = join(repoRoot, "files", "node-init.sh");

interface Node {
  Type?: string;
  [key: string]: unknown;
}

export interface ScriptCommands {
  /** First words of simple commands, e.g. nft, printf, log. */
  commands: Set<string>;
  /** Functions the script defines. */
  functions: Set<string>;
  /** Commands whose name is computed ($cmd, "$@"), which no list can cover. */
  dynamic: number;
  /** The programs named by `require` calls. */
  required: Set<string>;
}

/** The commands `script` (POSIX sh source) runs, from shfmt's syntax tree. */
export function scriptCommands(script: string): ScriptCommands {
  if (!existsSync(shfmt)) throw new Error(`${shfmt} is missing: run \`sh tools/install.sh lint\``);
  const r = run(shfmt, ["--language-dialect", "posix", "--to-json"], { input: script });
  if (r.status !== 0) throw new Error(`shfmt could not parse the script: ${r.stderr}`);
  const found: ScriptCommands = { commands: new Set(), functions: new Set(), dynamic: 0, required: new Set() };
  const literal = (word: Node): string | undefined => {
    const parts = word.Parts as Node[] | undefined;
    return parts?.length === 1 && parts[0]!.Type === "Lit" ? (parts[0]!.Value as string) : undefined;
  };
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) { node.forEach(walk); return; }
    if (!node || typeof node !== "object") return;
    const n = node as Node;
    if (n.Type === "FuncDecl") found.functions.add((n.Name as Node).Value as string);
    if (n.Type === "CallExpr" && Array.isArray(n.Args) && n.Args.length) {
      const [first, ...rest] = (n.Args as Node[]).map(literal);
      if (first === undefined) found.dynamic++;
      else found.commands.add(first);
      if (first === "require") for (const arg of rest) if (arg) found.required.add(arg);
    }
    Object.values(n).forEach(walk);
  };
  walk(JSON.parse(r.stdout));
  return found;
}

interface PodSpec {
  initContainers?: Container[];
  containers: Container[];
}

interface Container {
  command?: string[];
  readinessProbe?: { exec?: { command: string[] } };
  livenessProbe?: { exec?: { command: string[] } };
  startupProbe?: { exec?: { command: string[] } };
  lifecycle?: { postStart?: { exec?: { command: string[] } }; preStop?: { exec?: { command: string[] } } };
}

/** Every command line the rendered node-init DaemonSet makes the runtime execute in its image. */
export function renderedCommands(set: string[] = []): string[][] {
  const ds = render(helms[0], { set }).find((o) => o.kind === "DaemonSet" && o.metadata.name.endsWith("node-init"));
  if (!ds) throw new Error("no node-init DaemonSet rendered");
  const spec = (ds.spec as { template: { spec: PodSpec } }).template.spec;
  return [...spec.initContainers ?? [], ...spec.containers].flatMap((c) =>
    [c.command, c.readinessProbe?.exec?.command, c.livenessProbe?.exec?.command, c.startupProbe?.exec?.command,
      c.lifecycle?.postStart?.exec?.command, c.lifecycle?.preStop?.exec?.command].filter((x): x is string[] => !!x));
}

/** The executables a command line starts: its first word, and for nsenter the command after `--`. */
export function executablesOf(command: readonly string[]): string[] {
  const [first] = command;
  if (first === undefined) return [];
  if (first === "nsenter" || first.endsWith("/nsenter")) {
    const rest = command.indexOf("--");
    return [first, ...(rest >= 0 ? executablesOf(command.slice(rest + 1)) : [])];
  }
  return [first];
}

/** node-init.sh as the chart ships it. */
export const nodeInitScript = (): string => readFileSync(scriptPath, "utf8");
