/**
 * The `cidr` modifier: IPv4 and IPv6 networks.
 *
 * Matching runs once per event, so an IPv4 network compiles to a uint32 mask compare on an
 * address parsed without allocation; anything else (IPv6, IPv4-mapped IPv6) goes through the
 * full parser. Field values that are not addresses never match and never throw.
 *
 * Address syntax is strict, like Node's `net.isIP`: IPv4 is four decimal parts 0-255 without
 * leading zeros (`010.0.0.1` is refused, as it is ambiguous with octal notation); IPv6 is up
 * to eight groups of 1-4 hex digits, with at most one `::` and an optional dotted IPv4 tail.
 * A zone index (`fe80::1%eth0`) is ignored in field values and refused in rules.
 * IPv4 and IPv4-mapped IPv6 (`::ffff:10.1.2.3`) are the same address: each matches a network
 * written in the other form.
 */

/**
 * An IPv4 address string as an unsigned 32-bit number, or -1. No allocation: this is the per-event
 * path for IPv4 networks.
 */
function ipv4ToUint32(s: string, start = 0, end = s.length): number {
  let value = 0;
  let part = 0;
  let digits = 0;
  let parts = 0;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (digits > 0 && part === 0) return -1; // leading zero
      part = part * 10 + (c - 48);
      if (part > 255) return -1;
      digits++;
    } else if (c === 46 /* . */) {
      if (digits === 0 || parts === 3) return -1;
      value = value * 256 + part;
      parts++;
      part = 0;
      digits = 0;
    } else {
      return -1;
    }
  }
  if (digits === 0 || parts !== 3) return -1;
  return value * 256 + part;
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** IPv6 text (no zone) into 16 bytes, or null. */
function parseIpv6(s: string): Uint8Array | null {
  if (s.length < 2 || s.length > 45) return null;
  const groups: number[] = []; // 16-bit groups, left to right
  let gap = -1; // index in `groups` where `::` stands
  let i = 0;
  if (s.startsWith('::')) {
    gap = 0;
    i = 2;
    if (s.length === 2) return new Uint8Array(16);
  } else if (s.charCodeAt(0) === 58 /* : */) {
    return null;
  }
  while (i < s.length) {
    // One group: hex digits, or a dotted IPv4 tail.
    let j = i;
    let value = 0;
    while (j < s.length && j - i < 5) {
      const h = hexValue(s.charCodeAt(j));
      if (h < 0) break;
      value = value * 16 + h;
      j++;
    }
    if (j < s.length && s.charCodeAt(j) === 46 /* . */) {
      const v4 = ipv4ToUint32(s, i);
      if (v4 < 0) return null;
      groups.push(Math.floor(v4 / 0x10000), v4 % 0x10000);
      i = s.length;
      break;
    }
    if (j === i || j - i > 4) return null;
    groups.push(value);
    if (j === s.length) {
      i = j;
      break;
    }
    if (s.charCodeAt(j) !== 58 /* : */) return null;
    if (s.charCodeAt(j + 1) === 58) {
      if (gap >= 0) return null; // a second `::`
      gap = groups.length;
      i = j + 2;
      if (i === s.length) break;
    } else {
      i = j + 1;
      if (i === s.length) return null; // trailing single `:`
    }
  }
  if (gap < 0 ? groups.length !== 8 : groups.length > 7) return null;
  const bytes = new Uint8Array(16);
  const tail = gap < 0 ? 0 : groups.length - gap;
  for (let k = 0; k < groups.length; k++) {
    const slot = gap >= 0 && k >= gap ? 8 - tail + (k - gap) : k;
    bytes[slot * 2] = groups[k]! >> 8;
    bytes[slot * 2 + 1] = groups[k]! & 0xff;
  }
  return bytes;
}

