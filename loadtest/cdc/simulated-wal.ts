/**
 * The simulated PostgreSQL write-ahead log and clock: transaction ids, LSNs and time, all moving
 * forward only, and all derived from the generator's options and seed (never from the machine's
 * clock), so that one seed always yields the same bytes.
 */
import type { SourcePosition } from './envelope.ts';
import type { SeededRandom } from './random.ts';

/** Where the simulated WAL starts: an LSN and a transaction id of a young database. */
const FIRST_LSN = 24_023_128;
const FIRST_TX_ID = 767;

/** Clock, transaction ids and LSNs of the simulated source. */
export class SimulatedWal {
  private clockUs: number;
  private txId = FIRST_TX_ID;
  private lsn = FIRST_LSN;
  /** Streaming starts right after the snapshot, whose position counts as the last commit. */
  private lastCommitLsn = FIRST_LSN;
  private commitUs = 0;

  /**
   * @param startUs simulated time of the first event, µs since the epoch
   * @param eventIntervalUs how far the clock moves per emitted change, µs (≥ 1)
   */
  constructor(
    startUs: number,
    private readonly eventIntervalUs: number,
    private readonly random: SeededRandom,
  ) {
    this.clockUs = startUs;
  }

  /** The current simulated time, µs. */
  get nowUs(): number {
    return this.clockUs;
  }

  /** Moves the clock by one event interval and returns the new time: a change's processing time. */
  tick(): number {
    this.clockUs += this.eventIntervalUs;
    return this.clockUs;
  }

  /** Position of a snapshot read: the snapshot's transaction and LSN, no commit LSN yet. */
  snapshotPosition(snapshot: SourcePosition['snapshot'], snapshotUs: number): SourcePosition {
    return { commitUs: snapshotUs, snapshot, txId: this.txId, lsn: this.lsn, lastCommitLsn: null };
  }

  /** Starts a transaction that commits at the current time; returns its commit time, µs. */
  begin(): number {
    this.txId += this.random.int(1, 3);
    this.commitUs = this.clockUs;
    return this.commitUs;
  }

  /** Writes one change of the current transaction to the log and returns its position. */
  append(): SourcePosition {
    this.lsn += this.random.int(48, 400);
    return { commitUs: this.commitUs, snapshot: 'false', txId: this.txId, lsn: this.lsn, lastCommitLsn: this.lastCommitLsn };
  }

  /** Writes the current transaction's commit record. */
  commit(): void {
    this.lsn += 56;
    this.lastCommitLsn = this.lsn;
  }
}
