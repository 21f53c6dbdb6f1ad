/**
 * What kind of network the client address is in: a Tor exit, a VPN or proxy exit, or a
 * hosting provider (`network.kind` `tor`, `proxy`, `hosting`; `other` for a public address on
 * none of the lists), with the list's name for it (`network.provider`).
 *
 * The data is offline and the deployment's own: the hosting providers authwatch ships
 * (`data/networks/hosting-asns.txt`, by AS number) and any list files the configuration names
 * per kind (the Tor Project's exit list, a VPN or datacentre range list). Files are re-read
 * when they change, checked at most once per `reloadMs`, so a cron job that refreshes them is
 * picked up without a restart; a file that cannot be read keeps the last good copy.
 *
 * What the source said wins: an event that arrives with `network.kind` (Okta's `isProxy`) keeps
 * it. Runs after ASN enrichment, whose AS number the hosting list matches.
 */
import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { AuthEvent, NetworkKind } from '../events/authEvent.js';
import type { Enricher } from './enricher.js';
import { publicAddress } from './ipAddress.js';
import { parseNetworkList, type ListProblem, type NetworkList } from './networkList.js';

export const BUILTIN_HOSTING_LIST = fileURLToPath(new URL('../../data/networks/hosting-asns.txt', import.meta.url));

/** Kinds in the order they are tried: the most specific first. */
const ORDER: readonly Exclude<NetworkKind, 'other'>[] = ['tor', 'proxy', 'hosting'];

export interface NetworkEnricherOptions {
  /** List files per kind. */
  lists: Partial<Record<Exclude<NetworkKind, 'other'>, readonly string[]>>;
  /** Whether the shipped hosting list is used (default true). */
  builtin?: boolean;
  /** How often files are checked for changes, ms (default 60 000; 0 checks on every event). */
  reloadMs?: number;
  /** Injected clock, for tests. */
  now?: () => number;
  /** Told when a file is (re)loaded, with what it held and the lines it could not read. */
  onLoad?: (info: { path: string; kind: NetworkKind; entries: number; problems: readonly ListProblem[] }) => void;
  /** Told when a file cannot be read; its last good copy stays in use. */
  onError?: (info: { path: string; kind: NetworkKind; error: string }) => void;
}

export interface NetworkEnricher extends Enricher {
  /** The kind and provider of an address (with its AS number when known), or null when not public. */
  lookup(ip: string, asn?: number): { kind: NetworkKind; provider?: string } | null;
  /** Files in use, with their entry counts. */
  readonly files: ReadonlyArray<{ path: string; kind: NetworkKind; entries: number }>;
}

interface LoadedFile {
  path: string;
  kind: Exclude<NetworkKind, 'other'>;
  mtimeMs: number;
  size: number;
  list: NetworkList;
}

/**
 * Builds the enricher and reads its files now. A file missing or unreadable at start is an
 * error (a typo in the configuration must not pass silently); later, it only keeps the last copy.
 */
export function createNetworkEnricher(options: NetworkEnricherOptions): NetworkEnricher {
  const now = options.now ?? Date.now;
  const reloadMs = options.reloadMs ?? 60_000;
  const files: LoadedFile[] = [];
  const loaded = (file: LoadedFile): LoadedFile => {
    options.onLoad?.({ path: file.path, kind: file.kind, entries: file.list.size, problems: file.list.problems });
    return file;
  };
  const add = (kind: Exclude<NetworkKind, 'other'>, path: string) => files.push(loaded(readList(path, kind)));
  for (const kind of ORDER) {
    for (const path of options.lists[kind] ?? []) add(kind, path);
    if (kind === 'hosting' && options.builtin !== false) add('hosting', BUILTIN_HOSTING_LIST);
  }
  let nextCheck = now() + reloadMs;

  const refresh = () => {
    for (let i = 0; i < files.length; i++) {
      const f = files[i]!;
      try {
        const st = statSync(f.path);
        if (st.mtimeMs === f.mtimeMs && st.size === f.size) continue;
        files[i] = loaded(readList(f.path, f.kind));
      } catch (err) {
        options.onError?.({ path: f.path, kind: f.kind, error: (err as Error).message });
      }
    }
  };

  const lookup = (ip: string, asn?: number): { kind: NetworkKind; provider?: string } | null => {
    if (typeof ip !== 'string') return null;
    const addr = publicAddress(ip);
    if (addr === null) return null;
    const t = now();
    if (t >= nextCheck) {
      nextCheck = t + reloadMs;
      refresh();
    }
    for (const f of files) {
      const name = f.list.lookup(addr, asn);
      if (name !== undefined) return name === '' ? { kind: f.kind } : { kind: f.kind, provider: name };
    }
    return { kind: 'other' };
  };

  return {
    name: 'network',
    get files() {
      return files.map((f) => ({ path: f.path, kind: f.kind, entries: f.list.size }));
    },
    lookup,
    enrich(event: AuthEvent) {
      if (event.network?.kind !== undefined || typeof event.ip !== 'string') return;
      const found = lookup(event.ip, event.asn);
      if (found === null) return;
      event.network = { ...event.network, ...found };
    },
  };
}

function readList(path: string, kind: Exclude<NetworkKind, 'other'>): LoadedFile {
  const st = statSync(path);
  const list = parseNetworkList(readFileSync(path, 'utf8'));
  return { path, kind, mtimeMs: st.mtimeMs, size: st.size, list };
}
