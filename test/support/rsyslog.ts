import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** How `start` waits for the listeners, and `stop` for the process to end. */
const READY_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;
/** Starts with freshly chosen ports after a port was taken between choosing it and rsyslogd's bind. */
const START_ATTEMPTS = 3;
const INSTALL_HINT = '`bash scripts/services.sh start` installs Debian’s rsyslog and rsyslog-gnutls';

/** One message as rsyslog received and parsed it (one line of its output file). */
export interface RsyslogMessage {
  /** The listener it came in on. */
  input: 'tcp' | 'udp' | 'tls';
  /** PRI, as received: facility * 8 + severity. */
  pri: number;
  /** The syslog protocol version: '1' for RFC 5424 (rsyslog says '0' for an RFC 3164 message). */
  version: string;
  /** TIMESTAMP as rsyslog parsed it, in RFC 3339 with the precision and offset sent (`Z` stays `Z`). */
  timestamp: string;
  hostname: string;
  appName: string;
  /** PROCID; `-` when nil. */
  procId: string;
  /** MSGID; `-` when nil. */
  msgId: string;
  /** STRUCTURED-DATA as sent; `-` when nil. */
  structuredData: string;
  /** MSG exactly as sent (a BOM and leading spaces included); see the config's comments. */
  msg: string;
  /** The whole message as received, without its octet count, as rsyslog decoded it into a string. */
  raw: string;
}

interface Ports {
  tcp: number;
  udp: number;
  tls?: number;
}

/** rsyslogd processes still running: killed when the test process exits without stopping them. */
const running = new Set<ChildProcess>();
let exitHook = false;

/**
 * A real rsyslogd (Debian's package) of a test's own: listeners on 127.0.0.1 for RFC 5424 over TCP
 * (octet counting or LF framing), UDP and, with `tls`, TCP over TLS (RFC 5425, anonymous: the
 * client checks the server against `caPem`, the server asks for no client certificate). Every
 * message it receives becomes one JSON line in `file`. Nothing of the system's syslog is touched:
 * its own config (not /etc/rsyslog.conf or /etc/rsyslog.d), work directory and pid file in a
 * temporary directory, no /dev/log, no kernel log.
 */
export class Rsyslog {
  private stopped = false;

  private constructor(
    private readonly dir: string,
    private readonly child: ChildProcess,
    private readonly exited: Promise<void>,
    private readonly stderr: () => string,
    private readonly ports: Ports,
    private readonly certPem: string | undefined,
  ) {}

  /**
   * Starts rsyslogd and waits until its TCP listeners accept connections. Rejects, with rsyslogd's
   * stderr and the config's path, when it is not installed, exits, reports a problem or does not
   * listen within 10 s.
   */
  static async start(options: { tls?: boolean } = {}): Promise<Rsyslog> {
    const rsyslogd = findRsyslogd();
    for (let attempt = 1; ; attempt++) {
      const dir = mkdtempSync(join(tmpdir(), 'authwatch-rsyslog-'));
      try {
        return await Rsyslog.startIn(dir, rsyslogd, options.tls === true);
      } catch (err) {
        const retry = err instanceof PortTaken && attempt < START_ATTEMPTS;
        // The directory of an rsyslogd that failed stays for a look: the error names its config.
        if (retry || !(err instanceof StartError)) rmSync(dir, { recursive: true, force: true });
        if (!retry) throw err;
      }
    }
  }

