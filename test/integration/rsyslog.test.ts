import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rsyslog, type RsyslogMessage } from '../support/rsyslog.js';

const HEADER = '<134>1 2026-11-30T12:00:00.000Z host authwatch - alert - ';
const CEF = 'CEF:0|authwatch|authwatch|0.1.0|rule-1|Credential stuffing \\| test|8|src=203.0.113.7 msg=a\\=b';
const CEF_UTF8 = 'CEF:0|authwatch|authwatch|0.1.0|rule-2|Impossible travel|5|suser=jürgen msg=München \\\\ Zürich';

/** RFC 6587 octet counting: the length in bytes, a space, the message. */
function frame(message: string): Buffer {
  const bytes = Buffer.from(message, 'utf8');
  return Buffer.concat([Buffer.from(`${bytes.length} `, 'ascii'), bytes]);
}

function sendTcp(port: number, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(data));
    socket.once('error', reject);
    socket.once('close', () => resolve());
  });
}

function sendUdp(port: number, data: Buffer): Promise<void> {
  const socket = createSocket('udp4');
  return new Promise<void>((resolve, reject) =>
    socket.send(data, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())),
  ).finally(() => socket.close());
}

/** Sends over TLS, checking the server's certificate against `ca` (and its IP address, 127.0.0.1). */
function sendTls(port: number, ca: string, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ port, host: '127.0.0.1', ca }, () => {
      if (!socket.authorized) reject(new Error(`server not verified: ${socket.authorizationError}`));
      socket.end(data);
    });
    socket.once('error', reject);
    socket.once('close', () => resolve());
  });
}

describe('Rsyslog test harness (a real rsyslogd)', () => {
  let rsyslog: Rsyslog;
  /** How many messages the earlier tests had rsyslogd receive. */
  let seen = 0;

  /** Waits for the `count` messages a test sent, then a moment more, and checks no other came. */
  async function received(count: number): Promise<RsyslogMessage[]> {
    await rsyslog.waitFor(seen + count);
    await new Promise((r) => setTimeout(r, 300));
    const all = await rsyslog.messages();
    expect(all).toHaveLength(seen + count);
    const fresh = all.slice(seen);
    seen = all.length;
    return fresh;
  }

  function expectHeader(message: RsyslogMessage): void {
    expect(message).toMatchObject({
      pri: 134,
      version: '1',
      timestamp: '2026-11-30T12:00:00.000Z',
      hostname: 'host',
      appName: 'authwatch',
      procId: '-',
      msgId: 'alert',
      structuredData: '-',
    });
  }

  beforeAll(async () => {
    rsyslog = await Rsyslog.start({ tls: true });
  });

  afterAll(async () => {
    await rsyslog?.stop();
  });

  it('receives octet-counted messages over TCP, two in one write, MSG byte for byte', async () => {
    await sendTcp(rsyslog.tcpPort, Buffer.concat([frame(HEADER + CEF), frame(HEADER + CEF_UTF8)]));
    const [first, second] = await received(2);
    expect(first!.input).toBe('tcp');
    expectHeader(first!);
    expect(first!.msg).toBe(CEF);
    expect(first!.raw).toBe(HEADER + CEF);
    // The octet count is of bytes: the UTF-8 message is longer in bytes than in characters.
    expect(second!.input).toBe('tcp');
    expectHeader(second!);
    expect(second!.msg).toBe(CEF_UTF8);
    expect(Buffer.from(second!.msg, 'utf8')).toEqual(Buffer.from(CEF_UTF8, 'utf8'));
  });

  it('receives a message in one UDP datagram', async () => {
    await sendUdp(rsyslog.udpPort, Buffer.from(HEADER + CEF, 'utf8'));
    const [message] = await received(1);
    expect(message!.input).toBe('udp');
    expectHeader(message!);
    expect(message!.msg).toBe(CEF);
    expect(message!.raw).toBe(HEADER + CEF);
  });

  it('receives octet-counted messages over TLS, the server verified with caPem', async () => {
    expect(rsyslog.caPem).toMatch(/^-----BEGIN CERTIFICATE-----/);
    await sendTls(rsyslog.tlsPort, rsyslog.caPem, Buffer.concat([frame(HEADER + CEF), frame(HEADER + CEF_UTF8)]));
    const [first, second] = await received(2);
    expect(first!.input).toBe('tls');
    expectHeader(first!);
    expect(first!.msg).toBe(CEF);
    expect(second!.input).toBe('tls');
    expect(second!.msg).toBe(CEF_UTF8);
    // Neither the sends nor start's readiness checks made rsyslogd complain.
    expect(rsyslog.internalLog()).not.toMatch(/error|oversize/i);
  });

  it('keeps MSG as sent: leading spaces, a BOM, control characters, a trailing LF; parses PROCID and SD', async () => {
    const odd = ['  two leading spaces', '\uFEFFBOM then ü', 'tab\tand\u0001and\nnewline', 'trailing LF\n'];
    const sd = '<13>1 2026-11-30T12:00:00.123456+02:00 host.example authwatch 4242 - [x@32473 a="b\\"c"] with SD';
    await sendTcp(rsyslog.tcpPort, Buffer.concat([...odd.map((m) => frame(HEADER + m)), frame(sd)]));
    const messages = await received(odd.length + 1);
    expect(messages.slice(0, odd.length).map((m) => m.msg)).toEqual(odd);
    expect(messages[odd.length]).toMatchObject({
      pri: 13,
      timestamp: '2026-11-30T12:00:00.123456+02:00',
      hostname: 'host.example',
      procId: '4242',
      msgId: '-',
      structuredData: '[x@32473 a="b\\"c"]',
      msg: 'with SD',
    });
  });

  it('has no TLS listener unless asked for one', async () => {
    const plain = await Rsyslog.start();
    try {
      expect(() => plain.tlsPort).toThrow(/without tls/);
      expect(() => plain.caPem).toThrow(/without tls/);
      await sendTcp(plain.tcpPort, frame(HEADER + CEF));
      const [message] = await plain.waitFor(1);
      expect(message).toMatchObject({ input: 'tcp', msg: CEF });
    } finally {
      await plain.stop();
    }
  });
});
