import { describe, expect, it } from 'vitest';
import { BadRecordError, ConfigError } from '../../common/errors.ts';
import {
  debezium,
  defineJob,
  isJobDefinition,
  json,
  JobDefinitionError,
  kafkaSink,
  kafkaSource,
  keyedActor,
  repartition,
  text,
  type JobSpec,
} from '../../job/api.ts';
import { builtinJobs, loadJob } from '../../job/load.ts';
import { record } from './task-harness.ts';

const counter = (from: string | string[] = 'clicks') =>
  keyedActor({ from, key: (rec: { user: string }) => rec.user, initial: () => ({ n: 0 }), onRecord: (_rec, state) => ({ n: state.n + 1 }) });

function spec(overrides: Partial<JobSpec> = {}): JobSpec {
  return {
    name: 'clicks-job',
    sources: { clicks: kafkaSource('clicks', { format: json(), partitions: 4 }) },
    sinks: { counts: kafkaSink('click-counts') },
    actors: { counter: counter() },
    ...overrides,
  };
}

function definitionError(run: () => unknown): JobDefinitionError {
  try {
    run();
  } catch (thrown) {
    expect(thrown).toBeInstanceOf(JobDefinitionError);
    return thrown as JobDefinitionError;
  }
  throw new Error('expected a JobDefinitionError');
}

describe('defineJob', () => {
  it('returns a frozen, branded definition with defaults filled in', () => {
    const job = defineJob(spec());
    expect(isJobDefinition(job)).toBe(true);
    expect(isJobDefinition({ ...job })).toBe(true); // the brand is a registered symbol: copies of the module agree
    expect(isJobDefinition({ name: 'x' })).toBe(false);
    expect(Object.isFrozen(job)).toBe(true);
    expect(job.watermark).toEqual({ outOfOrdernessMs: 0 });
    expect(job.sinks.counts).toEqual({ kind: 'kafka', topic: 'click-counts', delivery: 'exactly-once' });
    expect(job.sources.clicks?.partitions).toBe(4);
    expect(job.actors.counter?.from).toEqual(['clicks']);
  });

  it.each([
    ['an unknown source in from', { actors: { counter: counter('klicks') } }, 'actors.counter.from', "unknown source 'klicks'"],
    ['an empty from', { actors: { counter: counter([]) } }, 'actors.counter.from', 'at least one source'],
    ['a job name Kafka cannot use', { name: 'my job!' }, 'name', 'a-zA-Z0-9._-'],
    ['a bad source topic', { sources: { clicks: kafkaSource('bad topic', { format: text() }) } }, 'sources.clicks.topic', 'Kafka topic name'],
    ['a bad actor name', { actors: { 'count er': counter() } }, 'actors.count er', 'name must be'],
    ['no actors', { actors: {} }, 'actors', 'at least one actor'],
    ['no sources', { sources: {} }, 'sources', 'at least one source'],
    ['zero partitions', { sources: { clicks: kafkaSource('clicks', { format: text(), partitions: 0 }) } }, 'sources.clicks.partitions', '≥ 1'],
    ['a bad delivery', { sinks: { counts: { kind: 'kafka', topic: 't', delivery: 'maybe' } } } as unknown as Partial<JobSpec>, 'sinks.counts.delivery', 'one of'],
    ['a negative out-of-orderness', { watermark: { outOfOrdernessMs: -1 } }, 'watermark.outOfOrdernessMs', '≥ 0'],
    ['an unknown field', { watermarks: {} } as unknown as Partial<JobSpec>, 'watermarks', 'unknown field'],
  ])('rejects %s, naming the field', (_what, overrides, field, reason) => {
    const error = definitionError(() => defineJob(spec(overrides)));
    expect(error.field).toBe(field);
    expect(error.message).toContain(reason);
    expect(error.message).toContain(`${field}:`);
  });

  it('rejects two sources on one topic and sources that are not co-partitioned', () => {
    const twice = definitionError(() =>
      defineJob(spec({ sources: { a: kafkaSource('t', { format: text() }), b: kafkaSource('t', { format: text() }) }, actors: { counter: counter('a') } })),
    );
    expect(twice.message).toContain("topic 't' is already source 'a'");
    const uneven = definitionError(() =>
      defineJob(
        spec({
          sources: { a: kafkaSource('t1', { format: text(), partitions: 4 }), b: kafkaSource('t2', { format: text(), partitions: 6 }) },
          actors: { counter: counter('a') },
        }),
      ),
    );
    expect(uneven.field).toBe('sources.b.partitions');
  });

  it('rejects an actor that is not a keyedActor and a handler that is not a function', () => {
    expect(definitionError(() => defineJob(spec({ actors: { counter: { from: ['clicks'] } as never } }))).field).toBe('actors.counter');
    const noHandler = { ...counter(), onRecord: 'nope' } as never;
    expect(definitionError(() => defineJob(spec({ actors: { counter: noHandler } }))).field).toBe('actors.counter.onRecord');
  });
});

