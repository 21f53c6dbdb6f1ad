import { parse } from 'csv-parse/sync';

/** Rows of RFC 4180 CSV, read by csv-parse (a parser authwatch did not write). */
export function parseCsv(text: string): string[][] {
  return parse(text, { relax_column_count: false }) as string[][];
}
