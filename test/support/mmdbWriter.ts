/**
 * A minimal MaxMind DB writer (format 2.0, https://maxmind.github.io/MaxMind-DB/) for building
 * tiny test databases: real GeoLite2 files are large and licensed, and no writer is a dependency.
 *
 * Layout: a binary search tree over address bits (24-bit records: a value below node_count is
 * a node, node_count means "no data", larger values point into the data section), 16 zero
 * bytes, the data section, then "\xAB\xCD\xEFMaxMind.com" and the metadata map.
 *
 * In an IPv6 database IPv4 networks live under ::/96, where readers look for them.
 * More specific networks may be given in any order; they override the covering network.
 */
import { parseIp } from '../../src/rules/sigma/cidr.js';

/** A data-section value. Plain numbers are uint32 (integers) or double; use the wrappers for other widths. */
export type MmdbValue = string | number | boolean | MmdbTyped | MmdbValue[] | { [key: string]: MmdbValue };

/** An integer with an explicit MaxMind type. */
export interface MmdbTyped {
  readonly mmdbType: 'uint16' | 'uint64';
  readonly value: bigint;
}

export const uint16 = (value: number): MmdbTyped => ({ mmdbType: 'uint16', value: BigInt(value) });
export const uint64 = (value: number | bigint): MmdbTyped => ({ mmdbType: 'uint64', value: BigInt(value) });

export interface MmdbNetwork {
  /** CIDR, or a bare address (a /32 or /128). */
  network: string;
  data: MmdbValue;
}

export interface MmdbOptions {
  ipVersion: 4 | 6;
  /** E.g. `GeoLite2-ASN`. */
  databaseType: string;
  networks: MmdbNetwork[];
  languages?: string[];
  description?: Record<string, string>;
  /** Unix seconds. */
  buildEpoch?: number;
}

const RECORD_SIZE = 24;
const METADATA_MARKER = Buffer.from([0xab, 0xcd, 0xef, ...Buffer.from('MaxMind.com', 'latin1')]);

// The tree while building: a node has two children, each a node, a data offset, or empty.
interface TreeNode {
  children: [Child, Child];
}
type Child = TreeNode | { data: number } | null;

/** Serialises a database. Throws on a network that does not fit the IP version. */
export function writeMmdb(options: MmdbOptions): Buffer {
  const data = new DataSection();
  const root: TreeNode = { children: [null, null] };

  // Least specific first, so a more specific network splits the covering one's leaf.
  const networks = options.networks
    .map((n) => ({ ...toBits(n.network, options.ipVersion), data: n.data }))
    .sort((a, b) => a.prefix - b.prefix);
  for (const n of networks) {
    const leaf = { data: data.add(n.data) };
    let node = root;
    for (let i = 0; i < n.prefix; i++) {
      const bit = n.bits[i] === 1 ? 1 : 0;
      if (i === n.prefix - 1) {
        node.children[bit] = leaf;
        break;
      }
      let next = node.children[bit];
      if (next === null || !('children' in next)) next = node.children[bit] = { children: [next, next] };
      node = next;
    }
  }

  // Number the nodes breadth-first; the root is node 0.
  const order: TreeNode[] = [root];
  const ids = new Map<TreeNode, number>([[root, 0]]);
  for (let i = 0; i < order.length; i++) {
    for (const c of order[i]!.children) {
      if (c !== null && 'children' in c && !ids.has(c)) {
        ids.set(c, order.length);
        order.push(c);
      }
    }
  }
  const nodeCount = order.length;
  const record = (c: Child): number => {
    if (c === null) return nodeCount;
    if ('children' in c) return ids.get(c)!;
    return nodeCount + 16 + c.data;
  };

  const tree = Buffer.alloc(nodeCount * ((RECORD_SIZE * 2) / 8));
  order.forEach((node, i) => {
    tree.writeUIntBE(record(node.children[0]), i * 6, 3);
    tree.writeUIntBE(record(node.children[1]), i * 6 + 3, 3);
  });
  if (nodeCount + 16 + data.size >= 2 ** RECORD_SIZE) throw new Error('too large for 24-bit records');

  const metadata = encode({
    node_count: nodeCount,
    record_size: uint16(RECORD_SIZE),
    ip_version: uint16(options.ipVersion),
    database_type: options.databaseType,
    languages: options.languages ?? ['en'],
    binary_format_major_version: uint16(2),
    binary_format_minor_version: uint16(0),
    build_epoch: uint64(options.buildEpoch ?? Math.floor(Date.now() / 1000)),
    description: options.description ?? { en: `${options.databaseType} test database` },
  });
  return Buffer.concat([tree, Buffer.alloc(16), data.bytes(), METADATA_MARKER, metadata]);
}

