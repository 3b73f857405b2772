/**
 * `defineJob`: checks a job spec once, when the job module loads, so that a mistyped source
 * name or a bad topic fails at start with the field named, not on the first record. Returns a
 * frozen, branded JobDefinition that the loader can tell apart from any other default export.
 */
import { JOB_DEFINITION, partitioningOf, type JobDefinition, type JobSpec, type KafkaSink, type HttpSink, type KafkaSource, type KeyedActor, type NatsSink, type PostgresSink, type Repartition, type Sink } from '../contract/job.ts';

/** A job spec that cannot run. `field` is the dotted path of the bad field, e.g. `actors.revenue.from`. */
export class JobDefinitionError extends Error {
  override readonly name = 'JobDefinitionError';
  constructor(
    readonly job: string,
    readonly field: string,
    readonly reason: string,
  ) {
    super(`job '${job}': ${field}: ${reason}`);
  }
}

const JOB_NAME = /^[a-zA-Z0-9._-]{1,100}$/;
const PART_NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,99}$/;
const TOPIC = /^[a-zA-Z0-9._-]{1,249}$/;
const SPEC_KEYS = new Set(['name', 'sources', 'sinks', 'repartitions', 'actors', 'watermark']);
const DELIVERIES = new Set(['at-least-once', 'exactly-once']);

/**
 * Checks and freezes a job.
 *
 * @throws JobDefinitionError naming the first bad field
 */
export function defineJob(spec: JobSpec): JobDefinition {
  const name = typeof spec?.name === 'string' ? spec.name : '?';
  const fail = (field: string, reason: string): never => {
    throw new JobDefinitionError(name, field, reason);
  };
  if (!isObject(spec)) fail('', 'expected an object');
  for (const key of Object.keys(spec)) if (!SPEC_KEYS.has(key)) fail(key, `unknown field (expected one of ${[...SPEC_KEYS].join(', ')})`);
  if (!JOB_NAME.test(name)) fail('name', 'must be 1-100 characters from [a-zA-Z0-9._-] (it names Kafka transactional ids)');

  const external = entries(spec.sources, 'sources', fail);
  if (external.length === 0) fail('sources', 'a job needs at least one source');
  external.forEach(([sourceName, source]) => checkSource(source, `sources.${sourceName}`, fail));
  const sinks = entries(spec.sinks, 'sinks', fail);
  sinks.forEach(([sinkName, sink]) => checkSink(sink, `sinks.${sinkName}`, fail));
  const repartitions = entries(spec.repartitions ?? {}, 'repartitions', fail);
  const taken = new Set([...external, ...sinks].map(([partName]) => partName));
  for (const [partName, repartition] of repartitions) {
    checkRepartition(repartition, `repartitions.${partName}`, fail);
    if (taken.has(partName)) fail(`repartitions.${partName}`, 'a repartition topic is a source and a sink of its name, and that name is taken');
  }
  const sources = [...external, ...repartitions.map(([partName, r]): [string, KafkaSource] => [partName, internalSource(name, partName, r)])];
  checkCoPartitioned(sources, fail);
  const actors = entries(spec.actors, 'actors', fail);
  if (actors.length === 0) fail('actors', 'a job needs at least one actor');
  const sourcesByName = new Map(sources);
  actors.forEach(([actorName, actor]) => checkActor(actor, `actors.${actorName}`, sourcesByName, fail));

  const watermark = { outOfOrdernessMs: spec.watermark?.outOfOrdernessMs ?? 0, idleSourceMs: spec.watermark?.idleSourceMs };
  if (!isCount(watermark.outOfOrdernessMs, 0)) fail('watermark.outOfOrdernessMs', 'must be an integer ≥ 0 (ms)');
  if (watermark.idleSourceMs !== undefined && !isCount(watermark.idleSourceMs, 1)) fail('watermark.idleSourceMs', 'must be an integer ≥ 1 (ms)');

  return Object.freeze({
    [JOB_DEFINITION]: true as const,
    name,
    sources: Object.freeze(Object.fromEntries(sources)),
    sinks: Object.freeze({ ...spec.sinks, ...Object.fromEntries(repartitions.map(([partName, r]) => [partName, internalSink(name, partName, r)])) }),
    actors: Object.freeze({ ...spec.actors }),
    watermark: Object.freeze(watermark.idleSourceMs === undefined ? { outOfOrdernessMs: watermark.outOfOrdernessMs } : watermark),
  });
}

/** Whether `value` was made by {@link defineJob} (in this or any other copy of the module). */
export function isJobDefinition(value: unknown): value is JobDefinition {
  return isObject(value) && (value as Partial<JobDefinition>)[JOB_DEFINITION] === true;
}

type Fail = (field: string, reason: string) => never;

