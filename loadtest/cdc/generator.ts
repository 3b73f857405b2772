/**
 * A deterministic stream of Debezium change events for the demo e-commerce database: first the
 * initial snapshot (op `r` for every user and product), then an endless mix of transactions
 * (see shop-actions.ts). Each delete is followed by its tombstone, as Debezium does with the
 * default `tombstones.on.delete=true`.
 *
 * The generator is pure: its output depends only on its options. The same seed gives the same
 * events byte for byte; time comes from `startTimeMs` and `eventIntervalMs`, never from the
 * machine's clock. It is what both the Kafka producer and the unit tests consume.
 */
import { IllegalStateError } from '../../common/errors.ts';
import type { SnapshotMarker } from './connect-schema.ts';
import { encodeKey, encodeValue, type ChangeOp, type EnvelopeOptions, type RowChange, type SourcePosition } from './envelope.ts';
import { backdate, fakeProduct, fakeUser } from './fake-rows.ts';
import { DEFAULT_TOPIC_PREFIX, TABLE_NAMES, TOPIC_PREFIX_RULE, isValidTopicPrefix, topicOf, type Row, type TableName } from './model.ts';
import { SeededRandom, assertValidSeed } from './random.ts';
import { FALLBACK_ACTIONS, SHOP_ACTIONS, type ActionContext } from './shop-actions.ts';
import { ShopState } from './shop-state.ts';
import { SimulatedWal } from './simulated-wal.ts';

/** Default simulated start time: 2025-01-01T00:00:00Z. */
export const DEFAULT_START_TIME_MS = Date.UTC(2025, 0, 1);

/** One Kafka record to produce. */
export type CdcEvent = {
  /** `<topicPrefix>.public.<table>`, e.g. `ecommerce.public.orders`. */
  topic: string;
  /** The primary key as Debezium's key JSON. */
  key: Buffer;
  /** The change envelope; null for a tombstone. */
  value: Buffer | null;
  /** Kafka record timestamp: when the simulated connector processed the change, ms. */
  timestampMs: number;
  table: TableName;
  /** The envelope's op; null for a tombstone. */
  op: ChangeOp | null;
};

/** Options of {@link generateCdcEvents}. */
export type CdcGeneratorOptions = {
  /** Integer in [0, 2^32). */
  seed: number;
  /** Wrap keys and values with their Connect schema (JsonConverter `schemas.enable`). Default true. */
  schemas?: boolean;
  /** Users in the initial snapshot. Default 100. */
  initialUsers?: number;
  /** Products in the initial snapshot. Default 50. */
  initialProducts?: number;
  /** Simulated time of the snapshot, ms since the epoch. Default {@link DEFAULT_START_TIME_MS}. */
  startTimeMs?: number;
  /** Simulated time between two consecutive changes, ms (fractions allowed, ≥ 0.001). Default 1. */
  eventIntervalMs?: number;
  /** Carry whole previous rows in `before` (REPLICA IDENTITY FULL). Default false: key only. */
  replicaIdentityFull?: boolean;
  /**
   * Debezium's `topic.prefix` (the logical server name): topics are `<topicPrefix>.public.<table>`,
   * it is `source.name`, and it prefixes the Connect schema names. Default `ecommerce`.
   */
  topicPrefix?: string;
};

type Emitter = { wal: SimulatedWal; envelope: EnvelopeOptions };

/**
 * Generates change events forever; take as many as needed.
 *
 * @throws RangeError on an invalid option (before the first event is produced)
 */
export function generateCdcEvents(options: CdcGeneratorOptions): Generator<CdcEvent, never> {
  const config = resolveOptions(options);
  return run(config);
}

function* run(config: Required<CdcGeneratorOptions>): Generator<CdcEvent, never> {
  const random = new SeededRandom(config.seed);
  const state = new ShopState();
  const intervalUs = Math.round(config.eventIntervalMs * 1000);
  const wal = new SimulatedWal(config.startTimeMs * 1000, intervalUs, random);
  const envelope: EnvelopeOptions = { schemas: config.schemas, replicaIdentityFull: config.replicaIdentityFull, topicPrefix: config.topicPrefix };
  const emitter: Emitter = { wal, envelope };

  yield* snapshotEvents(emitter, createInitialRows(config, state, random, wal.nowUs));
  for (;;) yield* transactionEvents(emitter, state, random);
}

