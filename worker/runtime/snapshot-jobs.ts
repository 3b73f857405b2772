/**
 * The asynchronous half of a barrier: writing the task's snapshot while it goes on handling
 * requests. Snapshots are incremental (state/snapshot-chain.ts): a barrier writes a **delta**
 * of what its flush changed and of how the output buffer changed (outputs sealed since, as puts;
 * outputs published since, as deletes), on top of the chain the previous barrier wrote, so its
 * cost follows the rate of change, not the size of the state. A barrier that changed nothing writes an
 * empty delta (a header and a footer), which takes the place of the previous barrier's empty
 * delta if that one ended the chain: every checkpoint ends in a file of its own, so damage to the
 * newest file breaks the newest checkpoint only, and an idle chain does not grow. A **base** (the whole store, streamed
 * from the LevelDB view the barrier opened) is written only when there is no chain to build on:
 * a fresh task, or after a snapshot failed (a delta is only as good as the link below it).
 *
 * **Compaction** keeps the chain short: once the deltas add up to `deltaRatio` times the base, or
 * number `maxDeltas`, a barrier also starts writing a new base from its view in the background
 * (beside its delta, which its checkpoint waits for alone). A later barrier adopts the finished
 * base: it moves the file into its own checkpoint's directory (so the store, which deletes
 * files no retained manifest names only below the oldest retained checkpoint, cannot have
 * deleted it by the time a manifest names it; a base the store already took is simply not
 * adopted) and drops the links it replaces from the chain.
 *
 * Several snapshots may be in flight (one per barrier). Each ends in a SnapshotResult and never
 * rejects: a failed snapshot only declines its checkpoint, and the next barrier writes a base.
 * Closing the task aborts those in flight (`snapshot-failed`, reason {@link TASK_CLOSED}) and
 * waits for them to let go of the store.
 */
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ensureError } from '../../common/errors.ts';
import { chainSize, type CompactionPolicy, type SnapshotLink, type SnapshotTarget } from '../../state/snapshot-chain.ts';
import { DELTA_DELETE, DELTA_PUT, writeSnapshot, type SnapshotHeader } from '../../state/snapshot-format.ts';
import type { DbView, RawEntry, StoreChange } from '../../state/task-store.ts';
import type { SnapshotResult } from '../thread-protocol.ts';

export type { CompactionPolicy, SnapshotTarget } from '../../state/snapshot-chain.ts';

/** The reason of a snapshot cut short because its task closed. */
export const TASK_CLOSED = 'task closed';

export const defaultCompaction: CompactionPolicy = { maxDeltas: 100, deltaRatio: 1 };

/** Below this many bytes of deltas only `maxDeltas` starts a compaction: rewriting a small base often gains nothing. */
const COMPACTION_FLOOR_BYTES = 1 << 20;

/** Entries handed to the writer at a time. */
const WRITE_BATCH = 1_000;

/** What one barrier hands over. */
export type BarrierSnapshot = {
  checkpointId: number;
  target: SnapshotTarget;
  /** What the barrier's flush wrote to the store. */
  changes: readonly StoreChange[];
  /** The output buffer as sealed at the barrier, in key order (keys not among `changes`). */
  sealed: readonly RawEntry[];
  /** Opens a view of the store as of now; called at once, before anything else writes, or not at all. */
  openView: () => DbView;
};

/** A chain, and whether its last link is an empty delta of a barrier that changed nothing (the next such one replaces it). */
type Chain = { links: SnapshotLink[]; idleTail: boolean };

type Written = Chain & { link: SnapshotLink };

export class SnapshotJobs {
  private readonly running = new Set<{ controller: AbortController; done: Promise<unknown> }>();
  /** The chain as the newest barrier's snapshot will leave it; undefined once that snapshot failed. */
  private tip: Promise<Chain | undefined>;
  /** The newest chain written: what compaction weighs. */
  private settled: SnapshotLink[];
  private needsBase: boolean;
  /** The output buffer as the previous barrier sealed it (or as restored): a delta writes the difference. */
  private lastSealed: readonly RawEntry[];
  /** A background base: running, or written and waiting to be adopted. */
  private compaction: { checkpointId: number; staged?: SnapshotLink } | undefined;

  /**
   * @param restored the chain the store was rebuilt from ([] for a fresh task), and the
   *   buffered outputs it held (in key order)
   * @param nowMs a monotonic clock in ms, for `durationMs`
   */
  constructor(
    private readonly task: number,
    restored: { chain: readonly SnapshotLink[]; sealed: readonly RawEntry[] } = { chain: [], sealed: [] },
    private readonly policy: CompactionPolicy = defaultCompaction,
    private readonly nowMs: () => number = () => performance.now(),
  ) {
    this.settled = [...restored.chain];
    this.tip = Promise.resolve({ links: this.settled, idleTail: false });
    this.needsBase = restored.chain.length === 0;
    this.lastSealed = restored.sealed;
  }

  /** Snapshots (and compactions) in flight. */
  get size(): number {
    return this.running.size;
  }

