/** What an attack in the traffic was: its kind, the key it is about, and the record positions it spans. */
export interface Attack {
  kind: string;
  key: string;
  from: number;
  to: number;
}

export function prng(seed: number): () => number;

export function authTraffic(options: {
  seed?: number;
  events: number;
  start?: number;
  stepMs?: number;
  users?: number;
  attacks?: number;
  malformed?: number;
}): { lines: string[]; attacks: Attack[] };
