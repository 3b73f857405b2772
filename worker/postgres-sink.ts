/**
 * The exactly-once PostgreSQL sink of one task and one database, without XA. Eddy keeps a row
 * per (job, task) in `eddy_sink.epochs`: the newest checkpoint whose rows are in the database,
 * the checkpoint store it belongs to, and the owner generation.
 *
 * - `fence` bumps the generation in its own committed transaction. A publish checks the
 *   generation under `SELECT ... FOR UPDATE` of the same row inside its transaction, so an
 *   earlier owner's publish either committed before the bump (and `lastPublished`, read after
 *   fencing, sees it) or finds the new generation and rolls back.
 * - `publish(n)` writes checkpoint n's rows (batched upserts, tombstones as deletes, or plain
 *   inserts) and sets the row to n in ONE transaction. A publish of n ≤ the row's checkpoint is
 *   a no-op, so a replay after any crash writes nothing twice; restore never starts below it, so
 *   nothing is skipped.
 * - Rows the database refuses for good (a constraint, a bad value: SQLSTATE classes 22 and 23,
 *   or a column the table lacks) are found one by one under savepoints and become dead letters
 *   with the database's reason. They are kept in `eddy_sink.rejects` in the same transaction, so
 *   the Kafka side publishes them exactly once even if the worker dies in between.
 * - Transient failures (connection lost or refused, serialization failure, deadlock, server
 *   shutting down) retry the whole transaction with exponential backoff, up to a bound; then
 *   the task fails and restarts from its last checkpoint elsewhere.
 */
import pg from 'pg';
import type { Logger } from '../common/logger.ts';
import type { PostgresSink } from '../job/contract/job.ts';
import type { PublishedMark } from '../job/contract/sink.ts';
import type { DeadLetter, OutputRecord } from './thread-protocol.ts';

/** Another owner fenced this one: never retried. */
export class PostgresFencedError extends Error {
  override readonly name = 'PostgresFencedError';
}

export interface PostgresSinkTarget {
  /** The sink's name in the job. */
  name: string;
  sink: PostgresSink;
}

export interface PostgresTaskSinkOptions {
  connection: string;
  job: string;
  task: number;
  sinks: readonly PostgresSinkTarget[];
  storeId: () => Promise<string>;
  logger: Logger;
  /** Attempts of one transaction on transient errors (default 8), backoff from `backoffMs` (default 100) doubling to 5 s. */
  attempts?: number;
  backoffMs?: number;
}

type Column = { name: string; type: string };
type TableInfo = { columns: Map<string, Column>; quoted: string };

/** Rows per statement. */
const chunkRows = 1_000;

export class PostgresTaskSink {
  private client: pg.Client | undefined;
  private generation = 0;
  private readonly tables = new Map<string, TableInfo>();
  readonly sinkNames: ReadonlySet<string>;

  constructor(private readonly options: PostgresTaskSinkOptions) {
    this.sinkNames = new Set(options.sinks.map((s) => s.name));
  }

