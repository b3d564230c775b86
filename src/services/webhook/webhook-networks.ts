import { BlockList, isIP } from "node:net";

/**
 * Which addresses an outbound webhook (rotation or alert) may reach. By
 * default everything internal is refused: a tenant's webhook URL must not
 * become a way into the server's own network (SSRF). The operator can
 * allow-list networks (webhookAllowedNetworks, CIDRs) for receivers on them.
 */

/** Ranges a webhook never reaches (IPv4-mapped IPv6 addresses are judged by their IPv4 address, see v4Of) unless the operator allows them; node:net's BlockList does the matching. */
const FORBIDDEN_V4: [string, number][] = [
  ["0.0.0.0", 8], // "this network", unspecified
  ["10.0.0.0", 8], // RFC 1918
  ["100.64.0.0", 10], // CGNAT
  ["127.0.0.0", 8], // loopback
  ["169.254.0.0", 16], // link-local, cloud metadata (169.254.169.254)
  ["172.16.0.0", 12], // RFC 1918
  ["192.0.0.0", 24], // IETF protocol assignments
  ["192.168.0.0", 16], // RFC 1918
  ["198.18.0.0", 15], // benchmarking
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved, broadcast
];
const FORBIDDEN_V6: [string, number][] = [
  ["::", 128], // unspecified
  ["::1", 128], // loopback
  ["64:ff9b::", 96], // NAT64: an IPv4 address (internal ones too) behind a translator
  ["64:ff9b:1::", 48], // local-use NAT64
  ["fc00::", 7], // unique local, incl. the EC2 metadata address fd00:ec2::254
  ["fe80::", 10], // link-local
  ["ff00::", 8], // multicast
];

const forbidden = new BlockList();
for (const [net, prefix] of FORBIDDEN_V4) forbidden.addSubnet(net, prefix, "ipv4");
for (const [net, prefix] of FORBIDDEN_V6) forbidden.addSubnet(net, prefix, "ipv6");

const mapped = new BlockList();
mapped.addSubnet("::ffff:0:0", 96, "ipv6");

export interface WebhookNetworks {
  /** Whether a webhook may connect to this IP address. */
  allows(address: string): boolean;
  /** The allow-list as given (for messages). */
  readonly allowed: readonly string[];
}

/**
 * Parses the operator's allow-list ("127.0.0.0/8", "::1/128", a bare address
 * for one host); throws an Error naming the first bad entry.
 */
export function webhookNetworks(cidrs: readonly string[] = []): WebhookNetworks {
  const allowList = new BlockList();
  for (const entry of cidrs) {
    const [address, prefixText, extra] = entry.trim().split("/");
    const family = isIP(address);
    const max = family === 6 ? 128 : 32;
    const prefix = prefixText === undefined ? max : Number(prefixText);
    if (!family || extra !== undefined || !/^\d{1,3}$/.test(prefixText ?? String(max)) || prefix > max) {
      throw new Error(`"${entry}" is not a CIDR (like 10.0.0.0/8 or fd00::/8).`);
    }
    allowList.addSubnet(address, prefix, family === 6 ? "ipv6" : "ipv4");
  }
  return {
    allowed: [...cidrs],
    allows(address: string): boolean {
      const family = isIP(address);
      if (!family) return false;
      const v4 = family === 6 ? v4Of(address) : address;
      if (v4 !== undefined) return allowList.check(v4, "ipv4") || !forbidden.check(v4, "ipv4");
      return allowList.check(address, "ipv6") || !forbidden.check(address, "ipv6");
    },
  };
}

/** The IPv4 address inside an IPv4-mapped IPv6 address (::ffff:a.b.c.d, in either notation), if it is one. */
function v4Of(address: string): string | undefined {
  if (!mapped.check(address, "ipv6")) return undefined;
  const tail = address.slice(address.lastIndexOf(":") + 1);
  if (isIP(tail) === 4) return tail;
  // ::ffff:7f00:1 — the last two groups hold the four bytes.
  const groups = address.split(":").slice(-2).map((g) => parseInt(g || "0", 16));
  return [groups[0] >> 8, groups[0] & 255, groups[1] >> 8, groups[1] & 255].join(".");
}
