/* eslint-disable no-control-regex -- the test reads what a terminal is sent, escape codes and all. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * `authwatch run` as a person sees it: on a real terminal (a pseudo-terminal from util-linux's
 * `script`), alerts are coloured readable lines under a redrawn progress line; NO_COLOR keeps
 * the lines and drops the colours.
 */
const dir = mkdtempSync(join(tmpdir(), 'authwatch-terminal-'));
const config = join(dir, 'authwatch.yaml');
writeFileSync(config, 'log_level: warn\nclickhouse: {enabled: false}\n');
const scenario = join(dir, 'short.yaml');
// Two hours of 200 users at 2000× real time: about four seconds, long enough for the progress line.
writeFileSync(scenario, 'users: 200\nhours: 2\nattacks:\n  - kind: credential_stuffing\n  - kind: mfa_fatigue\n');

function onTerminal(env: Record<string, string>): string {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AUTHWATCH_')));
  delete clean.NO_COLOR;
  const command = `${process.execPath} bin/authwatch.js run --config ${config} --scenario ${scenario} --speed 2000`;
  const r = spawnSync('script', ['--quiet', '--return', '--command', command, '/dev/null'], {
    env: { ...clean, TERM: 'xterm-256color', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

describe('authwatch run on a terminal', () => {
  it('draws a progress line, writes each alert as a coloured line, and ends with the summary', () => {
    const screen = onTerminal({});
    expect(screen).toMatch(
      /\r\u001b\[2K[\d,]+ records · event time \d{4}-\d\d-\d\d \d\d:\d\d · \d+ alerts · \d+ actions · 0 dead letters/,
    );
    // Credential stuffing is a high alert: red, then its time, level and title on one line.
    expect(screen).toMatch(
      /\u001b\[31m\d{4}-\d\d-\d\d \d\d:\d\d:\d\d {2}HIGH {5}Credential stuffing from one IP \(\d+ events\) {2}ip=[\d.]+.*\u001b\[0m\r?\n/,
    );
    expect(screen).not.toMatch(/^\{"alert_id"/m); // no NDJSON on a terminal
    expect(screen).toContain('injected attacks caught: 2 of 2');
  });

  it('keeps the readable lines and drops the colours under NO_COLOR', () => {
    const screen = onTerminal({ NO_COLOR: '1' });
    // Each alert line starts where the progress line was cleared.
    expect(screen).toMatch(/\r\u001b\[2K\d{4}-\d\d-\d\d \d\d:\d\d:\d\d {2}HIGH {5}Credential stuffing from one IP/);
    expect(screen).not.toMatch(/\u001b\[(1;)?3\dm/);
  });
});
