/**
 * A CEF parser written from the format's rules, for tests: what a SIEM reading authwatch's
 * CEF recovers. Header fields are split at unescaped pipes and unescape `\|` and `\\`;
 * extension values run to the next unescaped ` key=` and unescape `\=`, `\\`, `\n` and `\r`.
 */
export interface CefEvent {
  version: string;
  vendor: string;
  product: string;
  deviceVersion: string;
  signatureId: string;
  name: string;
  severity: string;
  extension: Record<string, string>;
}

export function parseCef(line: string): CefEvent {
  const fields: string[] = [];
  let current = '';
  let i = 0;
  for (; i < line.length && fields.length < 7; i++) {
    const c = line[i]!;
    if (c === '\\' && (line[i + 1] === '|' || line[i + 1] === '\\')) {
      current += line[++i];
    } else if (c === '|') {
      fields.push(current);
      current = '';
    } else current += c;
  }
  if (fields.length < 7 || !fields[0]!.startsWith('CEF:')) throw new Error(`not CEF: ${line.slice(0, 80)}`);
  const rest = line.slice(i);
  const extension: Record<string, string> = {};
  // Keys start the text or follow a space; a value's own spaces are kept.
  const key = /(?:^| )([A-Za-z0-9_.[\]-]+)=/g;
  const starts: Array<{ key: string; at: number; valueAt: number }> = [];
  // A value's '=' is escaped, and a key holds no backslash, so every match is a key.
  for (let m = key.exec(rest); m; m = key.exec(rest))
    starts.push({ key: m[1]!, at: m.index, valueAt: m.index + m[0].length });
  starts.forEach((s, n) => {
    const end = n + 1 < starts.length ? starts[n + 1]!.at : rest.length;
    extension[s.key] = unescapeValue(rest.slice(s.valueAt, end));
  });
  const [version, vendor, product, deviceVersion, signatureId, name, severity] = fields as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  return { version, vendor, product, deviceVersion, signatureId, name, severity, extension };
}

function unescapeValue(v: string): string {
  return v.replace(/\\([\\=nr])/g, (_, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : c));
}
