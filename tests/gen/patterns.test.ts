/**
 * gen > patterns: accept/reject tables for the schema's regular expressions, checked as Ajv runs
 * them (JS, u flag) and, when Go is installed, as Helm runs them (Go's RE2 regexp).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import * as re from "../../gen/src/patterns.js";
import { prng } from "../lib/prng.js";

/** The patterns by name (a plain record, so the tables survive patterns being added or renamed). */
const patterns: Record<string, string> = { ...re };

interface Case {
  name: string;
  input: string;
  accept: boolean;
}

const table = (name: string, accept: string[], reject: string[]): Case[] => [
  ...accept.map((input) => ({ name, input, accept: true })),
  ...reject.map((input) => ({ name, input, accept: false })),
];

const hex64 = "0123456789abcdef".repeat(4);

const cidrAccept = [
  "0.0.0.0/0", "10.0.0.0/8", "172.16.0.0/12", "192.168.1.0/24", "100.64.0.0/10", "255.255.255.255/32", "1.2.3.4/32",
  "::/0", "fd00::/8", "2001:db8::/32", "2001:DB8::/32", "fe80::1/64", "::1/128", "1::/16", "1:2:3:4:5:6:7:8/128",
  "1:2:3:4:5:6:7::/112", "2001:db8:0:0:0:0:0:1/128", "1::8/64", "::2:3:4:5:6:7:8/64", "1:2:3:4:5:6::8/64", "1::3:4:5:6:7:8/64",
];
/** RFC 4291 section 2.2 form 3 (x:x:x:x:x:x:d.d.d.d), e.g. IPv4-mapped addresses; node-init accepts them. */
const cidrIpv4Embedded = ["::ffff:10.0.0.0/104", "::1.2.3.4/96", "1:2:3:4:5:6:1.2.3.4/128", "64:ff9b::192.0.2.0/120"];
const cidrReject = [
  "10.0.0.0/33", "256.1.1.1/8", "10.0.0.0/8;x", "10.0.0.0", "10.0.0/8", "10.0.0.0/", "/8", "10.0.0.0/8/8",
  " 10.0.0.0/8", "10.0.0.0/8 ", "10.0.0.0/8\n", "01.2.3.4/8", "10.0.0.0/08", "10.0.0.0/-1", "1.2.3.4.5/8", "",
  "::/129", "::/0128", "fd00::", "fd00::/8x", "1:2:3:4:5:6:7:8:9/64", ":::/0", "1::2::3/64", "g::/8", "12345::/16",
  "1:2:3:4:5:6:7:1.2.3.4/96", "fd00::/8,10.0.0.0/8",
  // more than 8 groups
  "1:2:3:4:5:6:7::8:9/64", "1::2:3:4:5:6:7:8/64", "1:2:3:4:5:6:7::1:2:3:4:5:6:7/64", "1:2:3:4:5:6::1.2.3.4/96", "1:2:3:4:5:6:7:8::/64",
];

/** Interface names: at most 15 bytes, the trailing `*` included (nft 1.0.6 checks both forms against IFNAMSIZ). */
const interfaceAccept = ["eth0", "ens3", "ens*", "e*", "eth0.100", "br-1234abcd", "enp0s31f6", "wlan0", "lo", "veth_x", "bond0",
  "a".repeat(15), `${"a".repeat(14)}*`];
const interfaceReject = ["a".repeat(16), `${"a".repeat(15)}*`, `${"a".repeat(16)}*`, "eth0 ", " eth0", "", "*", "eth*0", "eth0**",
  ".", ".eth0", "-eth0", "eth/0", "eth:0", "eth0\n"];

