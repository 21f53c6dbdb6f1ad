/**
 * Which client addresses are worth looking up, and in what form.
 *
 * Enrichment must never invent a place or a network for an address that has none: a private,
 * loopback, documentation or otherwise special-purpose address gets nothing, even where a
 * database would return a row for it (some do, for 2001::/32 or the TEST-NETs). "Public" here
 * means globally reachable unicast in the IANA special-purpose registries (RFC 6890 and
 * successors), with whole special blocks refused rather than their few anycast exceptions:
 * those are service addresses, never the client of a login.
 *
 * IPv6 forms that carry an IPv4 address are judged, and looked up, as that IPv4 address:
 * IPv4-mapped (`::ffff:1.2.3.4`, what dual-stack sockets report), the NAT64 well-known prefix
 * (`64:ff9b::/96`, RFC 6052) and 6to4 (`2002:AABB:CCDD::/48`, the site behind AA.BB.CC.DD).
 *
 * Parsing is `parseIp` from the Sigma `cidr` modifier, so the engine has one idea of what an
 * address is.
 */
import { formatIpv4, parseIp } from '../rules/sigma/cidr.js';

/** Re-exported: enrichment formats addresses for database lookups the way rules print networks. */
export { formatIpv4 };

/** A public address in the form the lookups take: IPv4 as an unsigned 32-bit number, IPv6 as 16 bytes. */
export type PublicAddress =
  { readonly version: 4; readonly value: number } | { readonly version: 6; readonly bytes: Uint8Array };

/** True when `ip` parses and is a globally reachable unicast address (see the module comment). */
export function isPublicIp(ip: string): boolean {
  return publicAddress(ip) !== null;
}

/** The lookup form of `ip` when it is public, else null (unparsable input included; never throws). */
export function publicAddress(ip: string): PublicAddress | null {
  const parsed = parseIp(ip);
  if (!parsed) return null;
  const b = parsed.bytes;
  if (parsed.version === 4) return publicV4(ipv4ToUint32(b));
  const embedded = embeddedIpv4(b);
  if (embedded >= 0) return publicV4(embedded);
  return isPublicV6(b) ? { version: 6, bytes: b } : null;
}

/** Four bytes (at `offset`) as an unsigned 32-bit number. */
export function ipv4ToUint32(bytes: Uint8Array, offset = 0): number {
  return ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!) >>> 0;
}

/** Sixteen bytes as an unsigned 128-bit number. */
export function ipv6ToBigInt(bytes: Uint8Array): bigint {
  return (ipv6High(bytes) << 64n) | ipv6Low(bytes);
}

/** The upper 64 bits of an IPv6 address (the network half, where nearly all routing data differs). */
export function ipv6High(bytes: Uint8Array): bigint {
  return new DataView(bytes.buffer, bytes.byteOffset, 16).getBigUint64(0);
}

/** The lower 64 bits of an IPv6 address. */
export function ipv6Low(bytes: Uint8Array): bigint {
  return new DataView(bytes.buffer, bytes.byteOffset, 16).getBigUint64(8);
}

/**
 * IPv6 text with all eight groups and no `::`. Third-party parsers get this form: geoip-lite's
 * own parser misplaces the groups after a `::` in the upper half (`2a00:1450::4001:1` becomes
 * `2a00:1450:0:4001:…`), which would silently return another network's location.
 */
export function formatIpv6Full(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < 16; i += 2) {
    if (i > 0) out += ':';
    out += ((bytes[i]! << 8) | bytes[i + 1]!).toString(16);
  }
  return out;
}

// IPv4 blocks that are not globally reachable unicast, as [network, prefix length].
const V4_SPECIAL: ReadonlyArray<readonly [string, number]> = [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // TEST-NET-1
  ['192.88.99.0', 24], // 6to4 relay anycast (deprecated)
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // TEST-NET-2
  ['203.0.113.0', 24], // TEST-NET-3
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, and 255.255.255.255 broadcast
];
const V4_NETS = new Uint32Array(V4_SPECIAL.length);
const V4_MASKS = new Uint32Array(V4_SPECIAL.length);
V4_SPECIAL.forEach(([net, prefix], i) => {
  V4_NETS[i] = ipv4ToUint32(parseIp(net)!.bytes);
  V4_MASKS[i] = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
});

function publicV4(value: number): PublicAddress | null {
  for (let i = 0; i < V4_NETS.length; i++) {
    if ((value & V4_MASKS[i]!) >>> 0 === V4_NETS[i]) return null;
  }
  return { version: 4, value };
}

/** The IPv4 address an IPv6 address stands for (mapped, NAT64 well-known prefix, 6to4), or -1. */
function embeddedIpv4(b: Uint8Array): number {
  if (b[0] === 0x20 && b[1] === 0x02) return ipv4ToUint32(b, 2);
  // ::ffff:0:0/96 and 64:ff9b::/96 share bytes 4-9 being zero.
  for (let i = 4; i < 10; i++) if (b[i] !== 0) return -1;
  if (b[0] === 0 && b[1] === 0 && b[2] === 0 && b[3] === 0 && b[10] === 0xff && b[11] === 0xff) {
    return ipv4ToUint32(b, 12);
  }
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && b[10] === 0 && b[11] === 0) {
    return ipv4ToUint32(b, 12);
  }
  return -1;
}

function isPublicV6(b: Uint8Array): boolean {
  // Only 2000::/3 is allocated as global unicast; everything else (::, ::1, IPv4-compatible,
  // 100::/64 discard, fc00::/7 unique-local, fe80::/10 link-local, fec0::/10, ff00::/8
  // multicast, 64:ff9b:1::/48 local translation) is not public.
  if ((b[0]! & 0xe0) !== 0x20) return false;
  const g0 = (b[0]! << 8) | b[1]!;
  const g1 = (b[2]! << 8) | b[3]!;
  if (g0 === 0x2001 && g1 < 0x0200) return false; // 2001::/23 IETF protocol assignments (Teredo, benchmarking, ORCHID)
  if (g0 === 0x2001 && g1 === 0x0db8) return false; // 2001:db8::/32 documentation
  if (g0 === 0x3fff && g1 < 0x1000) return false; // 3fff::/20 documentation (RFC 9637)
  if (g0 === 0x5f00) return false; // 5f00::/16 SRv6 SIDs (RFC 9602)
  return true;
}
