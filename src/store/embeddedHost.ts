/**
 * The embedded ClickHouse (chDB) in a process of its own, driven over IPC by EmbeddedStore.
 *
 * Why a process: chDB is ClickHouse's local mode, which takes a standard input that is a pipe
 * or a file as the data of any INSERT. In authwatch's own process that would be the events
 * `authwatch run` reads from stdin: every insert failed, and chDB swallowed the input. This
 * process's standard input is /dev/null. It also keeps chDB's memory and threads apart from
 * the engine's.
 *
 * Protocol: the parent sends `{ id, op, sql?, format?, table?, text? }`; this process answers
 * `{ id, ok: true, text? }` or `{ id, ok: false, message }`. The first message it sends is
 * `{ ready: true }` or `{ ready: false, message }` (the folder could not be opened).
 */
import { Session } from 'chdb';

interface Request {
  id: number;
  op: 'query' | 'insert' | 'close';
  sql?: string;
  format?: string;
  table?: string;
  text?: string;
}

const send = (message: unknown) => process.send!(message);
const path = process.argv[2]!;
let session: Session;
try {
  session = new Session(path, { installSignalHandlers: false });
  send({ ready: true });
} catch (err) {
  send({ ready: false, message: (err as Error).message.split('\n')[0] });
  process.exit(0);
}

// The parent going away (crashed, killed) ends this process too.
process.on('disconnect', () => {
  session.close();
  process.exit(0);
});

process.on('message', (m: Request) => {
  void handle(m).then(
    (text) => send({ id: m.id, ok: true, text }),
    (err: unknown) => send({ id: m.id, ok: false, message: (err as Error).message }),
  );
});

async function handle(m: Request): Promise<string | undefined> {
  switch (m.op) {
    case 'query':
      return (await session.queryAsync(m.sql!, { format: m.format ?? 'TabSeparated' })).text();
    case 'insert':
      await session.insert({ table: m.table!, values: m.text!, format: 'JSONEachRow' });
      return undefined;
    case 'close':
      session.close();
      setImmediate(() => process.exit(0));
      return undefined;
  }
}