const cases: Case[] = [
  ...table("cidr", cidrAccept, cidrReject),
  ...table("interfaceName", interfaceAccept, interfaceReject),
  ...table("dnsLabel",
    ["kong", "edge-node-init", "a", "0", "a-b", "a1", "a".repeat(63)],
    ["", "-a", "a-", "Kong", "a_b", "a.b", "a".repeat(64), "kong\n", " kong"]),
  ...table("dnsSubdomainOrEmpty",
    ["", "system-node-critical", "a", "a.b", "edge-node-init.example", `${"a".repeat(63)}.${"b".repeat(63)}`],
    ["-a", "a-", "A", "a_b", ".a", "a.", "a..b", "a.-b", "a-.b", "a".repeat(64), "a b", "a\n"]),
  ...table("imageDigest",
    ["", `sha256:${hex64}`],
    [`sha256:${hex64.slice(1)}`, `sha256:${hex64}0`, `sha256:${hex64.toUpperCase()}`, `sha512:${hex64}`, "sha256:",
      "sha256", hex64, `sha256:${hex64}\n`, `@sha256:${hex64}`]),
  ...table("imageRepository",
    ["docker.io/nicolaka/netshoot", "registry.example:5000/team/image", "nginx", "a-b_c.d/e"],
    ["", "Nginx", "nginx:1.0/", "/nginx", "nginx@sha256", "a b"]),
  ...table("imageTag",
    ["v0.14", "latest", "1.2.3-alpine_x", "_x", "a".repeat(128)],
    ["", ".x", "-x", "a".repeat(129), "v1 ", "v1:2"]),
  ...table("imageTagAtDigest",
    ["3.9", "latest", `3.9@sha256:${hex64}`, `nightly_1.2-x@sha256:${hex64}`, "a".repeat(128)],
    ["", `@sha256:${hex64}`, `3.9@sha256:${hex64.slice(1)}`, `3.9@sha512:${hex64}`, `3.9@${hex64}`, `3.9@sha256:${hex64.toUpperCase()}`,
      `3.9@sha256:${hex64}@sha256:${hex64}`, "3.9:1", `3.9@sha256:${hex64}\n`]),
  ...table("semver",
    ["3.9", "3.9.1", "3.10.0-rc.1", "3.9.1+build.5", "0.1"],
    ["", "3", "v3.9", "latest", "3.9.", "3.9.1.2.x", "3..9", "3.9 "]),
  ...table("quantity",
    ["10m", "100m", "16Mi", "64Mi", "1Gi", "0.5", ".5", "1", "2", "1e3", "1E-3", "+1", "500k", "1.5Gi"],
    ["", "10 m", "1.5.5", "Mi", "64MB", "-", "1mi", "1Ki ", "one"]),
];

const matches = (name: string, input: string): boolean => new RegExp(patterns[name]!, "u").test(input);

/** Hex IPv6 addresses, full and compressed at random zero runs, and broken ones with a group too many or too few. */
function ipv6Samples(count: number): string[] {
  const rand = prng(4291);
  const out = new Set<string>();
  while (out.size < count) {
    const groups = Array.from({ length: 8 }, () => (rand() < 0.45 ? "0" : Math.floor(rand() * 0x10000).toString(16)));
    out.add(groups.join(":"));
    // Compress the run of zeros starting at a random zero group.
    const zeros = groups.flatMap((g, i) => (g === "0" ? [i] : []));
    if (zeros.length) {
      const from = zeros[Math.floor(rand() * zeros.length)]!;
      let to = from;
      while (to + 1 < 8 && groups[to + 1] === "0" && rand() < 0.8) to++;
      out.add(`${groups.slice(0, from).join(":")}::${groups.slice(to + 1).join(":")}`);
    }
    // Break it: add or drop a group.
    out.add(rand() < 0.5 ? [...groups, "1"].join(":") : groups.slice(1).join(":"));
  }
  return [...out];
}

describe("gen > patterns", () => {
  it.each(cases.filter((c) => c.name in patterns))("should $name: accept=$accept for $input", ({ name, input, accept }) => {
    expect(matches(name, input)).toBe(accept);
  });

  it("should cover every pattern in patterns.ts", () => {
    expect(new Set(cases.map((c) => c.name).filter((n) => n in patterns))).toEqual(new Set(Object.keys(patterns)));
  });

  // Oracle: Node's own address parser, on every CIDR of the tables whose prefix length is valid.
  it.each([...cidrAccept, ...cidrReject].filter((c) => /^[^/]+\/(\d{1,3})$/.test(c)))(
    "should agree with node:net on the address of %s",
    (c) => {
      const [addr = "", len = ""] = c.split("/");
      const family = isIP(addr);
      const prefixOk = !/^0\d/.test(len) && Number(len) <= (family === 6 ? 128 : 32);
      expect(matches("cidr", c)).toBe(family !== 0 && prefixOk);
    },
  );

  it("should agree with node:net on generated IPv6 networks in every compression", () => {
    const disagreements = ipv6Samples(600)
      .map((addr) => ({ addr, schema: matches("cidr", `${addr}/64`), node: isIP(addr) === 6 }))
      .filter((r) => r.schema !== r.node);
    expect(disagreements).toEqual([]);
  });

  // RFC 4291 section 2.2 form 3: x:x:x:x:x:x:d.d.d.d, compressed or not.
  it.each(cidrIpv4Embedded)("should accept the IPv4-embedded IPv6 network %s", (c) => {
    expect(isIP(c.split("/")[0]!)).toBe(6);
    expect(matches("cidr", c)).toBe(true);
  });
});

