/**
 * Value transformations of the `base64`, `base64offset`, `utf16le`, `utf16be`, `utf16` and
 * `wide` modifiers. They run when a rule is compiled, never per event, and are applied in the
 * order the modifiers are written (`|wide|base64offset|contains` encodes UTF-16LE first).
 */
export type Bytes = Uint8Array;

const encoder = new TextEncoder();

/** UTF-8 bytes (lone surrogates become U+FFFD, as everywhere in Node). */
export function utf8(s: string): Bytes {
  return encoder.encode(s);
}

/** UTF-16LE code units, e.g. `cmd` → 63 00 6d 00 64 00. The `wide` modifier is an alias. */
export function utf16le(s: string): Bytes {
  const out = new Uint8Array(s.length * 2);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out[i * 2] = c & 0xff;
    out[i * 2 + 1] = c >> 8;
  }
  return out;
}

/** UTF-16BE code units, e.g. `cmd` → 00 63 00 6d 00 64. */
export function utf16be(s: string): Bytes {
  const out = new Uint8Array(s.length * 2);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out[i * 2] = c >> 8;
    out[i * 2 + 1] = c & 0xff;
  }
  return out;
}

/** The `utf16` modifier: byte order mark FF FE, then UTF-16LE. */
export function utf16WithBom(s: string): Bytes {
  const body = utf16le(s);
  const out = new Uint8Array(body.length + 2);
  out[0] = 0xff;
  out[1] = 0xfe;
  out.set(body, 2);
  return out;
}

/** Standard base64 with `=` padding. */
export function base64(b: Bytes): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
}

/** Characters cut from the start for a value shifted by 0, 1, 2 bytes: they also encode the bytes before it. */
const START_TRIM = [0, 2, 3] as const;
/** Characters cut from the end, by (shift + length) % 3: padding and the character shared with the bytes after it. */
const END_TRIM = [0, 3, 2] as const;

/**
 * The three shifted encodings pySigma/Sigma produce for base64offset (offsets 0,1,2), trimmed to the stable middle part.
 *
 * A value inside a longer base64 string starts 0, 1 or 2 bytes into a 3-byte group. For each
 * shift `i` the value is encoded after `i` filler bytes (spaces, as pySigma does; the filler
 * only influences characters that are trimmed), and the characters that also depend on the
 * neighbouring bytes, or are padding, are cut off. What remains appears verbatim in any base64
 * text whose decoded bytes contain the value at that alignment.
 */
export function base64Offsets(b: Bytes): string[] {
  const out: string[] = [];
  for (let i = 0; i < 3; i++) {
    const shifted = new Uint8Array(i + b.length);
    shifted.fill(0x20, 0, i);
    shifted.set(b, i);
    const encoded = base64(shifted);
    const end = END_TRIM[(b.length + i) % 3]!;
    out.push(encoded.slice(START_TRIM[i]!, encoded.length - end));
  }
  return out;
}

/** Bytes as a JS string one char per byte (latin1), for utf16 modifiers used without base64. */
export function bytesToBinaryString(b: Bytes): string {
  let out = '';
  const CHUNK = 0x2000;
  for (let i = 0; i < b.length; i += CHUNK) {
    out += String.fromCharCode(...b.subarray(i, Math.min(i + CHUNK, b.length)));
  }
  return out;
}