describe('formats', () => {
  it('json parses, skips null values and dead-letters bad JSON as a BadRecordError', () => {
    const format = json<{ a: number }>();
    expect(format.decode(record('t', 0, { a: 1 }), 'w')).toEqual({ a: 1 });
    expect(format.decode(record('t', 0, null), 'w')).toBeNull();
    expect(() => format.decode(record('t', 0, '{nope'), 't[0]@0')).toThrow(BadRecordError);
  });

  it('text decodes UTF-8 and rejects bytes that are not', () => {
    expect(text().decode(record('t', 0, 'héllo'), 'w')).toBe('héllo');
    const bad = { ...record('t', 0, null), value: new Uint8Array([0xff, 0xfe]) };
    expect(() => text().decode(bad, 'w')).toThrow(/not valid UTF-8/);
  });

  it('debezium decodes plain Uint8Arrays (as records arrive from another thread) and skips tombstones', () => {
    const envelope = { op: 'c', before: null, after: { id: 1 }, source: { connector: 'postgresql', name: 'x', ts_ms: 5, db: 'd', table: 't' }, ts_ms: 6 };
    const rec = record('t', 0, envelope);
    expect(debezium().decode({ ...rec, value: new Uint8Array(rec.value ?? []) }, 'w')?.after).toEqual({ id: 1 });
    expect(debezium().decode(record('t', 0, null), 'w')).toBeNull();
  });
});

describe('loadJob', () => {
  it('loads the built-in jobs by name', async () => {
    expect(builtinJobs()).toEqual(['eos-check', 'ecommerce', 'engagement', 'clickstream']);
    for (const name of builtinJobs()) expect((await loadJob(name)).name).toBe(name);
  });

  it('loads a module path relative to the working directory', async () => {
    expect((await loadJob('./examples/eos-check/job.ts')).name).toBe('eos-check');
  });

  it('names the path when the module is missing or its default export is not a job', async () => {
    await expect(loadJob('./no/such/job.ts')).rejects.toThrow(ConfigError);
    await expect(loadJob('./no/such/job.ts')).rejects.toThrow(/no\/such\/job\.ts/);
    await expect(loadJob('./job/builders/formats.ts')).rejects.toThrow(/job\/builders\/formats\.ts must default-export defineJob/);
  });
});

describe('repartitions', () => {
  const rekeyed = () =>
    spec({
      sources: {
        clicks: kafkaSource('clicks', { format: json(), partitions: 4 }),
        pages: kafkaSource('pages', { format: json(), partitions: 4, partitionedBy: 'murmur2(user)' }),
      },
      repartitions: { byUser: repartition<{ user: string }>('user'), byPage: repartition<{ user: string }>('page') },
      actors: { counter: counter('byUser') },
    });

  it('makes each repartition a source and an exactly-once sink of its name, on a topic Eddy names', () => {
    const job = defineJob(rekeyed());
    expect(job.sources.byUser).toMatchObject({ topic: 'eddy.clicks-job.byUser', partitionedBy: 'murmur2(user)', internal: true });
    expect(job.sinks.byUser).toEqual({ kind: 'kafka', topic: 'eddy.clicks-job.byUser', delivery: 'exactly-once', internal: true });
    expect(job.sinks.counts).toMatchObject({ topic: 'click-counts' });
  });

  it('lets one actor read repartitions of the same key, and an external topic declared partitioned by it', () => {
    expect(() => defineJob({ ...rekeyed(), actors: { counter: counter(['byUser', 'pages']) } })).not.toThrow();
  });

  it('refuses an actor whose sources are partitioned by different keys, naming both', () => {
    const error = definitionError(() => defineJob({ ...rekeyed(), actors: { counter: counter(['byUser', 'byPage']) } }));
    expect(error.field).toBe('actors.counter.from');
    expect(error.reason).toBe("sources 'byUser' (murmur2(user)) and 'byPage' (murmur2(page)) are not co-partitioned; re-key one through a repartition topic");
  });

  it('refuses an actor that mixes a repartition with an external topic of unknown partitioning', () => {
    const error = definitionError(() => defineJob({ ...rekeyed(), actors: { counter: counter(['clicks', 'byUser']) } }));
    expect(error.reason).toContain("'clicks' (key-of:clicks)");
  });

  it('refuses a repartition whose name is taken by a source or sink', () => {
    const error = definitionError(() => defineJob({ ...rekeyed(), repartitions: { counts: repartition('user') } }));
    expect(error.field).toBe('repartitions.counts');
  });
});