function resolveOptions(options: CdcGeneratorOptions): Required<CdcGeneratorOptions> {
  const config: Required<CdcGeneratorOptions> = {
    seed: options.seed,
    schemas: options.schemas ?? true,
    initialUsers: options.initialUsers ?? 100,
    initialProducts: options.initialProducts ?? 50,
    startTimeMs: options.startTimeMs ?? DEFAULT_START_TIME_MS,
    eventIntervalMs: options.eventIntervalMs ?? 1,
    replicaIdentityFull: options.replicaIdentityFull ?? false,
    topicPrefix: options.topicPrefix ?? DEFAULT_TOPIC_PREFIX,
  };
  for (const name of ['initialUsers', 'initialProducts', 'startTimeMs'] as const) {
    const value = config[name];
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
  }
  if (!Number.isFinite(config.eventIntervalMs) || config.eventIntervalMs < 0.001) {
    throw new RangeError(`eventIntervalMs must be at least 0.001, got ${config.eventIntervalMs}`);
  }
  if (!isValidTopicPrefix(config.topicPrefix)) {
    throw new RangeError(`topicPrefix must be ${TOPIC_PREFIX_RULE}, got '${config.topicPrefix}'`);
  }
  assertValidSeed(config.seed);
  return config;
}

/** Creates the rows present before streaming starts, in id order, and loads them into `state`. */
function createInitialRows(config: Required<CdcGeneratorOptions>, state: ShopState, random: SeededRandom, nowUs: number): Record<TableName, Row[]> {
  const rows: Record<TableName, Row[]> = { users: [], products: [], orders: [], order_items: [] };
  for (let i = 0; i < config.initialUsers; i += 1) {
    const user = backdate(random, fakeUser(random, state.allocateId('users'), nowUs), nowUs);
    state.putUser(user);
    rows.users.push(user);
  }
  for (let i = 0; i < config.initialProducts; i += 1) {
    const product = backdate(random, fakeProduct(random, state.allocateId('products'), nowUs), nowUs);
    state.putProduct(product);
    rows.products.push(product);
  }
  return rows;
}

/** Emits the snapshot reads table by table, with Debezium's snapshot markers. */
function* snapshotEvents(emitter: Emitter, rows: Record<TableName, Row[]>): Generator<CdcEvent> {
  const snapshotUs = emitter.wal.nowUs;
  const reads = TABLE_NAMES.flatMap((table, t) =>
    rows[table].map((row, i, all) => ({
      change: { table, op: 'r', before: null, after: row } satisfies RowChange,
      marker: snapshotMarker(t === 0, t === TABLE_NAMES.length - 1, i === 0, i === all.length - 1),
    })));
  for (const [index, read] of reads.entries()) {
    // Debezium holds back the snapshot's final record and marks it `last`, whichever table it is from.
    const marker = index === reads.length - 1 ? 'last' : read.marker;
    yield* emit(emitter, read.change, emitter.wal.snapshotPosition(marker, snapshotUs));
  }
}

/** Debezium's marker for a snapshot record (RelationalSnapshotChangeEventSource.setSnapshotMarker). */
function snapshotMarker(firstTable: boolean, lastTable: boolean, firstInTable: boolean, lastInTable: boolean): SnapshotMarker {
  if (lastInTable && lastTable) return 'last';
  if (firstInTable && firstTable) return 'first';
  if (lastInTable) return 'last_in_data_collection';
  if (firstInTable) return 'first_in_data_collection';
  return 'true';
}

/** Runs one drawn action as a transaction and emits its changes. */
function* transactionEvents(emitter: Emitter, state: ShopState, random: SeededRandom): Generator<CdcEvent> {
  const ctx: ActionContext = { state, random, nowUs: emitter.wal.begin() };
  const drawn = SHOP_ACTIONS[random.weighted(SHOP_ACTIONS.map((action) => action.weight))];
  let changes = drawn?.run(ctx) ?? null;
  for (const fallback of FALLBACK_ACTIONS) changes ??= fallback(ctx);
  if (changes === null) throw new IllegalStateError('no shop action applies to the simulated database');
  for (const change of changes) yield* emit(emitter, change, emitter.wal.append());
  emitter.wal.commit();
}

/** Encodes one change (plus its tombstone after a delete) and advances the simulated clock. */
function* emit(emitter: Emitter, change: RowChange, position: SourcePosition): Generator<CdcEvent> {
  const processedUs = emitter.wal.tick();
  const row = change.after ?? change.before;
  if (row === null) throw new IllegalStateError(`${change.op} change on ${change.table} without a row`);
  const topic = topicOf(emitter.envelope.topicPrefix, change.table);
  const key = encodeKey(change.table, row, emitter.envelope);
  const timestampMs = Math.floor(processedUs / 1000);
  const value = encodeValue(change, position, processedUs, emitter.envelope);
  yield { topic, key, value, timestampMs, table: change.table, op: change.op };
  if (change.op === 'd') yield { topic, key, value: null, timestampMs, table: change.table, op: null };
}
