/**
 * `defineJob`: checks a job spec once, when the job module loads, so that a mistyped source
 * name or a bad topic fails at start with the field named, not on the first record. Returns a
 * frozen, branded JobDefinition that the loader can tell apart from any other default export.
 */
import { JOB_DEFINITION, type JobDefinition, type JobSpec, type KafkaSink, type KafkaSource, type KeyedActor } from '../contract/job.ts';

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
const SPEC_KEYS = new Set(['name', 'sources', 'sinks', 'actors', 'watermark']);
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

  const sources = entries(spec.sources, 'sources', fail);
  if (sources.length === 0) fail('sources', 'a job needs at least one source');
  sources.forEach(([sourceName, source]) => checkSource(source, `sources.${sourceName}`, fail));
  checkCoPartitioned(sources, fail);
  entries(spec.sinks, 'sinks', fail).forEach(([sinkName, sink]) => checkSink(sink, `sinks.${sinkName}`, fail));
  const actors = entries(spec.actors, 'actors', fail);
  if (actors.length === 0) fail('actors', 'a job needs at least one actor');
  const sourceNames = new Set(sources.map(([sourceName]) => sourceName));
  actors.forEach(([actorName, actor]) => checkActor(actor, `actors.${actorName}`, sourceNames, fail));

  const watermark = { outOfOrdernessMs: spec.watermark?.outOfOrdernessMs ?? 0, idleSourceMs: spec.watermark?.idleSourceMs };
  if (!isCount(watermark.outOfOrdernessMs, 0)) fail('watermark.outOfOrdernessMs', 'must be an integer ≥ 0 (ms)');
  if (watermark.idleSourceMs !== undefined && !isCount(watermark.idleSourceMs, 1)) fail('watermark.idleSourceMs', 'must be an integer ≥ 1 (ms)');

  return Object.freeze({
    [JOB_DEFINITION]: true as const,
    name,
    sources: Object.freeze({ ...spec.sources }),
    sinks: Object.freeze({ ...spec.sinks }),
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

function checkSink(sink: KafkaSink, field: string, fail: Fail): void {
  if (!isObject(sink) || sink.kind !== 'kafka') fail(field, 'expected kafkaSink(...)');
  checkTopic(sink.topic, `${field}.topic`, fail);
  if (!DELIVERIES.has(sink.delivery)) fail(`${field}.delivery`, `must be one of ${[...DELIVERIES].join(', ')}`);
  if (sink.partitions !== undefined && !isCount(sink.partitions, 1)) fail(`${field}.partitions`, 'must be an integer ≥ 1');
}

function checkActor(actor: KeyedActor, field: string, sources: ReadonlySet<string>, fail: Fail): void {
  if (!isObject(actor) || actor.kind !== 'keyed') fail(field, 'expected keyedActor(...)');
  const from: readonly unknown[] = Array.isArray(actor.from) ? actor.from : [];
  if (from.length === 0) fail(`${field}.from`, 'must name at least one source');
  for (const source of from) {
    if (typeof source !== 'string' || !sources.has(source)) fail(`${field}.from`, `unknown source '${String(source)}' (sources: ${[...sources].join(', ')})`);
  }
  if (new Set(from).size !== from.length) fail(`${field}.from`, 'names a source twice');
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