  private static async startIn(dir: string, rsyslogd: string, tls: boolean): Promise<Rsyslog> {
    const certPem = tls ? await selfSignedCertificate(dir) : undefined;
    const ports: Ports = { tcp: await freeTcpPort(), udp: await freeUdpPort() };
    if (tls) ports.tls = await freeTcpPort();
    const conf = join(dir, 'rsyslog.conf');
    writeFileSync(conf, rsyslogConfig(dir, ports));

    const child = spawn(rsyslogd, ['-n', '-f', conf, '-i', join(dir, 'rsyslogd.pid')], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const collect = (chunk: Buffer) => (output = (output + chunk.toString('utf8')).slice(-8000));
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    let exitStatus: string | undefined;
    const exited = new Promise<void>((resolve) => {
      child.on('error', (err) => {
        exitStatus ??= `could not be run: ${err.message}`;
        resolve();
      });
      child.on('exit', (code, signal) => {
        exitStatus ??= signal ? `was killed by ${signal}` : `exited with code ${code}`;
        resolve();
      });
    });
    running.add(child);
    void exited.then(() => running.delete(child));
    if (!exitHook) {
      exitHook = true;
      process.once('exit', () => running.forEach((c) => c.kill('SIGKILL')));
    }
    const instance = new Rsyslog(dir, child, exited, () => output, ports, certPem);

    const fail = async (problem: string, cause?: 'port') => {
      await instance.kill();
      const message =
        `rsyslogd ${problem} (config ${conf}, its directory kept; ${INSTALL_HINT}).\n` +
        `rsyslogd's output:\n${output.trim() || '(none)'}\n` +
        `its own log:\n${instance.internalLog().trim() || '(empty)'}`;
      return cause === 'port' ? new PortTaken(message) : new StartError(message);
    };
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (exitStatus !== undefined) throw await fail(exitStatus);
      // rsyslogd reports what it could not do (a listener it could not bind, a module it could
      // not load, a config error) and goes on without it. Its "start" line comes after every
      // input was activated: before it, its log and output are empty unless something is wrong.
      const log = instance.internalLog();
      if (/could not create (tcp|udp) listener|Address already in use/i.test(output + log))
        throw await fail('could not listen on a port chosen for it', 'port');
      const started = /^.*\] start$/m.exec(log);
      if (started) {
        if (output.trim() !== '' || log.slice(0, started.index).trim() !== '')
          throw await fail('reported problems at start-up');
        if ((await accepts(ports.tcp)) && (await accepts(ports.tls, certPem))) {
          if (output.trim() !== '') throw await fail('reported problems at start-up');
          return instance;
        }
      }
      if (Date.now() > deadline) throw await fail(`did not listen within ${READY_TIMEOUT_MS / 1000}s`);
      await sleep(50);
    }
  }

  /** The plain TCP listener (octet counting per RFC 6587, or LF framing). */
  get tcpPort(): number {
    return this.ports.tcp;
  }

  get udpPort(): number {
    return this.ports.udp;
  }

  /** The TLS listener (RFC 5425: octet counting over TLS); only when started with `tls`. */
  get tlsPort(): number {
    if (this.ports.tls === undefined) throw new Error('This rsyslogd was started without tls.');
    return this.ports.tls;
  }

  /**
   * The PEM of the server's self-signed certificate (CN and subjectAltName `localhost`, IP
   * 127.0.0.1), to pass as `ca` to a TLS client; only when started with `tls`.
   */
  get caPem(): string {
    if (this.certPem === undefined) throw new Error('This rsyslogd was started without tls.');
    return this.certPem;
  }

  /** The file of received messages, one JSON object per line. */
  get file(): string {
    return join(this.dir, 'messages.jsonl');
  }

  /** The messages received so far, in the order rsyslog wrote them. */
  async messages(): Promise<RsyslogMessage[]> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    // A line still being written has no newline yet.
    const lines = text.split('\n').slice(0, -1);
    return lines.map((line) => {
      const j = JSON.parse(line) as Record<string, string>;
      return {
        input: j.input as RsyslogMessage['input'],
        pri: Number(j.pri),
        version: j.version!,
        timestamp: j.timestamp!,
        hostname: j.hostname!,
        appName: j.appName!,
        procId: j.procId!,
        msgId: j.msgId!,
        structuredData: j.structuredData!,
        msg: j.msg!,
        raw: j.raw!,
      };
    });
  }

  /** Waits until at least `count` messages were received; returns all received. */
  async waitFor(count: number, timeoutMs = 10_000): Promise<RsyslogMessage[]> {
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    void this.exited.then(() => (exited = true));
    for (;;) {
      const messages = await this.messages();
      if (messages.length >= count) return messages;
      if (exited || Date.now() > deadline) {
        throw new Error(
          `rsyslogd ${exited ? 'exited' : `received ${messages.length} messages in ${timeoutMs} ms`} ` +
            `before ${count} came (file ${this.file}).\nIts output:\n${this.stderr().trim() || '(none)'}\n` +
            `Its own log:\n${this.internalLog().trim() || '(empty)'}`,
        );
      }
      await sleep(50);
    }
  }

  /** Stops rsyslogd (SIGTERM, then SIGKILL after 5 s) and removes its directory. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null || this.child.pid === undefined) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await this.exited;
    clearTimeout(timer);
  }

  /**
   * rsyslogd's own messages (start, stop, problems such as a truncated oversize message or a
   * failed TLS handshake), which its config writes to a file of their own.
   */
  internalLog(): string {
    try {
      return readFileSync(join(this.dir, 'rsyslogd.log'), 'utf8');
    } catch {
      return '';
    }
  }
}

/** rsyslogd ran and failed. */
class StartError extends Error {}
/** rsyslogd could not bind a port chosen for it: another process took it meanwhile. */
class PortTaken extends StartError {}