/** Runs the tables through Go's regexp, the engine Helm 3 (gojsonschema) and Helm 4 validate with. */
function goVerdicts(input: { patterns: Record<string, string>; cases: [string, string][] }) {
  const dir = mkdtempSync(join(tmpdir(), "edge-re2-"));
  try {
    writeFileSync(join(dir, "main.go"), `package main

import (
	"encoding/json"
	"os"
	"regexp"
)

func main() {
	var in struct {
		Patterns map[string]string \`json:"patterns"\`
		Cases    [][2]string       \`json:"cases"\`
	}
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		panic(err)
	}
	out := struct {
		Errors  map[string]string \`json:"errors"\`
		Matches []bool            \`json:"matches"\`
	}{map[string]string{}, []bool{}}
	for name, p := range in.Patterns {
		if _, err := regexp.Compile(p); err != nil {
			out.Errors[name] = err.Error()
		}
	}
	for _, c := range in.Cases {
		re, err := regexp.Compile(c[0])
		out.Matches = append(out.Matches, err == nil && re.MatchString(c[1]))
	}
	_ = json.NewEncoder(os.Stdout).Encode(out)
}
`);
    const r = spawnSync("go", ["run", "main.go"], {
      cwd: dir, input: JSON.stringify(input), encoding: "utf8",
      env: { ...process.env, GOTOOLCHAIN: "local", GOFLAGS: "", GO111MODULE: "on", GOPROXY: "off" },
    });
    if (r.status !== 0) throw new Error(`go run failed:\n${r.stderr}`);
    return JSON.parse(r.stdout) as { errors: Record<string, string>; matches: boolean[] };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const haveGo = spawnSync("go", ["version"], { encoding: "utf8" }).status === 0;

describe.runIf(haveGo)("gen > patterns under Go's RE2 (what Helm runs)", () => {
  it("should compile every pattern and give the same verdict as JS on every case", () => {
    const known = cases.filter((c) => c.name in patterns);
    const out = goVerdicts({ patterns, cases: known.map((c) => [patterns[c.name]!, c.input]) });
    expect(out.errors).toEqual({});
    const disagreements = known.filter((c, i) => out.matches[i] !== matches(c.name, c.input));
    expect(disagreements).toEqual([]);
  }, 180_000);
});

/**
 * nft's verdict on `iifname` rules for each name, as node-init writes them (a set of names in a
 * prerouting chain), checked (`nft -c`) in a network namespace of its own that ends with the process.
 */
function nftAccepts(names: readonly string[]): { ok: boolean; stderr: string } {
  const set = names.map((n) => JSON.stringify(n)).join(", ");
  const single = names.map((n) => `    iifname ${JSON.stringify(n)} tcp dport 80 counter tcp dport set 30080`).join("\n");
  const ruleset = `table inet edge_pattern_check {
  chain prerouting {
    type filter hook prerouting priority -150; policy accept;
    iifname { ${set} } tcp dport 80 counter tcp dport set 30080
${single}
  }
}
`;
  const r = spawnSync("unshare", ["--net", "--", "nft", "-c", "-f", "-"], { input: ruleset, encoding: "utf8" });
  return { ok: r.status === 0, stderr: r.stderr };
}

const haveNft = process.getuid?.() === 0 && spawnSync("unshare", ["--net", "--", "nft", "--version"], { encoding: "utf8" }).status === 0;

describe.runIf(haveNft)("gen > patterns under nft (what node-init's rules must pass)", () => {
  it("should have nft accept every interface name the pattern accepts", () => {
    const accepted = interfaceAccept.filter((n) => matches("interfaceName", n));
    expect(accepted).toEqual(interfaceAccept);
    const r = nftAccepts(accepted);
    expect(r.ok, r.stderr).toBe(true);
  });

  // The pattern is stricter than nft on characters (no quotes, spaces or slashes reach a rule), but
  // exactly as strict on length: nft refuses these, so the schema must too.
  it.each(["a".repeat(16), `${"a".repeat(15)}*`, "*", ""])("should refuse %j as nft does", (name) => {
    expect(matches("interfaceName", name)).toBe(false);
    const r = nftAccepts([name]);
    expect(r.ok).toBe(false);
    expect(r.stderr).toMatch(/String exceeds maximum length of 16|All-wildcard strings are not supported|Empty string is not allowed/);
  });
});
