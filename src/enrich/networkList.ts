/**
 * A list of networks of one kind (Tor exits, VPN and proxy exits, hosting providers): IPv4
 * and IPv6 addresses and CIDR blocks, and autonomous system numbers, one per line, each with
 * an optional name after it. `#` starts a comment. The formats public lists are published in
 * read as they are: the Tor Project's bulk exit list (one address per line), CIDR lists of
 * datacentre and VPN ranges, and `AS16509 Amazon` lines.
 *
 * Blocks are kept as sorted, merged ranges (IPv4 as 32-bit numbers, IPv6 as two 64-bit
 * halves) and searched by bisection, so a lookup costs a few comparisons whatever the size.
 */
import { parseIp } from '../rules/sigma/cidr.js';
import { ipv4ToUint32, ipv6High, ipv6Low, type PublicAddress } from './ipAddress.js';
import { lastAtOrBefore, lastPairAtOrBefore } from './rangeSearch.js';

/** A line the list could not read, 1-based. */
export interface ListProblem {
  line: number;
  text: string;
}

export interface NetworkList {
  /** Entries read (addresses and blocks, and AS numbers). */
  readonly size: number;
  readonly problems: readonly ListProblem[];
  /** The name given to the matching entry ('' when it has none), or undefined when none matches. */
  lookup(addr: PublicAddress, asn: number | undefined): string | undefined;
}

const MAX_PROBLEMS = 20;
const U64 = (1n << 64n) - 1n;

interface Range<T> {
  start: T;
  end: T;
  name: string;
}

/** Reads a list's text. Lines it cannot read are skipped and reported, never fatal. */
export function parseNetworkList(text: string): NetworkList {
  const v4: Range<number>[] = [];
  const v6: Range<bigint>[] = [];
  const asns = new Map<number, string>();
  const problems: ListProblem[] = [];
  let problemCount = 0;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/#.*$/, '').trim();
    if (line === '') continue;
    const [entry, ...rest] = line.split(/[\s,;]+/);
    const name = rest.join(' ').trim();
    const asMatch = /^AS(\d{1,10})$/i.exec(entry!);
    if (asMatch && Number(asMatch[1]) <= 0xffffffff) {
      if (!asns.has(Number(asMatch[1]))) asns.set(Number(asMatch[1]), name);
      continue;
    }
    const block = parseBlock(entry!);
    if (block === undefined) {
      if (problemCount++ < MAX_PROBLEMS) problems.push({ line: i + 1, text: lines[i]!.slice(0, 200) });
      continue;
    }
    if (block.version === 4) v4.push({ start: block.start, end: block.end, name });
    else v6.push({ start: block.start, end: block.end, name });
  }
  const m4 = merge(v4);
  const m6 = merge(v6);
  const starts4 = Uint32Array.from(m4, (r) => r.start);
  const ends4 = Uint32Array.from(m4, (r) => r.end);
  const highs6 = BigUint64Array.from(m6, (r) => r.start >> 64n);
  const lows6 = BigUint64Array.from(m6, (r) => r.start & U64);
  return {
    size: v4.length + v6.length + asns.size,
    problems,
    lookup(addr, asn) {
      if (addr.version === 4) {
        const k = lastAtOrBefore(starts4, addr.value);
        if (k >= 0 && addr.value <= ends4[k]!) return m4[k]!.name;
      } else if (m6.length > 0) {
        const hi = ipv6High(addr.bytes);
        const lo = ipv6Low(addr.bytes);
        const k = lastPairAtOrBefore(highs6, lows6, hi, lo);
        if (k >= 0 && ((hi << 64n) | lo) <= m6[k]!.end) return m6[k]!.name;
      }
      return asn === undefined ? undefined : asns.get(asn);
    },
  };
}

/** An address or a CIDR block as a range; host bits below the prefix are ignored. */
function parseBlock(
  text: string,
): { version: 4; start: number; end: number } | { version: 6; start: bigint; end: bigint } | undefined {
  const slash = text.indexOf('/');
  const addr = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (addr === null) return undefined;
  const max = addr.version === 4 ? 32 : 128;
  const prefixText = slash < 0 ? String(max) : text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max) return undefined;
  const prefix = Number(prefixText);
  if (addr.version === 4) {
    const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    const start = (ipv4ToUint32(addr.bytes) & mask) >>> 0;
    return { version: 4, start, end: (start | (~mask >>> 0)) >>> 0 };
  }
  const value = (ipv6High(addr.bytes) << 64n) | ipv6Low(addr.bytes);
  const hostBits = BigInt(128 - prefix);
  const start = (value >> hostBits) << hostBits;
  return { version: 6, start, end: start | ((1n << hostBits) - 1n) };
}

/** Sorted, with overlapping ranges joined (the first one's name kept). */
function merge<T extends number | bigint>(ranges: Range<T>[]): Range<T>[] {
  ranges.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const out: Range<T>[] = [];
  for (const r of ranges) {
    const last = out[out.length - 1];
    if (last !== undefined && r.start <= last.end) {
      if (r.end > last.end) last.end = r.end;
    } else out.push({ ...r });
  }
  return out;
}
