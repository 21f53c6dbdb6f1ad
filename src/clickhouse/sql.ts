/**
 * SQL text for ClickHouse, built only from literal template parts, checked identifiers and
 * escaped values. ClickHouse 18.16 has no server-side query parameters, so escaping is done
 * here, in one place; nothing else in authwatch concatenates SQL.
 *
 *   sql`SELECT count() FROM ${ident(db)}.${ident(table)} WHERE rule_id = ${ruleId}`
 */
export class Sql {
  /** @internal use the `sql` tag, `ident` or `raw` */
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/** A database, table or column name. Only [A-Za-z_][A-Za-z0-9_]* is accepted. */
export function ident(name: string): Sql {
  if (!IDENTIFIER.test(name)) {
    throw new TypeError(`Not a valid ClickHouse identifier: ${JSON.stringify(name)}`);
  }
  return new Sql('`' + name + '`');
}

export type SqlValue = string | number | bigint | boolean | null | Date | Sql | readonly SqlValue[];

/** Renders one value as a ClickHouse literal. */
export function literal(value: SqlValue): string {
  if (value instanceof Sql) return value.text;
  if (value === null) return 'NULL';
  if (typeof value === 'boolean') return value ? '1' : '0';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`Cannot write ${value} into SQL.`);
    return String(value);
  }
  if (value instanceof Date) return `toDateTime(${Math.floor(value.getTime() / 1000)})`;
  if (Array.isArray(value)) return `[${value.map(literal).join(', ')}]`;
  return `'${escapeString(value as string)}'`;
}

function escapeString(s: string): string {
  return s.replace(/[\\'\0\n\r\t\b\f]/g, (c) => {
    switch (c) {
      case '\0':
        return '\\0';
      case '\n':
        return '\\n';
      case '\r':
        return '\\r';
      case '\t':
        return '\\t';
      case '\b':
        return '\\b';
      case '\f':
        return '\\f';
      default:
        return '\\' + c;
    }
  });
}

export function sql(parts: TemplateStringsArray, ...values: SqlValue[]): Sql {
  let text = parts[0] ?? '';
  values.forEach((v, i) => {
    text += literal(v) + (parts[i + 1] ?? '');
  });
  return new Sql(text);
}

/** Joins fragments, e.g. a list of column definitions. */
export function join(fragments: readonly Sql[], separator = ', '): Sql {
  return new Sql(fragments.map((f) => f.text).join(separator));
}

/**
 * SQL text written in authwatch's own source (a column type from the table spec), never from
 * input: everything that comes from outside goes through `sql` values or `ident`.
 */
export function raw(text: string): Sql {
  return new Sql(text);
}
