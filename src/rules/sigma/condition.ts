/**
 * The Sigma condition grammar:
 *
 *   or    := and ('or' and)*
 *   and   := not ('and' not)*
 *   not   := 'not' not | atom
 *   atom  := '(' or ')' | ('1' | 'all') 'of' (IDENT | PATTERN | 'them') | IDENT
 *
 * Keywords are case-insensitive. Offsets are 0-based indexes into the condition text, `end`
 * exclusive, so diagnostics can point at the token.
 */

/** Offsets are 0-based UTF-16 indexes into the condition text; `end` is exclusive. */
export type ConditionNode =
  | { kind: 'and' | 'or'; left: ConditionNode; right: ConditionNode; start: number; end: number }
  | { kind: 'not'; operand: ConditionNode; start: number; end: number }
  | { kind: 'ref'; name: string; start: number; end: number }
  /** `1 of sel*`, `all of filter_*`, `1 of them`; pattern is the text after `of` ('them' for them). */
  | { kind: 'quantified'; quantifier: 'one' | 'all'; pattern: string; start: number; end: number };

export interface ConditionError {
  code: 'AW1301' | 'AW1304' | 'AW1306';
  message: string;
  start: number;
  end: number;
  hint?: string;
}

type TokenKind =
  'ident' | 'pattern' | 'lparen' | 'rparen' | 'and' | 'or' | 'not' | 'of' | 'all' | 'them' | 'number' | 'pipe' | 'end';

interface Token {
  kind: TokenKind;
  text: string;
  start: number;
  end: number;
}

const KEYWORDS: Record<string, TokenKind> = { and: 'and', or: 'or', not: 'not', of: 'of', all: 'all', them: 'them' };

/**
 * How deep parentheses and `not`s may nest. Real conditions nest a few levels; the limit keeps
 * the parser and everything that walks the tree after it far from the end of the stack.
 */
export const MAX_CONDITION_DEPTH = 64;

class ConditionSyntaxError extends Error {
  constructor(readonly error: ConditionError) {
    super(error.message);
  }
}

function fail(code: ConditionError['code'], message: string, start: number, end: number, hint?: string): never {
  throw new ConditionSyntaxError({ code, message, start, end, ...(hint !== undefined ? { hint } : {}) });
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '(' || c === ')') {
      tokens.push({ kind: c === '(' ? 'lparen' : 'rparen', text: c, start: i, end: i + 1 });
      i++;
      continue;
    }
    if (c === '|') {
      // What follows a pipe is aggregation syntax, which has its own grammar: stop here.
      tokens.push({ kind: 'pipe', text: c, start: i, end: i + 1 });
      break;
    }
    const m = /^[A-Za-z0-9_*]+/.exec(text.slice(i));
    if (!m) {
      fail(
        'AW1301',
        `The character \`${c}\` cannot appear in a condition.`,
        i,
        i + 1,
        'Conditions combine search identifiers with `and`, `or`, `not`, parentheses, `1 of` and `all of`.',
      );
    }
    const word = m[0];
    const keyword = KEYWORDS[word.toLowerCase()];
    const kind: TokenKind = keyword ?? (word.includes('*') ? 'pattern' : /^\d+$/.test(word) ? 'number' : 'ident');
    tokens.push({ kind, text: word, start: i, end: i + word.length });
    i += word.length;
  }
  tokens.push({ kind: 'end', text: '', start: text.length, end: text.length });
  return tokens;
}

function describe(t: Token): string {
  return t.kind === 'end' ? 'the end of the condition' : `\`${t.text}\``;
}

