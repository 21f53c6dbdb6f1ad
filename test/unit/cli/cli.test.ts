import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../../src/cli/main.js';

let out = '';
beforeEach(() => {
  out = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
});
afterEach(() => {
  vi.restoreAllMocks();
});

describe('authwatch validate', () => {
  it('exits 1 on errors and prints each with file, line, column and a caret', async () => {
    expect(await main(['validate', 'test/golden/diagnostics/unknown_modifier.yml'])).toBe(1);
    expect(out).toContain('error[AW1203]: Unknown modifier `contians`.');
    expect(out).toContain('--> test/golden/diagnostics/unknown_modifier.yml:8:26');
    expect(out).toContain('hint: did you mean `contains`?');
  });

  it('prints JSON with --format json', async () => {
    expect(await main(['validate', '--format', 'json', 'test/golden/diagnostics/unknown_modifier.yml'])).toBe(1);
    const report = JSON.parse(out) as { errors: number; diagnostics: Array<Record<string, unknown>> };
    expect(report.errors).toBe(1);
    expect(report.diagnostics[0]).toMatchObject({
      code: 'AW1203',
      severity: 'error',
      line: 8,
      column: 26,
      hint: 'did you mean `contains`?',
    });
  });

  it('reports every problem of every file in one run', async () => {
    await main(['validate', '--format', 'json', 'test/golden/diagnostics']);
    const report = JSON.parse(out) as { files: number; diagnostics: Array<{ file: string }> };
    expect(report.files).toBeGreaterThan(5);
    expect(new Set(report.diagnostics.map((d) => d.file)).size).toBe(report.files);
  });
});

describe('authwatch test', () => {
  it('runs must-fire and must-not-fire cases and exits 0 when all pass', async () => {
    expect(await main(['test', 'test/fixtures/rules/passing'])).toBe(0);
    expect(out).toContain('PASS  Successful login from a scripting client › fires for curl from the internet');
    expect(out).toContain('PASS  Successful login from a scripting client › does not fire for the internal network');
    expect(out).toContain('PASS  Auth0 breached password › fires on an Auth0 pwd_leak record');
    // a correlation over Auth0 rules: its cases are written as Auth0 records
    expect(out).toContain('PASS  Auth0 brute force › fires for three Auth0 failures of one user');
    expect(out).toMatch(/^9 passed, 0 failed \(9 case\(s\); 0 alerting rule\(s\) without tests\)/m);
  });

  it('reports a failing case with what it expected and exits 1', async () => {
    expect(await main(['test', 'test/fixtures/rules/failing'])).toBe(1);
    expect(out).toContain('FAIL  Failed login › claims a success fires');
    expect(out).toContain('expected fire, got 0');
    expect(out).toContain('PASS  Failed login › right about a failure');
    expect(out).toMatch(/^1 passed, 1 failed/m);
  });
});

describe('wrong arguments to validate and test', () => {
  it('exit 2 with the usage, and --help prints it', async () => {
    let err = '';
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      err += String(chunk);
      return true;
    });
    expect(await main(['validate'])).toBe(2);
    expect(err).toContain('authwatch validate: name at least one rule file or folder.');
    expect(await main(['validate', '--format', 'xml', 'detections'])).toBe(2);
    expect(err).toContain('--format must be text or json, not xml.');
    expect(await main(['test', '--nope', 'detections'])).toBe(2);
    expect(err).toContain("authwatch test: Unknown option '--nope'");
    expect(err).toContain('usage: authwatch test PATH… [--values FILE]');
    expect(await main(['test', '--help'])).toBe(0);
    expect(out).toContain('usage: authwatch test PATH…');
  });
});