  /** Starts barrier `checkpointId`'s snapshot: a base, a delta on the previous one, or none (nothing changed). */
  take(barrier: BarrierSnapshot): Promise<SnapshotResult> {
    const { checkpointId, target, changes, sealed } = barrier;
    const header = { task: this.task, checkpointId };
    let work: (signal: AbortSignal) => Promise<Written>;
    if (this.needsBase) {
      this.needsBase = false;
      const view = barrier.openView();
      work = async (signal) => {
        const link = await this.writeBase(view, sealed, header, target, signal);
        return { links: [link], idleTail: false, link };
      };
    } else {
      const parent = this.tip;
      const buffer = bufferChanges(this.lastSealed, sealed);
      const unchanged = changes.length === 0 && buffer.length === 0;
      if (this.compactionDue()) this.compact(barrier.openView(), sealed, checkpointId, target, parent, unchanged);
      work = async (signal) => {
        const chain = await parent;
        if (chain === undefined) throw new Error(`the snapshot before checkpoint ${checkpointId} failed, so this delta has nothing to apply on (the next barrier writes a base)`);
        let based = await this.adoptCompaction(chain.links, target);
        // An empty delta on an empty delta: the newer one takes its place (both say "no change").
        if (unchanged && chain.idleTail && based.length > 1 && based.at(-1) === chain.links.at(-1)) based = based.slice(0, -1);
        const link = await this.writeDelta(changes, buffer, { ...header, kind: 'delta', parent: based.at(-1)!.checkpointId }, target, signal);
        return { links: [...based, link], idleTail: unchanged, link };
      };
    }
    this.lastSealed = sealed;
    const done = this.run(checkpointId, work);
    this.tip = done.then((result) => result.chain);
    return done.then((result) => result.snapshot);
  }

  /** Aborts every snapshot and compaction in flight and waits until they have ended. */
  async abortAll(): Promise<void> {
    const jobs = [...this.running];
    for (const { controller } of jobs) controller.abort();
    await Promise.all(jobs.map(({ done }) => done));
  }

  private run(checkpointId: number, work: (signal: AbortSignal) => Promise<Written>): Promise<{ snapshot: SnapshotResult; chain: Chain | undefined }> {
    const startedMs = this.nowMs();
    return this.track(async (signal) => {
      try {
        const { links, idleTail, link } = await work(signal);
        this.settled = links;
        const snapshot = { type: 'snapshot-written', checkpointId, bytes: link.bytes, records: link.records, durationMs: this.nowMs() - startedMs, chain: links } as const;
        return { snapshot, chain: { links, idleTail } };
      } catch (thrown) {
        this.needsBase = true;
        return { snapshot: { type: 'snapshot-failed', checkpointId, reason: signal.aborted ? TASK_CLOSED : ensureError(thrown).message } as const, chain: undefined };
      }
    });
  }

  private track<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    const done = work(controller.signal);
    const job = { controller, done };
    this.running.add(job);
    void done.then(() => this.running.delete(job), () => this.running.delete(job));
    return done;
  }

  private async writeBase(view: DbView, sealed: readonly RawEntry[], header: SnapshotHeader, target: SnapshotTarget, signal: AbortSignal): Promise<SnapshotLink> {
    try {
      const written = await writeSnapshot(join(target.root, target.ref), header, abortable(mergeSorted(view.batches(), sealed), signal));
      return { ref: target.ref, checkpointId: header.checkpointId, kind: 'base', ...written };
    } finally {
      await view.close();
    }
  }

  private async writeDelta(changes: readonly StoreChange[], buffer: readonly RawEntry[], header: SnapshotHeader, target: SnapshotTarget, signal: AbortSignal): Promise<SnapshotLink> {
    const entries = deltaEntries(changes, buffer);
    const written = await writeSnapshot(join(target.root, target.ref), header, abortable(chunks(entries), signal));
    return { ref: target.ref, checkpointId: header.checkpointId, kind: 'delta', ...written };
  }

  private compactionDue(): boolean {
    if (this.compaction !== undefined || this.settled.length < 2) return false;
    const { baseBytes, deltaBytes, deltas } = chainSize(this.settled);
    return deltas >= this.policy.maxDeltas || (deltaBytes >= COMPACTION_FLOOR_BYTES && deltaBytes >= this.policy.deltaRatio * baseBytes);
  }

  /**
   * Writes a base of the view in the background, staged in this checkpoint's directory until a
   * later barrier adopts it. The base is labelled with the newest link whose state it equals:
   * this barrier's own delta, or, when the barrier changed nothing, the last link before it that
   * is not an empty delta (empty deltas are replaced by the next empty one, so a base labelled
   * with one could find no link to take the place of; the links after it name their parents).
   */
  private compact(view: DbView, sealed: readonly RawEntry[], checkpointId: number, target: SnapshotTarget, parent: Promise<Chain | undefined>, unchanged: boolean): void {
    const compaction: { checkpointId: number; staged?: SnapshotLink } = { checkpointId };
    this.compaction = compaction;
    const staged = { root: target.root, ref: target.ref.replace(/\.snap$/, '') + '.base.snap' };
    void this.track(async (signal) => {
      try {
        const chain = await parent;
        if (chain === undefined) throw new Error('the snapshot before it failed');
        const label = unchanged ? chain.links.at(chain.idleTail ? -2 : -1)!.checkpointId : checkpointId;
        compaction.staged = await this.writeBase(view, sealed, { task: this.task, checkpointId: label }, staged, signal);
      } catch {
        await view.close().catch(() => undefined); // closed already unless the parent failed
        if (this.compaction === compaction) this.compaction = undefined; // tried again at a later barrier
      }
    });
  }

  /**
   * `chain` with a finished compaction's base in place of the links it covers, once the base is
   * moved into `target`'s directory; `chain` as it is when there is none, or it no longer fits
   * (a base written since), or the store already deleted it.
   */
  private async adoptCompaction(chain: SnapshotLink[], target: SnapshotTarget): Promise<SnapshotLink[]> {
    const staged = this.compaction?.staged;
    if (staged === undefined) return chain;
    this.compaction = undefined;
    const from = join(target.root, staged.ref);
    // The link the base replaces (with all before it); absent when a base was written since.
    const at = chain.findIndex((link) => link.checkpointId === staged.checkpointId);
    if (at < 1) {
      await rm(from, { force: true });
      return chain;
    }
    const ref = target.ref.replace(/\.snap$/, '') + `.base-${staged.checkpointId}.snap`;
    try {
      await mkdir(dirname(join(target.root, ref)), { recursive: true });
      await rename(from, join(target.root, ref));
    } catch {
      return chain; // garbage-collected before it was needed: the chain stays as it was
    }
    return [{ ...staged, ref }, ...chain.slice(at + 1)];
  }
}

