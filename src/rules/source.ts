import {
  LineCounter,
  isMap,
  isScalar,
  isSeq,
  parseAllDocuments,
  type Document,
  type Node,
  type Pair,
  type Scalar,
  type YAMLMap,
} from 'yaml';
import type { Position, Span } from './diagnostics.js';

/** A rule file as read: its text, its YAML documents, and a way to turn offsets into positions. */
export class SourceFile {
  readonly documents: Document.Parsed[];
  private readonly lines = new LineCounter();

  constructor(
    readonly path: string,
    readonly text: string,
  ) {
    this.documents = parseAllDocuments(text, {
      lineCounter: this.lines,
      prettyErrors: false,
      uniqueKeys: true,
    }) as Document.Parsed[];
    // parseAllDocuments returns an EmptyStream for an empty file; normalise to an array.
    if (!Array.isArray(this.documents)) this.documents = [];
  }

  position(offset: number): Position {
    const p = this.lines.linePos(Math.max(0, Math.min(offset, this.text.length)));
    return { line: p.line, column: p.col };
  }

  span(start: number, end: number): Span {
    return { file: this.path, start: this.position(start), end: this.position(Math.max(end, start + 1)) };
  }

  /** The span of a node (a key or a value); the file's first position when the node has no range. */
  spanOf(node: Node | null | undefined, fallback?: Span): Span {
    const range = node?.range;
    if (!range) return fallback ?? this.span(0, 1);
    return this.span(range[0], range[1]);
  }

  /**
   * Span of `length` characters starting `offset` characters into a scalar's value: points at a
   * modifier inside `field|contians` or a token inside a condition. Plain and quoted scalars map
   * exactly (quoted ones unless escapes come first); block scalars map line by line.
   */
  spanInScalar(node: Scalar, offset: number, length: number): Span {
    const range = node.range;
    if (!range) return this.span(0, 1);
    const value = String(node.source ?? node.value ?? '');
    switch (node.type) {
      case 'PLAIN':
        return this.span(range[0] + offset, range[0] + offset + length);
      case 'QUOTE_SINGLE':
      case 'QUOTE_DOUBLE':
        return this.span(range[0] + 1 + offset, range[0] + 1 + offset + length);
      default: {
        // Block scalar: find the value's line in the source, below the `|` or `>` header.
        const before = value.slice(0, offset);
        const lineIndex = before.split('\n').length - 1;
        const column = offset - (before.lastIndexOf('\n') + 1);
        const header = this.position(range[0]);
        const sourceLine = this.text.split(/\r?\n/)[header.line + lineIndex] ?? '';
        const indent = sourceLine.length - sourceLine.trimStart().length;
        const start = { line: header.line + 1 + lineIndex, column: indent + column + 1 };
        return { file: this.path, start, end: { line: start.line, column: start.column + Math.max(1, length) } };
      }
    }
  }
}

/** The pairs of a mapping with string keys, in source order. */
export function pairs(map: YAMLMap): Array<{ key: string; keyNode: Scalar; value: Node | null; pair: Pair }> {
  const out: Array<{ key: string; keyNode: Scalar; value: Node | null; pair: Pair }> = [];
  for (const pair of map.items) {
    if (!isScalar(pair.key)) continue;
    out.push({ key: String(pair.key.value), keyNode: pair.key, value: (pair.value as Node | null) ?? null, pair });
  }
  return out;
}

/** The value node of `key` in a mapping, if present. */
export function get(map: YAMLMap, key: string): { keyNode: Scalar; value: Node | null } | undefined {
  for (const pair of map.items) {
    if (isScalar(pair.key) && String(pair.key.value) === key) {
      return { keyNode: pair.key, value: (pair.value as Node | null) ?? null };
    }
  }
  return undefined;
}

/** Plain JavaScript value of a node (mappings become objects, sequences arrays). */
export function toJs(node: Node | null | undefined): unknown {
  if (node == null) return null;
  return node.toJSON();
}

export { isMap, isScalar, isSeq };
export type { Node, Scalar, YAMLMap };
