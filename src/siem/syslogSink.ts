import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { once } from 'node:events';
import { isIP, connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { ServiceError } from '../errors.js';
import type { Level } from '../rules/model.js';
import type { SinkBatch, SinkHealth } from '../sinks/sink.js';
import type { SiemSink } from './sinks.js';
import { detectionsOf, fitCef, toCef, type Detection } from './formats.js';
import { DeliveryProgress } from './progress.js';

export interface SyslogSinkOptions {
  host: string;
  port: number;
  protocol: 'tcp' | 'udp' | 'tls';
  /** 0–23; the severity comes from the alert's level. */
  facility: number;
  /** HOSTNAME of the messages, and the CEF's dvchost. */
  hostname: string;
  appName: string;
  maxMessageBytes: number;
  timeoutMs: number;
  tls?: ConnectionOptions;
  now?: () => number;
}

/** Syslog severity from the level: critical 2 (crit) … informational 6 (info). */
const SEVERITY: Record<Level, number> = { critical: 2, high: 3, medium: 4, low: 5, informational: 6 };
/** The largest UDP payload over IPv4. */
const MAX_DATAGRAM = 65_507;

/**
 * An RFC 5424 message carrying the detection as CEF: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID
 * MSGID - MSG`, with MSGID `alert`, no structured data, the time it is sent, and the CEF cut to
 * fit `maxBytes` (its description goes first).
 */
export function syslogMessage(d: Detection, o: SyslogSinkOptions, now: number): string {
  const pri = o.facility * 8 + SEVERITY[d.alert.level];
  const header = `<${pri}>1 ${new Date(now).toISOString()} ${o.hostname} ${o.appName} ${process.pid} alert - `;
  const room = maxBytes(o) - Buffer.byteLength(header);
  return header + fitCef(toCef(d, { host: o.hostname }), room);
}

function maxBytes(o: SyslogSinkOptions): number {
  return o.protocol === 'udp' ? Math.min(o.maxMessageBytes, MAX_DATAGRAM) : o.maxMessageBytes;
}

/**
 * Sends every alert to a syslog collector as CEF in RFC 5424 messages: over TCP or TLS, each
 * framed by its length (octet counting, RFC 6587 and RFC 5425), on one connection kept open;
 * over UDP, a datagram each (RFC 5426).
 *
 * A write resolves once every message is handed to the connection (TCP, TLS) or sent (UDP).
 * A failure (no connection, a connection lost, a timeout) rejects it as retriable, so the
 * pipeline holds its input and tries again: the batch goes on from the first message not
 * handed over, and the connection is made anew. Syslog has no acknowledgements: what the
 * collector had not read when a connection broke is sent again, so a collector may see a
 * message twice (the CEF externalId is the alert id), never lose one this side knew failed.
 */
export class SyslogSink implements SiemSink {
  readonly name = 'syslog';
  readonly counters = { messages: 0, bytes: 0, connections: 0 };
  /** Alerts delivered, for authwatch_siem_alerts_total. */
  delivered = 0;
  private socket: Socket | undefined;
  private udp: UdpSocket | undefined;
  private readonly progress = new DeliveryProgress();
  private lastError: string | undefined;
  private readonly now: () => number;

  constructor(private readonly options: SyslogSinkOptions) {
    this.now = options.now ?? Date.now;
  }

  async write(batch: SinkBatch): Promise<void> {
    if (batch.alerts.length === 0) return;
    const detections = detectionsOf(batch.alerts, batch.actions);
    const from = this.progress.of(batch);
    let sent = from;
    try {
      const messages = detections.slice(from).map((d) => syslogMessage(d, this.options, this.now()));
      if (this.options.protocol === 'udp') {
        const udp = await this.udpSocket();
        for (const m of messages) {
          await this.withTimeout(
            new Promise<void>((resolve, reject) => udp.send(m, (err) => (err ? reject(err) : resolve()))),
            'sending a datagram',
          );
          this.sent(m);
          this.progress.set(batch, ++sent);
        }
      } else {
        const socket = await this.stream();
        // Every message written without waiting for the one before; each callback says it was
        // handed to the connection, in order.
        const written: Promise<void>[] = [];
        for (const m of messages) {
          const frame = `${Buffer.byteLength(m)} ${m}`;
          const done = new Promise<void>((resolve, reject) =>
            socket.write(frame, (err) => {
              if (err) return reject(err);
              this.sent(m);
              this.progress.set(batch, ++sent);
              resolve();
            }),
          );
          done.catch(() => undefined); // awaited below, unless a timeout ends the write first
          written.push(done);
          if (socket.writableNeedDrain)
            await this.withTimeout(
              once(socket, 'drain').then(() => undefined),
              'writing',
            );
        }
        await this.withTimeout(
          Promise.all(written).then(() => undefined),
          'writing',
        );
      }
      this.lastError = undefined;
    } catch (err) {
      this.drop();
      this.lastError = (err as Error).message;
      throw new ServiceError(
        'syslog',
        `Syslog to ${this.options.protocol}://${this.options.host}:${this.options.port} failed after ${sent - from} of ${detections.length - from} message(s): ${(err as Error).message}`,
        { retriable: true, cause: err },
      );
    }
  }

  private sent(message: string): void {
    this.counters.messages++;
    this.delivered++;
    this.counters.bytes += Buffer.byteLength(message);
  }

  /** The open TCP or TLS connection, made when there is none (or the collector closed it). */
  private async stream(): Promise<Socket> {
    if (this.socket && !this.socket.destroyed && this.socket.writable) return this.socket;
    this.drop();
    const { host, port, protocol, tls } = this.options;
    const socket =
      protocol === 'tls'
        ? // SNI names a host, never an address (RFC 6066); an address is checked against the certificate's IP SANs.
          tlsConnect({ host, port, ...tls, ...(tls?.servername || isIP(host) ? {} : { servername: host }) })
        : netConnect({ host, port });
    // Errors after the connection is made surface on the next write; until then, only here.
    socket.on('error', (err) => {
      this.lastError = err.message;
      if (this.socket === socket) this.socket = undefined;
    });
    // A collector that closes the connection (idle, restarting): the next write makes a new one.
    socket.on('end', () => {
      if (this.socket === socket) this.socket = undefined;
      socket.destroy();
    });
    socket.on('data', () => undefined); // syslog collectors send nothing; keep the stream flowing
    await this.withTimeout(
      once(socket, protocol === 'tls' ? 'secureConnect' : 'connect').then(() => undefined),
      'connecting',
      () => socket.destroy(),
    );
    socket.setNoDelay(true);
    this.counters.connections++;
    this.socket = socket;
    return socket;
  }

  private async udpSocket(): Promise<UdpSocket> {
    if (this.udp) return this.udp;
    const { host, port } = this.options;
    const udp = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    udp.on('error', (err) => {
      this.lastError = err.message;
    });
    // Connected: a collector that is not there makes the next send fail (ICMP port unreachable).
    udp.connect(port, host);
    await this.withTimeout(
      once(udp, 'connect').then(() => undefined),
      'resolving the collector',
      () => udp.close(),
    );
    udp.unref();
    this.udp = udp;
    return udp;
  }

  private withTimeout<T>(work: Promise<T>, what: string, onTimeout?: () => void): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        onTimeout?.();
        reject(new Error(`${what} took longer than ${this.options.timeoutMs} ms`));
      }, this.options.timeoutMs);
    });
    return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
  }

  /** Forgets the connection (a new one is made for the next write). */
  private drop(): void {
    this.socket?.destroy();
    this.socket = undefined;
    try {
      this.udp?.close();
    } catch {
      // already closed
    }
    this.udp = undefined;
  }

  healthcheck(): Promise<SinkHealth> {
    return Promise.resolve(this.lastError === undefined ? { ok: true } : { ok: false, detail: this.lastError });
  }

  async close(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    if (socket && !socket.destroyed) {
      socket.end();
      await Promise.race([once(socket, 'close'), new Promise((r) => setTimeout(r, 1000))]);
      socket.destroy();
    }
    this.drop();
  }
}
