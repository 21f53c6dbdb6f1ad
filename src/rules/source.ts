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
  /** The text the documents were parsed from: the file's, or it with its inline tests blanked. */
  readonly text: string;
  private lines = new LineCounter();

  /**
   * With `inlineTests: false` the top-level `tests:` blocks are not parsed: their lines are
   * blanked first, so every other line keeps its number and column. They are most of a rule
   * file, and a command that only runs rules never reads them. Should the blanked text not parse
   * cleanly (YAML written in a way this does not expect), the whole text is parsed instead.
   */
  constructor(
    readonly path: string,
    text: string,
    options: { inlineTests?: boolean } = {},
  ) {
    const blanked = options.inlineTests === false ? withoutInlineTests(text) : undefined;
    if (blanked !== undefined) {
      this.text = blanked;
      this.documents = this.parse(blanked);
      if (!this.documents.some((d) => d.errors.length > 0)) return;
      this.lines = new LineCounter();
    }
    this.text = text;
    this.documents = this.parse(text);
  }

  private parse(text: string): Document.Parsed[] {
    const docs = parseAllDocuments(text, { lineCounter: this.lines, prettyErrors: false, uniqueKeys: true });
    // parseAllDocuments returns an EmptyStream for an empty file; normalise to an array.
    return Array.isArray(docs) ? (docs as Document.Parsed[]) : [];
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

/**
 * The text with the lines of each top-level `tests:` entry made empty (line breaks kept), or
 * undefined when it has none. The entry runs from its key at column 0 to the next line at
 * column 0 that is neither empty nor a comment: the next key, or a document marker.
 */
export function withoutInlineTests(text: string): string | undefined {
  if (!/^tests:/m.test(text)) return undefined;
  const lines = text.split('\n');
  let inTests = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith('tests:')) inTests = true;
    else if (inTests && /^[^\s#]/.test(line)) inTests = false;
    if (inTests) lines[i] = line.endsWith('\r') ? '\r' : '';
  }
  return lines.join('\n');
}