/**
 * The config. What rsyslog does to a message with it (rsyslog 8.2302, Debian 12):
 * - MSG is kept byte for byte: the one SP after STRUCTURED-DATA is the separator and is dropped,
 *   further leading spaces stay; a UTF-8 BOM at its start stays (as U+FEFF at the start of `msg`);
 *   control characters stay (escaping them, #011 for a tab, is turned off); a trailing LF stays
 *   (dropping it is turned off; LF framing over TCP still ends a message at an LF).
 * - maxMessageSize is 64k (rsyslog's default, 8k, cuts a longer UDP datagram or TCP frame to 8096
 *   bytes). Over TCP, a frame longer than 64k is cut to 65536 bytes and its rest arrives as a message
 *   of its own (rsyslogd's log says "oversize message"); an octet count above 200000 (imtcp's
 *   maxFrameSize) is a framing error after which the connection's messages are garbled. A UDP
 *   datagram holds at most 65507 bytes, so none is cut.
 * - The JSON is rsyslog's (jsonf): `"`, `\`, `/` and control characters escaped, other UTF-8 as is.
 * - Inputs run in a ruleset of their own, so rsyslogd's own messages (processed, not sent to the
 *   system's /dev/log) go to rsyslogd.log, not to the messages file.
 */
function rsyslogConfig(dir: string, ports: Ports): string {
  const tlsFiles = `streamDriver.CAFile="${dir}/cert.pem" streamDriver.CertFile="${dir}/cert.pem" streamDriver.KeyFile="${dir}/key.pem"`;
  return `# Written by test/support/rsyslog.ts for one test; run as rsyslogd -n -f <this file> -i <pid file>.
global(
  workDirectory="${dir}"
  maxMessageSize="64k"
  parser.escapeControlCharactersOnReceive="off"
  parser.dropTrailingLFOnReception="off"
  processInternalMessages="on"
  net.enableDNS="off"
)

module(load="imtcp")
module(load="imudp")

template(name="received" type="list" option.jsonf="on") {
  property(outname="input" name="inputname" format="jsonf")
  property(outname="pri" name="pri" format="jsonf")
  property(outname="version" name="protocol-version" format="jsonf")
  property(outname="timestamp" name="timereported" dateFormat="rfc3339" format="jsonf")
  property(outname="hostname" name="hostname" format="jsonf")
  property(outname="appName" name="app-name" format="jsonf")
  property(outname="procId" name="procid" format="jsonf")
  property(outname="msgId" name="msgid" format="jsonf")
  property(outname="structuredData" name="structured-data" format="jsonf")
  property(outname="msg" name="msg" format="jsonf")
  property(outname="raw" name="rawmsg" format="jsonf")
}

ruleset(name="received") {
  action(type="omfile" file="${dir}/messages.jsonl" template="received" flushOnTXEnd="on" asyncWriting="off")
}

# rsyslogd's own messages.
action(type="omfile" file="${dir}/rsyslogd.log" flushOnTXEnd="on" asyncWriting="off")

input(type="imtcp" address="127.0.0.1" port="${ports.tcp}" name="tcp" ruleset="received")
input(type="imudp" address="127.0.0.1" port="${ports.udp}" name="udp" ruleset="received")
${
  ports.tls === undefined
    ? ''
    : `input(type="imtcp" address="127.0.0.1" port="${ports.tls}" name="tls" ruleset="received"
  streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon"
  ${tlsFiles})
`
}`;
}

/** rsyslogd's path: /usr/sbin is not on every user's PATH. */
function findRsyslogd(): string {
  const dirs = [...new Set([...(process.env.PATH ?? '').split(delimiter).filter(Boolean), '/usr/sbin', '/sbin'])];
  for (const d of dirs) {
    try {
      accessSync(join(d, 'rsyslogd'), constants.X_OK);
      return join(d, 'rsyslogd');
    } catch {
      // next
    }
  }
  throw new Error(`rsyslogd is not installed (not on PATH, nor in /usr/sbin or /sbin); ${INSTALL_HINT}.`);
}

/** A self-signed certificate (its own CA) for localhost and 127.0.0.1; returns its PEM. */
async function selfSignedCertificate(dir: string): Promise<string> {
  try {
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ]);
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    throw new Error(
      e.code === 'ENOENT'
        ? 'The openssl command is needed to make the TLS listener’s certificate and is not installed (apt-get install openssl).'
        : `openssl could not make a certificate: ${e.stderr ?? e.message}`,
    );
  }
  return readFileSync(join(dir, 'cert.pem'), 'utf8');
}

async function freeTcpPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve, reject) => socket.once('error', reject).bind(0, '127.0.0.1', resolve));
  const port = socket.address().port;
  await new Promise<void>((resolve) => socket.close(resolve));
  return port;
}

/**
 * Whether a TCP port on 127.0.0.1 accepts a connection (true for no port); with `ca`, whether a TLS
 * handshake that checks the server against it succeeds (a bare connection there would make
 * rsyslogd log a failed handshake).
 */
function accepts(port: number | undefined, ca?: string): Promise<boolean> {
  if (port === undefined) return Promise.resolve(true);
  return new Promise((resolve) => {
    const socket = ca === undefined ? connect(port, '127.0.0.1') : tlsConnect({ port, host: '127.0.0.1', ca });
    socket.setTimeout(1000);
    socket.once(ca === undefined ? 'connect' : 'secureConnect', () => {
      socket.end();
      socket.once('close', () => resolve(true));
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
