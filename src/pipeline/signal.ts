/**
 * Wakes a loop that waits for something to happen (records fetched, a write finished, a stop
 * requested). A notify that comes while nobody waits is kept, so no wake-up is lost between a
 * check and the wait that follows it.
 */
export class Signal {
  private pending = false;
  private waiter: (() => void) | undefined;

  notify(): void {
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      w();
    } else this.pending = true;
  }

  /** Resolves at the next notify (or at once for one that came before), or after `timeoutMs`. */
  wait(timeoutMs?: number): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      this.waiter = () => {
        if (timer) clearTimeout(timer);
        resolve();
      };
      if (timeoutMs !== undefined) {
        timer = setTimeout(
          () => {
            this.waiter = undefined;
            resolve();
          },
          Math.max(0, timeoutMs),
        );
      }
    });
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
