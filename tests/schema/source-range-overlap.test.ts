/**
 * schema > source range overlap: templates/validate.yaml refuses `nodeInit.sourceRanges` that
 * overlap or repeat a network (each client address belongs in one entry), by comparing the network
 * bits `edge.cidrPrefix` renders. Here that helper meets an independent oracle, node:net's BlockList,
 * on random pairs of ranges in every spelling the schema accepts (IPv4; IPv6 full, compressed,
 * upper case, with an embedded IPv4 address), each pair either related by construction or not.
 */
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { BlockList, isIP } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import * as re from "../../gen/src/patterns.js";
import { prng } from "../lib/prng.js";
import { template } from "../lib/chart.js";
import { helms, removeScratchCharts, scratchChart } from "../../local/index.js";

afterAll(removeScratchCharts);

const rand = prng(1918);
const pick = (n: number): number => Math.floor(rand() * n);

/** Bits → address text. IPv6 in one of the spellings the schema accepts, chosen at random. */
function ipv4(bits: string): string {
  return [0, 8, 16, 24].map((i) => parseInt(bits.slice(i, i + 8), 2)).join(".");
}
function ipv6(bits: string): string {
  const groups = Array.from({ length: 8 }, (_, i) => parseInt(bits.slice(i * 16, i * 16 + 16), 2).toString(16));
  const style = pick(4);
  if (style === 0) return groups.map((g) => g.padStart(4, "0")).join(":");
  if (style === 1) return groups.join(":").toUpperCase();
  if (style === 2) return `${groups.slice(0, 6).join(":")}:${ipv4(bits.slice(96))}`;
  // Compress the longest run of zero groups.
  let best = [-1, 0];
  for (let i = 0; i < 8; i++) {
    let j = i;
    while (j < 8 && groups[j] === "0") j++;
    if (j - i > best[1]!) best = [i, j - i];
  }
  const [from, len] = best as [number, number];
  if (len < 1) return groups.join(":");
  return `${groups.slice(0, from).join(":")}::${groups.slice(from + len).join(":")}`;
}

const randomBits = (n: number, zeroBias: number): string =>
  Array.from({ length: n }, () => (rand() < zeroBias ? "0" : rand() < 0.5 ? "0" : "1")).join("");

interface Range { cidr: string; family: 4 | 6; bits: string; length: number }

function range(family: 4 | 6, bits: string, length: number): Range {
  const address = family === 4 ? ipv4(bits) : ipv6(bits);
  return { cidr: `${address}/${length}`, family, bits, length };
}

/** A pair: the second inside the first, sharing some leading bits, the same network, or unrelated. */
function pair(): [Range, Range] {
  const family = rand() < 0.5 ? 4 : 6;
  const width = family === 4 ? 32 : 128;
  const zeroBias = family === 6 ? 0.6 : 0.2;
  const a = randomBits(width, zeroBias);
  const la = pick(width + 1);
  let b = randomBits(width, zeroBias);
  let lb = pick(width + 1);
  const kind = pick(4);
  if (kind === 0) b = a.slice(0, la) + b.slice(la); // b starts inside a
  if (kind === 1) {
    const shared = pick(Math.min(la, lb) + 1);
    b = a.slice(0, shared) + b.slice(shared);
  }
  if (kind === 2) {
    lb = la;
    b = a.slice(0, la) + b.slice(la); // same network, other host bits
  }
  return [range(family, a, la), range(family, b, lb)];
}

/** Whether two ranges overlap, by node:net (one holds the other's network address). */
function overlapByNode(x: Range, y: Range): boolean {
  if (x.family !== y.family) return false;
  const type = x.family === 4 ? "ipv4" : "ipv6";
  const width = x.family === 4 ? 32 : 128;
  const network = (r: Range) => {
    const bits = r.bits.slice(0, r.length).padEnd(width, "0");
    return x.family === 4 ? ipv4(bits) : Array.from({ length: 8 }, (_, i) => parseInt(bits.slice(i * 16, i * 16 + 16), 2).toString(16)).join(":");
  };
  const holds = (outer: Range, inner: Range) => {
    const list = new BlockList();
    list.addSubnet(outer.cidr.split("/")[0]!, outer.length, type);
    return outer.length <= inner.length && list.check(network(inner), type);
  };
  return holds(x, y) || holds(y, x);
}

const pairs = Array.from({ length: 300 }, pair);
const cidrs = [...new Set(pairs.flat().map((r) => r.cidr))];

describe("schema > source range overlap", () => {
  it("should build only ranges the schema accepts and node:net parses", () => {
    const bad = cidrs.filter((c) => !new RegExp(re.cidr, "u").test(c) || isIP(c.split("/")[0]!) === 0);
    expect(bad).toEqual([]);
  });

  it("should build pairs of every kind: overlapping, same network, disjoint", () => {
    const verdicts = pairs.map(([x, y]) => overlapByNode(x, y));
    expect(verdicts.filter(Boolean).length).toBeGreaterThan(60);
    expect(verdicts.filter((v) => !v).length).toBeGreaterThan(60);
  });

  for (const helm of helms) {
    it(`should agree with node:net on every pair under ${helm.name}`, () => {
      const dir = mkdtempSync(join(tmpdir(), "edge-cidr-"));
      try {
        const chart = join(dir, "edge");
        cpSync(scratchChart(), chart, { recursive: true });
        // A probe template: one line per range, "<cidr> <edge.cidrPrefix>".
        writeFileSync(join(chart, "templates", "cidr-probe.yaml"),
          `# ${cidrs.map((c) => `${c} {{ include "edge.cidrPrefix" ${JSON.stringify(c)} }}`).join("\n# ")}\n`);
        const r = template(helm, { chart, set: ["nodeInit.enabled=false"] });
        expect(r.status, r.stderr).toBe(0);
        const prefix = new Map<string, string>();
        for (const m of r.stdout.matchAll(/^# (\S+) ([46]:[01]*)$/gm)) prefix.set(m[1]!, m[2]!);
        expect(prefix.size).toBe(cidrs.length);
        const disagreements = pairs
          .map(([x, y]) => {
            const [px, py] = [prefix.get(x.cidr)!, prefix.get(y.cidr)!];
            return { x: x.cidr, y: y.cidr, helper: px.startsWith(py) || py.startsWith(px), node: overlapByNode(x, y) };
          })
          .filter((d) => d.helper !== d.node);
        expect(disagreements).toEqual([]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }, 120_000);
  }
});
