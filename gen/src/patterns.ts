/**
 * Regular expressions shared by the schema. Each is RE2-compatible (Helm 4 compiles schema
 * patterns with Go's regexp: no lookaround) and anchored.
 */
const octet = "(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])";
const ipv4 = `(${octet}\\.){3}${octet}`;
const h = "[0-9a-fA-F]{1,4}";
// Every RFC 4291 text form of an IPv6 address (RE2 has no lookaround, so the "::" positions are
// spelled out); node-init validates again before the kernel parses it.
const ipv6 = [
  `(${h}:){7}${h}`,
  `(${h}:){1,7}:`,
  `(${h}:){1,6}:${h}`,
  `(${h}:){1,5}(:${h}){1,2}`,
  `(${h}:){1,4}(:${h}){1,3}`,
  `(${h}:){1,3}(:${h}){1,4}`,
  `(${h}:){1,2}(:${h}){1,5}`,
  `${h}:(:${h}){1,6}`,
  `:((:${h}){1,7}|:)`,
  // With an embedded IPv4 address (two groups' worth), e.g. ::ffff:10.0.0.0 or 64:ff9b::192.0.2.0.
  `(${h}:){6}${ipv4}`,
  `::(${h}:){0,5}${ipv4}`,
  ...[1, 2, 3, 4, 5].map((left) => `(${h}:){${left}}:(${h}:){0,${5 - left}}${ipv4}`),
].map((form) => `(${form})`).join("|");

/** An IPv4 or IPv6 network in CIDR notation, e.g. 10.0.0.0/8 or fd00::/8. */
export const cidr = `^(${ipv4}/(3[0-2]|[12]?[0-9])|(${ipv6})/(12[0-8]|1[01][0-9]|[1-9]?[0-9]))$`;

/**
 * A Linux interface name (at most 15 bytes), or a prefix with a trailing `*` that matches every name
 * starting with it. nft 1.0.6 counts the `*` too: `iifname "abcdefghijklmn*"` (15 bytes) loads,
 * `iifname "abcdefghijklmno*"` fails with "String exceeds maximum length of 16", and a lone `*` with
 * "All-wildcard strings are not supported".
 */
export const interfaceName = "^[A-Za-z0-9_]([A-Za-z0-9_.-]{0,14}|[A-Za-z0-9_.-]{0,13}[*])$";

/** An RFC 1123 DNS label: a namespace name. */
export const dnsLabel = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$";

/** An image repository without tag or digest, e.g. registry.example:5000/team/image. */
export const imageRepository = "^([a-z0-9]([-a-z0-9.]*[a-z0-9])?(:[0-9]{1,5})?/)?[a-z0-9]+([._/-][a-z0-9]+)*$";

/** A DNS subdomain (RFC 1123), e.g. a PriorityClass name; empty for none. */
export const dnsSubdomainOrEmpty = "^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?([.][a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*)?$";

/** An image tag. */
export const imageTag = "^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$";

/** An image tag, optionally pinned to a digest: `3.9` or `3.9@sha256:…` (the tag kept for readers). */
export const imageTagAtDigest = "^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}(@sha256:[a-f0-9]{64})?$";

/** A version the Kong chart can compare (`semverCompare`): 3.9, 3.9.1, 3.10.0-rc.1. */
export const semver = "^[0-9]+[.][0-9]+([.][0-9]+)?([-+][0-9A-Za-z.-]+)?$";

/** An image digest, or empty for none. */
export const imageDigest = "^(sha256:[a-f0-9]{64})?$";

/** A Kubernetes quantity such as 10m, 64Mi or 0.5. */
export const quantity = "^[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)(([KMGTPE]i)|[numkMGTPE]|([eE][+-]?[0-9]+))?$";