  /** Creates Eddy's tables if needed, takes the next owner generation and reads the target tables' columns. */
  async fence(): Promise<void> {
    await this.withRetries('fence', async (client) => {
      await client.query('BEGIN');
      try {
        await this.takeGeneration(client);
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
      for (const { name, sink } of this.options.sinks) this.tables.set(name, await this.describe(client, name, sink));
    });
  }

  /** Inside an open transaction: Eddy's tables, and the next generation of this task, committed. */
  private async takeGeneration(client: pg.Client): Promise<void> {
    // One DDL at a time across tasks: CREATE ... IF NOT EXISTS races with itself otherwise.
    await client.query("SELECT pg_advisory_xact_lock(hashtext('eddy_sink.epochs'))");
    await client.query('CREATE SCHEMA IF NOT EXISTS eddy_sink');
    await client.query(
      'CREATE TABLE IF NOT EXISTS eddy_sink.epochs (job text NOT NULL, task integer NOT NULL, checkpoint_id bigint NOT NULL, store text, generation bigint NOT NULL, updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (job, task))',
    );
    await client.query(
      'CREATE TABLE IF NOT EXISTS eddy_sink.rejects (job text NOT NULL, task integer NOT NULL, checkpoint_id bigint NOT NULL, seq integer NOT NULL, dead_letter jsonb NOT NULL, PRIMARY KEY (job, task, checkpoint_id, seq))',
    );
    const { rows } = await client.query<{ generation: string }>(
      'INSERT INTO eddy_sink.epochs (job, task, checkpoint_id, generation) VALUES ($1, $2, 0, 1) ON CONFLICT (job, task) DO UPDATE SET generation = eddy_sink.epochs.generation + 1, updated_at = now() RETURNING generation',
      [this.options.job, this.options.task],
    );
    await client.query('COMMIT');
    this.generation = Number(rows[0]?.generation);
  }

  /** The newest checkpoint whose rows this task committed here, and its store. */
  async lastPublished(): Promise<PublishedMark | undefined> {
    return this.withRetries('lastPublished', async (client) => {
      const { rows } = await client.query<{ checkpoint_id: string; store: string | null }>('SELECT checkpoint_id, store FROM eddy_sink.epochs WHERE job = $1 AND task = $2', [this.options.job, this.options.task]);
      const checkpointId = Number(rows[0]?.checkpoint_id ?? 0);
      return checkpointId > 0 ? { checkpointId, store: rows[0]?.store ?? undefined } : undefined;
    });
  }

  /**
   * Writes `outputs` (this database's sinks only) and records checkpoint `checkpointId`, in one
   * transaction; returns the rows refused for good, as dead letters. Rejects kept for
   * checkpoints at or below `deadLettersPublishedThrough` (the Kafka side has them) are deleted.
   */
  async publish(checkpointId: number, outputs: readonly OutputRecord[], deadLettersPublishedThrough: number): Promise<DeadLetter[]> {
    const store = await this.options.storeId();
    return this.withRetries('publish', async (client) => {
      await client.query('BEGIN');
      try {
        const { rows } = await client.query<{ checkpoint_id: string; generation: string }>('SELECT checkpoint_id, generation FROM eddy_sink.epochs WHERE job = $1 AND task = $2 FOR UPDATE', [this.options.job, this.options.task]);
        const row = rows[0];
        if (row === undefined || Number(row.generation) !== this.generation) {
          throw new PostgresFencedError(`task ${this.options.task}: fenced in PostgreSQL by a newer owner (generation ${row?.generation ?? 'gone'}, this one ${this.generation}); not publishing checkpoint ${checkpointId}`);
        }
        if (Number(row.checkpoint_id) >= checkpointId) {
          await client.query('ROLLBACK');
          return [];
        }
        await client.query('DELETE FROM eddy_sink.rejects WHERE job = $1 AND task = $2 AND checkpoint_id <= $3', [this.options.job, this.options.task, deadLettersPublishedThrough]);
        const rejects: DeadLetter[] = [];
        for (const { name } of this.options.sinks) {
          rejects.push(...(await this.write(client, name, checkpointId, outputs.filter((o) => o.sink === name))));
        }
        for (const [seq, letter] of rejects.entries()) {
          await client.query('INSERT INTO eddy_sink.rejects (job, task, checkpoint_id, seq, dead_letter) VALUES ($1, $2, $3, $4, $5)', [this.options.job, this.options.task, checkpointId, seq, storedLetter(letter)]);
        }
        await client.query('UPDATE eddy_sink.epochs SET checkpoint_id = $3, store = $4, updated_at = now() WHERE job = $1 AND task = $2', [this.options.job, this.options.task, checkpointId, store]);
        await client.query('COMMIT');
        return rejects;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  /** Dead letters committed here for checkpoints in (after, through]: a Kafka side that fell behind publishes them. */
  async rejectsBetween(after: number, through: number): Promise<DeadLetter[]> {
    return this.withRetries('rejectsBetween', async (client) => {
      const { rows } = await client.query<{ dead_letter: StoredLetter }>(
        'SELECT dead_letter FROM eddy_sink.rejects WHERE job = $1 AND task = $2 AND checkpoint_id > $3 AND checkpoint_id <= $4 ORDER BY checkpoint_id, seq',
        [this.options.job, this.options.task, after, through],
      );
      return rows.map((r) => loadedLetter(r.dead_letter));
    });
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  /** One sink's outputs of a checkpoint, inside the open transaction. */
  private async write(client: pg.Client, name: string, checkpointId: number, outputs: readonly OutputRecord[]): Promise<DeadLetter[]> {
    if (outputs.length === 0) return [];
    const target = this.options.sinks.find((s) => s.name === name)?.sink as PostgresSink;
    const table = this.tables.get(name) as TableInfo;
    const rejects: DeadLetter[] = [];
    const reject = (output: OutputRecord, field: string, reason: string) => rejects.push(sinkDeadLetter(target, this.options.task, checkpointId, output, field, reason));
    // The last output per row, identified by its key columns' values (a statement may not touch
    // a row twice, and a later delete or upsert of a row replaces an earlier one); appends keep every row.
    const upserts = new Map<string, { output: OutputRecord; row: Record<string, unknown> }>();
    const deletes = new Map<string, { output: OutputRecord; row: Record<string, unknown> }>();
    const appends: { output: OutputRecord; row: Record<string, unknown> }[] = [];
    const identity = (row: Record<string, unknown>) => JSON.stringify(target.key.map((column) => String(row[column])));
    for (const output of outputs) {
      const parsed = parseRow(output, target, table);
      if ('field' in parsed) {
        reject(output, parsed.field, parsed.reason);
        continue;
      }
      if (target.mode === 'append') appends.push({ output, row: parsed.row });
      else if (parsed.tombstone) {
        upserts.delete(identity(parsed.row));
        deletes.set(identity(parsed.row), { output, row: parsed.row });
      } else {
        deletes.delete(identity(parsed.row));
        upserts.set(identity(parsed.row), { output, row: parsed.row });
      }
    }
    const key = target.key.map(quoteIdent).join(', ');
    const run = async (kind: 'upsert' | 'delete' | 'append', all: { output: OutputRecord; row: Record<string, unknown> }[]) => {
      for (const rows of byFields(all)) {
        for (let i = 0; i < rows.length; i += chunkRows) {
          const chunk = rows.slice(i, i + chunkRows);
          const sql = statement(kind, table, key, target.key, chunk);
          await client.query('SAVEPOINT eddy_chunk');
          try {
            await client.query(sql, [JSON.stringify(chunk.map((r) => r.row))]);
            await client.query('RELEASE SAVEPOINT eddy_chunk');
          } catch (err) {
            await client.query('ROLLBACK TO SAVEPOINT eddy_chunk');
            if (!isPermanent(err)) throw err;
            // Find the rows at fault one by one; the others are written.
            for (const one of chunk) {
              await client.query('SAVEPOINT eddy_row');
              try {
                await client.query(statement(kind, table, key, target.key, [one]), [JSON.stringify([one.row])]);
                await client.query('RELEASE SAVEPOINT eddy_row');
              } catch (rowErr) {
                await client.query('ROLLBACK TO SAVEPOINT eddy_row');
                if (!isPermanent(rowErr)) throw rowErr;
                reject(one.output, (rowErr as pg.DatabaseError).column ?? '', databaseReason(rowErr as pg.DatabaseError));
              }
            }
          }
        }
      }
    };
    await run('delete', [...deletes.values()]);
    await run('upsert', [...upserts.values()]);
    await run('append', appends);
    return rejects;
  }

  private async describe(client: pg.Client, name: string, sink: PostgresSink): Promise<TableInfo> {
    const [schema, table] = sink.table.includes('.') ? sink.table.split('.') : ['public', sink.table];
    const { rows } = await client.query<{ column_name: string; data_type: string }>(
      'SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position',
      [schema, table],
    );
    if (rows.length === 0) throw new Error(`sink '${name}': table ${sink.table} does not exist in PostgreSQL (create it before the job starts)`);
    const columns = new Map(rows.map((r) => [r.column_name, { name: r.column_name, type: r.data_type }]));
    for (const column of sink.key) if (!columns.has(column)) throw new Error(`sink '${name}': key column ${column} is not a column of ${sink.table}`);
    return { columns, quoted: `${quoteIdent(schema as string)}.${quoteIdent(table as string)}` };
  }

  /** Runs `work` on the connection, reconnecting and retrying on transient errors with backoff. */
  private async withRetries<T>(what: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
    const attempts = this.options.attempts ?? 8;
    let delayMs = this.options.backoffMs ?? 100;
    for (let attempt = 1; ; attempt++) {
      try {
        return await work(await this.connection());
      } catch (err) {
        if (err instanceof PostgresFencedError || !isTransient(err) || attempt >= attempts) throw annotate(err, what, attempt);
        this.options.logger.warn({ task: this.options.task, attempt, err: (err as Error).message, retryInMs: delayMs }, `PostgreSQL sink: ${what} failed; retrying`);
        if (isConnectionError(err)) await this.close();
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        delayMs = Math.min(delayMs * 2, 5_000);
      }
    }
  }

  private async connection(): Promise<pg.Client> {
    if (this.client !== undefined) return this.client;
    const client = new pg.Client({ connectionString: this.options.connection, application_name: `eddy ${this.options.job} task ${this.options.task}` });
    client.on('error', () => {
      // A dropped connection: the next query fails and the retry reconnects.
      if (this.client === client) this.client = undefined;
    });
    await client.connect();
    this.client = client;
    return client;
  }
}

/**
 * Rows grouped by the fields they name, in order of first appearance: one statement names one
 * set of columns, so a row never sets a column it did not name (to NULL) and the others keep
 * their values or defaults.
 */
function byFields<T extends { row: Record<string, unknown> }>(rows: readonly T[]): T[][] {
  const groups = new Map<string, T[]>();
  for (const r of rows) {
    const fields = Object.keys(r.row).sort().join('\u0000');
    const group = groups.get(fields);
    if (group === undefined) groups.set(fields, [r]);
    else group.push(r);
  }
  return [...groups.values()];
}

type Parsed = { row: Record<string, unknown>; tombstone: boolean } | { field: string; reason: string };

function parseRow(output: OutputRecord, sink: PostgresSink, table: TableInfo): Parsed {
  if (output.value === null) {
    if (sink.mode === 'append') return { field: '', reason: `a tombstone (null value) cannot be appended to ${sink.table}: give the sink key columns to delete rows` };
    const key = keyRow(output.key, sink);
    return typeof key === 'string' ? { field: 'key', reason: key } : { row: key, tombstone: true };
  }
  let value: unknown;
  try {
    value = JSON.parse(output.value);
  } catch {
    return { field: '', reason: 'the output is not JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { field: '', reason: `a row must be a JSON object (its fields the columns of ${sink.table})` };
  const row = value as Record<string, unknown>;
  for (const field of Object.keys(row)) {
    if (!table.columns.has(field)) return { field, reason: `${sink.table} has no column ${field}` };
  }
  for (const column of sink.key) {
    if (row[column] === undefined || row[column] === null) return { field: column, reason: `key column ${column} is missing` };
  }
  return { row, tombstone: false };
}

/** The key columns' values from an output key: its text for one column, a JSON array for several. */
function keyRow(key: string | null, sink: PostgresSink): Record<string, unknown> | string {
  if (key === null) return 'a tombstone needs a key';
  if (sink.key.length === 1) return { [sink.key[0] as string]: key };
  let values: unknown;
  try {
    values = JSON.parse(key);
  } catch {
    values = undefined;
  }
  if (!Array.isArray(values) || values.length !== sink.key.length) return `the key of a table with key columns (${sink.key.join(', ')}) must be a JSON array of ${sink.key.length} values`;
  return Object.fromEntries(sink.key.map((column, i) => [column, values[i]]));
}

function statement(kind: 'upsert' | 'delete' | 'append', table: TableInfo, key: string, keyColumns: readonly string[], rows: { row: Record<string, unknown> }[]): string {
  const source = `jsonb_populate_recordset(NULL::${table.quoted}, $1::jsonb)`;
  if (kind === 'delete') return `DELETE FROM ${table.quoted} WHERE (${key}) IN (SELECT ${key} FROM ${source})`;
  // The columns the rows name (one set per statement, see byFields): the others keep their defaults (or, on update, their values).
  const names = [...new Set(rows.flatMap((r) => Object.keys(r.row)))];
  const columns = names.map(quoteIdent).join(', ');
  const insert = `INSERT INTO ${table.quoted} (${columns}) SELECT ${columns} FROM ${source}`;
  if (kind === 'append') return insert;
  const updates = names.filter((n) => !keyColumns.includes(n)).map((n) => `${quoteIdent(n)} = EXCLUDED.${quoteIdent(n)}`);
  return `${insert} ON CONFLICT (${key}) ${updates.length === 0 ? 'DO NOTHING' : `DO UPDATE SET ${updates.join(', ')}`}`;
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** SQLSTATE classes of errors a retry cannot fix: data exceptions (22) and integrity constraint violations (23). */
function isPermanent(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
}

const transientCodes = new Set(['40001', '40P01', '57P01', '57P02', '57P03', '53300', '55P03']);

function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (code.startsWith('08') || ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH'].includes(code))) return true;
  const message = (err as Error)?.message ?? '';
  return /Connection terminated|Client has encountered a connection error|not queryable|Client was closed/i.test(message);
}

/** Worth retrying: the connection, a serialization failure or deadlock, a server shutting down or full. */
export function isTransient(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return isConnectionError(err) || (typeof code === 'string' && transientCodes.has(code));
}

function annotate(err: unknown, what: string, attempt: number): Error {
  const error = err instanceof Error ? err : new Error(String(err));
  if (error instanceof PostgresFencedError) return error;
  return new Error(`PostgreSQL sink ${what} failed${attempt > 1 ? ` after ${attempt} attempts` : ''}: ${databaseReason(error as pg.DatabaseError)}`, { cause: error });
}

function databaseReason(err: pg.DatabaseError): string {
  const parts = [err.message];
  if (err.code !== undefined) parts.push(`(SQLSTATE ${err.code})`);
  if (err.detail !== undefined) parts.push(`— ${err.detail}`);
  return parts.join(' ');
}

function sinkDeadLetter(sink: PostgresSink, task: number, checkpointId: number, output: OutputRecord, field: string, reason: string): DeadLetter {
  const encoder = new TextEncoder();
  return {
    source: {
      topic: `postgres:${sink.table}`,
      partition: task,
      offset: String(checkpointId),
      timestamp: output.timestamp ?? Date.now(),
      key: output.key === null ? null : encoder.encode(output.key),
      value: output.value === null ? null : encoder.encode(output.value),
      headers: output.headers,
    },
    field,
    reason: `PostgreSQL refused the row for ${sink.table}: ${reason}`,
  };
}

type StoredLetter = { source: Omit<DeadLetter['source'], 'key' | 'value'> & { key: string | null; value: string | null }; field: string; reason: string };

function storedLetter(letter: DeadLetter): StoredLetter {
  const decoder = new TextDecoder();
  const { key, value, ...source } = letter.source;
  return { source: { ...source, key: key === null ? null : decoder.decode(key), value: value === null ? null : decoder.decode(value) }, field: letter.field, reason: letter.reason };
}

function loadedLetter(stored: StoredLetter): DeadLetter {
  const encoder = new TextEncoder();
  const { key, value, ...source } = stored.source;
  return { source: { ...source, key: key === null ? null : encoder.encode(key), value: value === null ? null : encoder.encode(value) }, field: stored.field, reason: stored.reason };
}
