import { afterEach, beforeEach, vi } from 'vitest';

/**
 * What commands write to stdout and stderr during each test of the file or `describe` block it
 * is called in (nothing reaches the terminal). `clear` forgets what was written so far.
 */
export function captureOutput(): { readonly out: string; readonly err: string; clear(): void } {
  const io = { out: '', err: '' };
  beforeEach(() => {
    io.out = '';
    io.err = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      io.out += String(chunk);
      return true;
    });
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      io.err += String(chunk);
      return true;
    });
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });
  return {
    get out() {
      return io.out;
    },
    get err() {
      return io.err;
    },
    clear() {
      io.out = '';
      io.err = '';
    },
  };
}