function entries<T>(record: Record<string, T> | undefined, field: string, fail: Fail): [string, T][] {
  if (!isObject(record)) return fail(field, 'expected an object of named entries');
  const list = Object.entries(record);
  for (const [partName] of list) {
    if (!PART_NAME.test(partName)) fail(`${field}.${partName}`, 'name must be a letter or _, then up to 99 of [A-Za-z0-9_-]');
  }
  return list;
}

function checkSource(source: KafkaSource, field: string, fail: Fail): void {
  if (!isObject(source) || source.kind !== 'kafka') fail(field, 'expected kafkaSource(...)');
  if (source.internal === true) fail(field, 'internal topics are declared under repartitions');
  if (source.partitionedBy !== undefined && (typeof source.partitionedBy !== 'string' || source.partitionedBy === '')) fail(`${field}.partitionedBy`, 'must be a non-empty string');
  checkTopic(source.topic, `${field}.topic`, fail);
  if (typeof source.format?.decode !== 'function') fail(`${field}.format`, 'expected a format such as debezium(), json() or text()');
  if (source.partitions !== undefined && !isCount(source.partitions, 1)) fail(`${field}.partitions`, 'must be an integer ≥ 1');
}

/** Tasks are partition numbers of all sources at once, so declared partition counts must agree, and topics differ. */
function checkCoPartitioned(sources: [string, KafkaSource][], fail: Fail): void {
  const byTopic = new Map<string, string>();
  let declared: [string, number] | undefined;
  for (const [sourceName, { topic, partitions }] of sources) {
    const other = byTopic.get(topic);
    if (other !== undefined) fail(`sources.${sourceName}.topic`, `topic '${topic}' is already source '${other}'`);
    byTopic.set(topic, sourceName);
    if (partitions === undefined) continue;
    if (declared !== undefined && declared[1] !== partitions) {
      fail(`sources.${sourceName}.partitions`, `${partitions} differs from source '${declared[0]}' (${declared[1]}); sources must be co-partitioned`);
    }
    declared = [sourceName, partitions];
  }
}

/**
 * One actor keys records of all its sources alike, so a key's records must reach one task from
 * every source: the sources must be partitioned by the same key with the same partitioner. An
 * internal topic never shares the partitioning of an external one (Debezium keys are JSON with
 * the column names; repartition keys are the plain key), so mixing them is refused; external
 * topics that declare no `partitionedBy` are the author's to vouch for, as before.
 */
function checkActorCoPartitioned(from: readonly string[], sources: ReadonlyMap<string, KafkaSource>, field: string, fail: Fail): void {
  // A broadcast source reaches every task, whatever the actor's key: it needs no partitioning.
  const read = from.map((sourceName) => [sourceName, sources.get(sourceName) as KafkaSource] as const).filter(([, source]) => source.broadcast !== true);
  const declared = read.filter(([, source]) => source.partitionedBy !== undefined);
  if (declared.length === 0) return;
  const [firstName, first] = declared[0] as (typeof declared)[number];
  for (const [sourceName, source] of read) {
    if (partitioningOf(source) !== partitioningOf(first)) {
      fail(field, `sources '${firstName}' (${partitioningOf(first)}) and '${sourceName}' (${partitioningOf(source)}) are not co-partitioned; re-key one through a repartition topic`);
    }
  }
}

function checkSink(sink: Sink, field: string, fail: Fail): void {
  if (isObject(sink) && sink.kind === 'postgres') return checkPostgresSink(sink, field, fail);
  if (isObject(sink) && sink.kind === 'nats') return checkNatsSink(sink, field, fail);
  if (isObject(sink) && sink.kind === 'http') return checkHttpSink(sink, field, fail);
  if (!isObject(sink) || sink.kind !== 'kafka') fail(field, 'expected kafkaSink(...), postgresSink(...), natsSink(...) or httpSink(...)');
  checkTopic(sink.topic, `${field}.topic`, fail);
  if (!DELIVERIES.has(sink.delivery)) fail(`${field}.delivery`, `must be one of ${[...DELIVERIES].join(', ')}`);
  if (sink.partitions !== undefined && !isCount(sink.partitions, 1)) fail(`${field}.partitions`, 'must be an integer ≥ 1');
  if (sink.upsert === true && sink.delivery !== 'exactly-once') fail(`${field}.upsert`, 'upsert sinks keep the last value per key and checkpoint, so they must be exactly-once');
}

/** NATS subject tokens: no spaces, no wildcards (a publish names one subject). */
const NATS_SUBJECT = /^[^\s.*>]+(\.[^\s.*>]+)*$/;

function checkNatsSink(sink: NatsSink, field: string, fail: Fail): void {
  if (typeof sink.subject !== 'string' || !NATS_SUBJECT.test(sink.subject)) fail(`${field}.subject`, 'must be a NATS subject without wildcards, e.g. alerts.inventory');
  if (sink.delivery !== 'at-least-once') fail(`${field}.delivery`, 'NATS sinks are at-least-once');
}

