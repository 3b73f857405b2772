/**
 * A task's LevelDB as raw bytes, for checkpoints: streaming every entry out (from the implicit
 * snapshot a classic-level iterator reads, so later writes do not leak in), bulk-loading a
 * snapshot into a fresh database, and wiping a task's directory before it is rebuilt.
 */
import { rm, stat } from 'node:fs/promises';
import { openLevel, TaskStoreLockedError, type Db } from './level-open.ts';
import { DELTA_DELETE, DELTA_PUT } from './snapshot-layout.ts';
import { PREFIX } from './store-keys.ts';

/** One entry, key and value as raw bytes. */
export type RawEntry = [Uint8Array, Uint8Array];

/** The database as it was when the view was opened. Close it when done (closing the database closes it too). */
export type DbView = {
  /** The entries in key order, in batches, eviction entries left out (they never outlive a barrier). */
  batches(): AsyncIterable<RawEntry[]>;
  close(): Promise<void>;
};

/** Entries fetched from LevelDB per call. */
const READ_BATCH = 1_000;

const EVICTED_BYTE = PREFIX.evicted.charCodeAt(0);

/** Opens an iterator now: what it reads is fixed at this moment. */
export function openView(db: Db): DbView {
  const iterator = db.iterator<Uint8Array, Uint8Array>({ keyEncoding: 'view', valueEncoding: 'view' });
  async function* batches(): AsyncGenerator<RawEntry[]> {
    for (let batch = await iterator.nextv(READ_BATCH); batch.length > 0; batch = await iterator.nextv(READ_BATCH)) {
      yield batch.filter(([key]) => !(key[0] === EVICTED_BYTE && key[1] === 0));
    }
  }
  return { batches, close: () => iterator.close() };
}

type Op = { type: 'put'; key: Uint8Array; value: Uint8Array } | { type: 'del'; key: Uint8Array };

/** Writes `ops` into `db` in batches of `batchRecords`; returns how many. */
async function writeInBatches(db: Db, ops: AsyncIterable<Op>, batchRecords: number): Promise<number> {
  let batch: Op[] = [];
  let written = 0;
  const write = async (): Promise<void> => {
    await db.batch<Uint8Array, Uint8Array>(batch, { keyEncoding: 'view', valueEncoding: 'view' });
    written += batch.length;
    batch = [];
  };
  for await (const op of ops) {
    batch.push(op);
    if (batch.length >= batchRecords) await write();
  }
  if (batch.length > 0) await write();
  return written;
}

/** Writes `entries` into `db` in batches of `batchRecords`. */
export function loadEntries(db: Db, entries: AsyncIterable<RawEntry>, batchRecords = 4_096): Promise<number> {
  async function* puts(): AsyncGenerator<Op> {
    for await (const [key, value] of entries) yield { type: 'put', key, value };
  }
  return writeInBatches(db, puts(), batchRecords);
}

/**
 * Applies a delta snapshot's entries (values opened by an op byte, see snapshot-layout.ts) to
 * `db`, puts and deletes in batches of `batchRecords`. Returns how many entries it applied.
 * @throws Error naming `source` on an unknown op byte
 */
export function applyDelta(db: Db, entries: AsyncIterable<RawEntry>, source: string, batchRecords = 4_096): Promise<number> {
  async function* ops(): AsyncGenerator<Op> {
    let at = 0;
    for await (const [key, value] of entries) {
      if (value[0] === DELTA_PUT) yield { type: 'put', key, value: value.subarray(1) };
      else if (value[0] === DELTA_DELETE && value.length === 1) yield { type: 'del', key };
      else throw new Error(`delta snapshot ${source}: entry ${at} has no valid op byte`);
      at += 1;
    }
  }
  return writeInBatches(db, ops(), batchRecords);
}

/**
 * Removes the database in `dir`. A previous owner may still be closing it, and must not go on
 * writing into the directory once it is rebuilt, so its lock is waited for first (a directory
 * that opens with another error, e.g. a damaged database, is removed all the same).
 * @throws TaskStoreLockedError when `dir` stays locked for `lockWaitMs`
 */
export async function wipeDir(dir: string, lockWaitMs: number): Promise<void> {
  if (await exists(dir)) {
    const db = await openLevel(dir, lockWaitMs).catch((thrown: unknown) => {
      if (thrown instanceof TaskStoreLockedError) throw thrown;
      return undefined; // damaged or not a database: nothing to wait for
    });
    await db?.close();
  }
  await rm(dir, { recursive: true, force: true });
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    (thrown: unknown) => {
      if ((thrown as { code?: unknown }).code === 'ENOENT') return false;
      throw thrown;
    },
  );
}
