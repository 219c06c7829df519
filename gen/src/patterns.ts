/**
 * Regular expressions shared by the schema. Each is RE2-compatible (Helm 4 compiles schema
 * patterns with Go's regexp: no lookaround) and anchored.
 */
const octet = "(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])";
const ipv4 = `(${octet}\\.){3}${octet}`;
const hextet = "[0-9a-fA-F]{1,4}";
// Full, compressed and IPv4-suffixed IPv6 forms; node-init re-validates with the kernel's parser.
const ipv6 = `((${hextet}:){7}${hextet}|((${hextet}:){0,6}${hextet})?::((${hextet}:){0,6}${hextet})?|((${hextet}:){0,5}${hextet})?::(${hextet}:){0,5}${ipv4}|(${hextet}:){6}${ipv4})`;

/** An IPv4 or IPv6 network in CIDR notation, e.g. 10.0.0.0/8 or fd00::/8. */
export const cidr = `^(${ipv4}/(3[0-2]|[12]?[0-9])|${ipv6}/(12[0-8]|1[01][0-9]|[1-9]?[0-9]))$`;

/** A Linux interface name (at most 15 bytes); a trailing `*` matches every name with that prefix. */
export const interfaceName = "^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}[*]?$";

/** An RFC 1123 DNS label: a namespace name. */
export const dnsLabel = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$";

/** An image repository without tag or digest, e.g. registry.example:5000/team/image. */
export const imageRepository = "^[a-z0-9]+([._:/-][a-z0-9]+)*$";

/** An image tag. */
export const imageTag = "^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$";

/** An image digest, or empty for none. */
export const imageDigest = "^(sha256:[a-f0-9]{64})?$";

/** A Kubernetes quantity such as 10m, 64Mi or 0.5. */
export const quantity = "^[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)(([KMGTPE]i)|[numkMGTPE]|([eE][+-]?[0-9]+))?$";
