import type { Logger } from '../log/logger.js';
import type { MetricsView } from '../server/metrics.js';

export interface StatusLine {
  records_per_s: number;
  records: number;
  events: number;
  dead_letters: number;
  alerts: number;
  actions: number;
  lag: number;
  checkpoint_age_s: number | null;
}

/**
 * Progress for people: every interval, records/s since the last report, total lag and alerts.
 * On a terminal it rewrites one line of stderr; otherwise it logs the same as an info line.
 */
export class StatusReporter {
  private timer: NodeJS.Timeout | undefined;
  private last: { at: number; records: number } | undefined;
  private drawn = false;

  constructor(
    private readonly view: () => MetricsView,
    private readonly options: {
      intervalMs: number;
      logger: Logger;
      tty?: NodeJS.WriteStream | undefined;
      now?: () => number;
    },
  ) {}

  start(): void {
    if (this.options.intervalMs <= 0) return;
    this.last = { at: this.now(), records: this.view().ingest.records };
    this.timer = setInterval(() => this.report(), this.options.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.drawn) this.options.tty?.write('\n');
  }

  /** One report now: the line, and the figures it shows. */
  report(): StatusLine {
    const v = this.view();
    const now = this.now();
    const records = v.ingest.records;
    const seconds = this.last ? Math.max(0.001, (now - this.last.at) / 1000) : 1;
    const rate = this.last ? (records - this.last.records) / seconds : 0;
    this.last = { at: now, records };
    let alerts = 0;
    for (const a of v.pipeline.alerts.values()) alerts += a.count;
    let actions = 0;
    for (const n of v.pipeline.actions.values()) actions += n;
    let lag = 0;
    for (const n of v.lag.values()) lag += n;
    const line: StatusLine = {
      records_per_s: Math.round(rate),
      records,
      events: v.ingest.events,
      dead_letters: v.ingest.deadLetters,
      alerts,
      actions,
      lag,
      checkpoint_age_s: v.checkpointAgeSeconds === undefined ? null : Math.round(v.checkpointAgeSeconds),
    };
    const tty = this.options.tty;
    if (tty) {
      const fmt = (n: number): string => n.toLocaleString('en-US');
      tty.write(
        `\r\x1b[2K${fmt(line.records_per_s)} records/s · records ${fmt(records)} · lag ${fmt(lag)} · alerts ${fmt(alerts)} · actions ${fmt(actions)} · dead letters ${fmt(line.dead_letters)}${v.ready ? '' : ' · not ready'}`,
      );
      this.drawn = true;
    } else {
      this.options.logger.info({ status: line, ready: v.ready }, 'Status.');
    }
    return line;
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }
}