/** Records encoded once each (by identity), in order; offsets are relative to the section start. */
class DataSection {
  private readonly parts: Buffer[] = [];
  private readonly offsets = new Map<MmdbValue, number>();
  size = 0;

  add(value: MmdbValue): number {
    const known = typeof value === 'object' ? this.offsets.get(value) : undefined;
    if (known !== undefined) return known;
    const offset = this.size;
    const bytes = encode(value);
    this.parts.push(bytes);
    this.size += bytes.length;
    if (typeof value === 'object') this.offsets.set(value, offset);
    return offset;
  }

  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

// Type numbers from the spec; 8 and above are "extended" (written as 0, then type - 7).
const T = { utf8: 2, double: 3, uint16: 5, uint32: 6, map: 7, uint64: 9, array: 11, boolean: 14 } as const;

/** One value with its control byte(s). */
export function encode(value: MmdbValue): Buffer {
  if (typeof value === 'string') {
    const payload = Buffer.from(value, 'utf8');
    return Buffer.concat([control(T.utf8, payload.length), payload]);
  }
  if (typeof value === 'boolean') return control(T.boolean, value ? 1 : 0);
  if (typeof value === 'number') {
    if (Number.isInteger(value) && value >= 0 && value <= 0xffffffff) {
      const payload = unsignedBytes(BigInt(value));
      return Buffer.concat([control(T.uint32, payload.length), payload]);
    }
    const payload = Buffer.alloc(8);
    payload.writeDoubleBE(value);
    return Buffer.concat([control(T.double, 8), payload]);
  }
  if (Array.isArray(value)) {
    return Buffer.concat([control(T.array, value.length), ...value.map(encode)]);
  }
  if (isTyped(value)) {
    const payload = unsignedBytes(value.value);
    const max = value.mmdbType === 'uint16' ? 2 : 8;
    if (payload.length > max) throw new Error(`${value.value} does not fit ${value.mmdbType}`);
    return Buffer.concat([control(T[value.mmdbType], payload.length), payload]);
  }
  const entries = Object.entries(value);
  return Buffer.concat([control(T.map, entries.length), ...entries.flatMap(([k, v]) => [encode(k), encode(v)])]);
}

function isTyped(value: object): value is MmdbTyped {
  return 'mmdbType' in value;
}

/** Control byte: type in the top 3 bits, size in the low 5, with 1-3 size bytes beyond 28. */
function control(type: number, size: number): Buffer {
  const head: number[] = [];
  const ext: number[] = [];
  let sizeBits: number;
  if (size < 29) {
    sizeBits = size;
  } else if (size < 29 + 256) {
    sizeBits = 29;
    ext.push(size - 29);
  } else if (size < 285 + 65536) {
    sizeBits = 30;
    ext.push((size - 285) >> 8, (size - 285) & 0xff);
  } else {
    sizeBits = 31;
    const s = size - 65821;
    ext.push((s >> 16) & 0xff, (s >> 8) & 0xff, s & 0xff);
  }
  if (type <= 7) head.push((type << 5) | sizeBits);
  else head.push(sizeBits, type - 7);
  return Buffer.from([...head, ...ext]);
}

/** Big-endian, no leading zero bytes (zero is no bytes at all). */
function unsignedBytes(v: bigint): Buffer {
  const out: number[] = [];
  for (let x = v; x > 0n; x >>= 8n) out.unshift(Number(x & 0xffn));
  return Buffer.from(out);
}

/** A network's bits in the tree's address space. */
function toBits(cidr: string, ipVersion: 4 | 6): { bits: number[]; prefix: number } {
  const [addrText, prefixText] = cidr.split('/');
  const addr = parseIp(addrText ?? '');
  if (!addr) throw new Error(`not an address: ${cidr}`);
  const max = addr.version === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (!Number.isInteger(prefix) || prefix < 1 || prefix > max) throw new Error(`bad prefix: ${cidr}`);
  if (addr.version === 6 && ipVersion === 4) throw new Error(`IPv6 network in an IPv4 database: ${cidr}`);
  const bytes = addr.version === 4 && ipVersion === 6 ? Buffer.concat([Buffer.alloc(12), addr.bytes]) : addr.bytes;
  const bits: number[] = [];
  for (const b of bytes) for (let i = 7; i >= 0; i--) bits.push((b >> i) & 1);
  return { bits, prefix: addr.version === 4 && ipVersion === 6 ? prefix + 96 : prefix };
}
