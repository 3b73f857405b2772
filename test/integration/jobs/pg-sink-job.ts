/**
 * A small job for the PostgreSQL sink's fault test (test/integration/postgres-sink-faults.test.ts):
 * JSON records `{key, seq}` counted per key, each count upserted into `<table>_counts` and each
 * record appended to `<table>_events`. `EDDY_PG_SINK_JOB` holds `{"name", "topic", "table", "partitions"}`;
 * the workers' `EDDY_POSTGRES_URL` says where.
 */
import { defineJob, json, kafkaSource, keyedActor, postgresSink } from '../../../job/api.ts';

export type SeqRecord = { key: string; seq: number };

const { name, topic, table, partitions } = JSON.parse(process.env.EDDY_PG_SINK_JOB ?? '{"name":"pg-sink","topic":"pg-sink-in","table":"pg_sink","partitions":4}') as { name: string; topic: string; table: string; partitions: number };

export default defineJob({
  name,
  sources: { input: kafkaSource(topic, { format: json<SeqRecord>(), partitions }) },
  sinks: { counts: postgresSink(`${table}_counts`, { key: ['key'] }), events: postgresSink(`${table}_events`) },
  actors: {
    counter: keyedActor({
      from: 'input',
      key: (r: SeqRecord) => r.key,
      initial: () => ({ count: 0 }),
      onRecord(r: SeqRecord, state: { count: number }, ctx) {
        state.count += 1;
        ctx.emit('counts', r.key, { key: r.key, count: state.count, last_seq: r.seq });
        ctx.emit('events', null, { key: r.key, seq: r.seq });
      },
    }),
  },
});