class Parser {
  private pos = 0;
  private depth = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly text: string,
  ) {}

  private peek(): Token {
    return this.tokens[this.pos]!;
  }

  private next(): Token {
    return this.tokens[this.pos++]!;
  }

  parse(): ConditionNode {
    if (this.peek().kind === 'end')
      fail('AW1301', 'The condition is empty.', 0, 0, 'Name a search identifier, e.g. `condition: selection`.');
    const node = this.or();
    const t = this.peek();
    if (t.kind === 'pipe') this.pipe(t);
    if (t.kind === 'rparen')
      fail(
        'AW1301',
        'This `)` has no matching `(`.',
        t.start,
        t.end,
        'Remove it, or add a `(` where the group starts.',
      );
    if (t.kind !== 'end')
      fail('AW1301', `Expected \`and\`, \`or\` or the end of the condition, found ${describe(t)}.`, t.start, t.end);
    return node;
  }

  private pipe(t: Token): never {
    fail(
      'AW1304',
      'Aggregation expressions (`| count() …`, `| near …`) in conditions are deprecated Sigma and not supported.',
      t.start,
      Math.max(t.end, this.text.trimEnd().length),
      'Express it as a Sigma correlation rule: `correlation: {type: event_count, rules: [...], group-by: [...], timespan: 10m, condition: {gte: 10}}`.',
    );
  }

  /**
   * A chain `a or b or c …` as a balanced tree of the same operands in the same order, so a
   * condition of thousands of terms stays a tree a few dozen levels deep.
   */
  private binary(kind: 'and' | 'or', operand: () => ConditionNode): ConditionNode {
    const operands = [operand()];
    while (this.peek().kind === kind) {
      const op = this.next();
      if (
        this.peek().kind === 'end' ||
        this.peek().kind === 'rparen' ||
        this.peek().kind === 'and' ||
        this.peek().kind === 'or'
      ) {
        const t = this.peek();
        fail(
          'AW1301',
          `Expected a search identifier after \`${op.text}\`, found ${describe(t)}.`,
          t.kind === 'end' ? op.start : t.start,
          t.kind === 'end' ? op.end : t.end,
        );
      }
      operands.push(operand());
    }
    const balanced = (from: number, to: number): ConditionNode => {
      if (to - from === 1) return operands[from]!;
      const mid = (from + to + 1) >> 1;
      const left = balanced(from, mid);
      const right = balanced(mid, to);
      return { kind, left, right, start: left.start, end: right.end };
    };
    return balanced(0, operands.length);
  }

  /** Enters a level of nesting at token `t`; the caller leaves it with `this.depth--`. */
  private enter(t: Token): void {
    if (++this.depth > MAX_CONDITION_DEPTH)
      fail(
        'AW1306',
        `The condition nests parentheses and \`not\` more than ${MAX_CONDITION_DEPTH} levels deep.`,
        t.start,
        t.end,
        'Flatten it: `not (a or b)` is `not a and not b`, and `not not a` is `a`.',
      );
  }

  private or(): ConditionNode {
    return this.binary('or', () => this.and());
  }

  private and(): ConditionNode {
    return this.binary('and', () => this.not());
  }

  private not(): ConditionNode {
    const t = this.peek();
    if (t.kind === 'not') {
      this.next();
      if (this.peek().kind === 'end')
        fail('AW1301', 'Expected a search identifier after `not`, found the end of the condition.', t.start, t.end);
      this.enter(t);
      const operand = this.not();
      this.depth--;
      return { kind: 'not', operand, start: t.start, end: operand.end };
    }
    return this.atom();
  }

  private atom(): ConditionNode {
    const t = this.next();
    switch (t.kind) {
      case 'lparen': {
        if (this.peek().kind === 'rparen') fail('AW1301', 'Empty parentheses.', t.start, this.peek().end);
        this.enter(t);
        const inner = this.or();
        this.depth--;
        const close = this.peek();
        if (close.kind !== 'rparen') {
          if (close.kind === 'pipe') this.pipe(close);
          if (close.kind === 'end') fail('AW1301', 'This `(` is never closed.', t.start, t.end, 'Add a closing `)`.');
          fail('AW1301', `Expected \`)\`, \`and\` or \`or\`, found ${describe(close)}.`, close.start, close.end);
        }
        this.next();
        return inner;
      }
      case 'number':
      case 'all':
        return this.quantified(t);
      case 'ident':
        if (this.peek().kind === 'of')
          fail(
            'AW1301',
            `\`${t.text} of\` is not a quantifier.`,
            t.start,
            this.peek().end,
            'Sigma has `1 of` and `all of`.',
          );
        return { kind: 'ref', name: t.text, start: t.start, end: t.end };
      case 'pattern':
        return fail(
          'AW1301',
          `The wildcard \`${t.text}\` can only follow \`1 of\` or \`all of\`.`,
          t.start,
          t.end,
          `Write \`1 of ${t.text}\` or \`all of ${t.text}\`.`,
        );
      case 'pipe':
        return this.pipe(t);
      case 'rparen':
        return fail('AW1301', 'This `)` has no matching `(`.', t.start, t.end);
      case 'end':
        return fail('AW1301', 'The condition ends where a search identifier was expected.', t.start, t.end);
      default:
        fail('AW1301', `Expected a search identifier, found ${describe(t)}.`, t.start, t.end);
    }
  }

  private quantified(q: Token): ConditionNode {
    const of = this.peek();
    if (of.kind !== 'of') {
      if (q.kind === 'number') return { kind: 'ref', name: q.text, start: q.start, end: q.end };
      fail(
        'AW1301',
        `Expected \`of\` after \`all\`, found ${describe(of)}.`,
        of.start,
        of.end,
        'Write `all of selection*` or `all of them`.',
      );
    }
    if (q.kind === 'number' && q.text !== '1') {
      fail(
        'AW1301',
        `\`${q.text} of\` is not a quantifier.`,
        q.start,
        of.end,
        'Sigma only has `1 of` and `all of`; count matches with a correlation rule.',
      );
    }
    this.next();
    const target = this.next();
    if (target.kind !== 'ident' && target.kind !== 'pattern' && target.kind !== 'them' && target.kind !== 'number') {
      fail(
        'AW1301',
        `Expected a search identifier, a pattern such as \`selection*\` or \`them\` after \`of\`, found ${describe(target)}.`,
        target.kind === 'end' ? of.start : target.start,
        target.kind === 'end' ? of.end : target.end,
      );
    }
    return {
      kind: 'quantified',
      quantifier: q.kind === 'all' ? 'all' : 'one',
      pattern: target.kind === 'them' ? 'them' : target.text,
      start: q.start,
      end: target.end,
    };
  }
}

export function parseCondition(text: string): { ast?: ConditionNode; errors: ConditionError[] } {
  try {
    const ast = new Parser(tokenize(text), text).parse();
    return { ast, errors: [] };
  } catch (err) {
    if (err instanceof ConditionSyntaxError) return { errors: [err.error] };
    throw err;
  }
}