/**
 * A delta's records in key order: each store change, and the buffer's (already with op bytes,
 * from {@link bufferChanges}), all with their op byte.
 */
export function deltaEntries(changes: readonly StoreChange[], buffer: readonly RawEntry[]): RawEntry[] {
  const byKey = new Map<string, string | null>();
  for (const { key, value } of changes) byKey.set(key, value); // a later change of a key wins, as in the batch
  const entries: RawEntry[] = [];
  for (const [key, value] of byKey) entries.push([Buffer.from(key, 'utf8'), value === null ? DELETE : opened(DELTA_PUT, Buffer.from(value, 'utf8'))]);
  entries.push(...buffer);
  return entries.sort(([a], [b]) => Buffer.compare(a, b));
}

const DELETE = Uint8Array.of(DELTA_DELETE);

/**
 * How the sealed output buffer changed between two barriers, as delta records: a put for each
 * entry sealed since, a delete for each published since. Both lists are in key order (epoch,
 * then emission order), so one merge walk finds them; a delta costs the outputs of its epoch
 * and the keys of those published, not the whole buffer (which grows while publishing is held up,
 * e.g. while Kafka is away).
 */
export function bufferChanges(before: readonly RawEntry[], after: readonly RawEntry[]): RawEntry[] {
  const out: RawEntry[] = [];
  let i = 0;
  let j = 0;
  while (i < before.length || j < after.length) {
    const order = i >= before.length ? 1 : j >= after.length ? -1 : Buffer.compare(before[i]![0], after[j]![0]);
    if (order < 0) out.push([before[i++]![0], DELETE]);
    else if (order > 0) {
      const [key, value] = after[j++]!;
      out.push([key, opened(DELTA_PUT, value)]);
    } else {
      i += 1;
      j += 1;
    }
  }
  return out;
}

function opened(op: number, value: Uint8Array): Uint8Array {
  const bytes = Buffer.allocUnsafe(value.length + 1);
  bytes[0] = op;
  bytes.set(value, 1);
  return bytes;
}

function* chunks(entries: readonly RawEntry[]): Generator<RawEntry[]> {
  for (let at = 0; at < entries.length; at += WRITE_BATCH) yield entries.slice(at, at + WRITE_BATCH);
}

async function* abortable<T>(batches: AsyncIterable<T> | Iterable<T>, signal: AbortSignal): AsyncGenerator<T> {
  signal.throwIfAborted();
  for await (const batch of batches) {
    signal.throwIfAborted();
    yield batch;
  }
  signal.throwIfAborted();
}

/** Batches of `batches` (ascending keys) with `extra` (ascending keys, none shared) merged in. */
export async function* mergeSorted(batches: AsyncIterable<readonly RawEntry[]>, extra: readonly RawEntry[]): AsyncGenerator<RawEntry[]> {
  let next = 0;
  for await (const batch of batches) {
    const merged: RawEntry[] = [];
    for (const entry of batch) {
      while (next < extra.length && Buffer.compare(extra[next]![0], entry[0]) < 0) merged.push(extra[next++]!);
      merged.push(entry);
    }
    yield merged;
  }
  if (next < extra.length) yield extra.slice(next);
}