function checkHttpSink(sink: HttpSink, field: string, fail: Fail): void {
  let url: URL | undefined;
  try {
    url = new URL(sink.url);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) fail(`${field}.url`, 'must be an http:// or https:// URL');
  if (sink.delivery !== 'at-least-once') fail(`${field}.delivery`, 'HTTP sinks are at-least-once');
  if (sink.attempts !== undefined && !isCount(sink.attempts, 1)) fail(`${field}.attempts`, 'must be an integer ≥ 1');
  if (sink.timeoutMs !== undefined && !isCount(sink.timeoutMs, 1)) fail(`${field}.timeoutMs`, 'must be an integer ≥ 1 (ms)');
}

const SQL_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

function checkPostgresSink(sink: PostgresSink, field: string, fail: Fail): void {
  const parts = typeof sink.table === 'string' ? sink.table.split('.') : [];
  if (parts.length < 1 || parts.length > 2 || !parts.every((p) => SQL_NAME.test(p))) fail(`${field}.table`, 'must be `table` or `schema.table`, each a letter or _ then up to 62 of [A-Za-z0-9_]');
  if (sink.mode !== 'upsert' && sink.mode !== 'append') fail(`${field}.mode`, "must be 'upsert' or 'append'");
  if (!Array.isArray(sink.key) || !sink.key.every((c) => typeof c === 'string' && SQL_NAME.test(c))) fail(`${field}.key`, 'must be a list of column names');
  if (sink.mode === 'upsert' && sink.key.length === 0) fail(`${field}.key`, 'an upsert sink needs its key columns (a unique index over exactly them)');
  if (sink.connection !== undefined && (typeof sink.connection !== 'string' || sink.connection === '')) fail(`${field}.connection`, 'must be a PostgreSQL connection string');
  if (sink.delivery !== 'exactly-once') fail(`${field}.delivery`, 'PostgreSQL sinks are exactly-once');
}

/** The topic Eddy creates for a repartition: `eddy.<job>.<name>`. */
export function repartitionTopic(job: string, name: string): string {
  return `eddy.${job}.${name}`;
}

function internalSource(job: string, name: string, repartition: Repartition): KafkaSource {
  const topic = repartitionTopic(job, name);
  if (repartition.broadcast === true) return Object.freeze({ kind: 'kafka', topic, format: repartition.format, internal: true, broadcast: true });
  return Object.freeze({ kind: 'kafka', topic, format: repartition.format, partitionedBy: `murmur2(${repartition.key})`, internal: true });
}

function internalSink(job: string, name: string, repartition: Repartition): KafkaSink {
  const sink = { kind: 'kafka', topic: repartitionTopic(job, name), delivery: 'exactly-once', internal: true } as const;
  return Object.freeze(repartition.broadcast === true ? { ...sink, broadcast: true as const } : sink);
}

function checkRepartition(repartition: Repartition, field: string, fail: Fail): void {
  if (!isObject(repartition) || repartition.kind !== 'repartition') fail(field, 'expected repartition(...)');
  if (typeof repartition.key !== 'string' || repartition.key === '') fail(`${field}.key`, 'must name the key, e.g. product_id');
  if (typeof repartition.format?.decode !== 'function') fail(`${field}.format`, 'expected a format');
}

function checkActor(actor: KeyedActor, field: string, sources: ReadonlyMap<string, KafkaSource>, fail: Fail): void {
  if (!isObject(actor) || actor.kind !== 'keyed') fail(field, 'expected keyedActor(...)');
  const from: readonly unknown[] = Array.isArray(actor.from) ? actor.from : [];
  if (from.length === 0) fail(`${field}.from`, 'must name at least one source');
  for (const source of from) {
    if (typeof source !== 'string' || !sources.has(source)) fail(`${field}.from`, `unknown source '${String(source)}' (sources: ${[...sources.keys()].join(', ')})`);
  }
  if (new Set(from).size !== from.length) fail(`${field}.from`, 'names a source twice');
  checkActorCoPartitioned(from as string[], sources, `${field}.from`, fail);
  for (const handler of ['key', 'initial', 'onRecord'] as const) {
    if (typeof actor[handler] !== 'function') fail(`${field}.${handler}`, 'must be a function');
  }
  for (const handler of ['onTimer', 'eventTime'] as const) {
    if (actor[handler] !== undefined && typeof actor[handler] !== 'function') fail(`${field}.${handler}`, 'must be a function when given');
  }
}

function checkTopic(topic: unknown, field: string, fail: Fail): void {
  if (typeof topic !== 'string' || !TOPIC.test(topic) || topic === '.' || topic === '..') {
    fail(field, 'must be a Kafka topic name: 1-249 characters from [a-zA-Z0-9._-], not . or ..');
  }
}

function isCount(value: unknown, min: number): boolean {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= min;
}

function isObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null;
}