/** Parses an IP address: 4 bytes for IPv4, 16 for IPv6 (including IPv4-mapped forms such as `::ffff:1.2.3.4`). A zone index (`%eth0`) is ignored. */
export function parseIp(text: string): { version: 4 | 6; bytes: Uint8Array } | null {
  if (typeof text !== 'string') return null;
  const v4 = ipv4ToUint32(text);
  if (v4 >= 0) {
    return { version: 4, bytes: Uint8Array.of(v4 >>> 24, (v4 >>> 16) & 0xff, (v4 >>> 8) & 0xff, v4 & 0xff) };
  }
  const zone = text.indexOf('%');
  if (zone === 0 || zone === text.length - 1) return null;
  const bytes = parseIpv6(zone > 0 ? text.slice(0, zone) : text);
  return bytes ? { version: 6, bytes } : null;
}

/** Whether 16 address bytes are an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`). */
export function isV4Mapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

function uint32At(b: Uint8Array, offset: number): number {
  return ((b[offset]! << 24) | (b[offset + 1]! << 16) | (b[offset + 2]! << 8) | b[offset + 3]!) >>> 0;
}

function v4MappedBytes(v4: Uint8Array): Uint8Array {
  const out = new Uint8Array(16);
  out[10] = 0xff;
  out[11] = 0xff;
  out.set(v4, 12);
  return out;
}

/** An IPv4 address held as an unsigned 32-bit number, in dotted form. */
export function formatIpv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`;
}

// Every `cidr` rule of an event reads the same address string: parse it once.
let lastIp = '';
let lastValue = -1;
function rememberIpv4(ip: string): number {
  lastValue = ipv4ToUint32(ip);
  lastIp = ip;
  return lastValue;
}

/** Parses an IPv4 or IPv6 CIDR (`10.0.0.0/8`, `2001:db8::/32`, a bare address = /32 or /128). Returns an error message string on bad input. */
export function parseCidr(text: string): { ok: true; match: (ip: string) => boolean } | { ok: false; error: string } {
  const trimmed = text.trim();
  const slash = trimmed.indexOf('/');
  const addrText = slash < 0 ? trimmed : trimmed.slice(0, slash);
  const prefixText = slash < 0 ? undefined : trimmed.slice(slash + 1);
  if (addrText.includes('%')) return { ok: false, error: 'a network cannot have a zone index (`%...`).' };
  const addr = parseIp(addrText);
  if (!addr) return { ok: false, error: `\`${addrText}\` is not an IPv4 or IPv6 address.` };
  const max = addr.version === 4 ? 32 : 128;
  let prefix = max;
  if (prefixText !== undefined) {
    if (!/^\d{1,3}$/.test(prefixText)) {
      return { ok: false, error: `the prefix length \`${prefixText}\` must be a number from 0 to ${max}.` };
    }
    prefix = Number(prefixText);
    if (prefix > max) return { ok: false, error: `the prefix length ${prefix} is larger than ${max}.` };
  }

  if (addr.version === 4) {
    const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    const raw = uint32At(addr.bytes, 0);
    const net = (raw & mask) >>> 0;
    if (net !== raw) {
      return { ok: false, error: `\`${trimmed}\` has host bits set; the network is \`${formatIpv4(net)}/${prefix}\`.` };
    }
    return {
      ok: true,
      match: (ip) => {
        if (typeof ip !== 'string') return false;
        let v = ip === lastIp ? lastValue : rememberIpv4(ip);
        if (v < 0) {
          if (!ip.includes(':')) return false;
          const p = parseIp(ip);
          if (!p || !isV4Mapped(p.bytes)) return false;
          v = uint32At(p.bytes, 12);
        }
        return (v & mask) >>> 0 === net;
      },
    };
  }

  const netBytes = addr.bytes;
  const full = prefix >> 3;
  const restMask = (0xff << (8 - (prefix & 7))) & 0xff;
  for (let i = full; i < 16; i++) {
    if ((netBytes[i]! & (i === full ? restMask : 0)) !== netBytes[i]) {
      return { ok: false, error: `\`${trimmed}\` has host bits set beyond the /${prefix} prefix.` };
    }
  }
  return {
    ok: true,
    match: (ip) => {
      if (typeof ip !== 'string') return false;
      const p = parseIp(ip);
      if (!p) return false;
      const b = p.version === 6 ? p.bytes : v4MappedBytes(p.bytes);
      for (let i = 0; i < full; i++) if (b[i] !== netBytes[i]) return false;
      return restMask === 0 || (b[full]! & restMask) === netBytes[full];
    },
  };
}
