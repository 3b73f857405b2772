/**
 * The `eos-check` job: the smallest job whose output proves exactly-once. For each input key
 * it counts the records seen and emits `{key, seq, count}`; an independent consumer checks that
 * for every key the counts run 1, 2, 3, … with no gap or repeat, whatever crashed on the way.
 */
import { BadRecordError } from '../../common/errors.ts';
import { defineJob, json, kafkaSink, kafkaSource, keyedActor } from '../../job/api.ts';

/** An input record: the Kafka key is `key` too. */
export type EosInput = { key: string; seq: number };

/** An output record. `count` is how many records of `key` were handled, this one included. */
export type EosOutput = { key: string; seq: number; count: number };

/**
 * Topics of the job, for producers and checkers: `eddy.eos.input` and `eddy.eos.output`, or
 * `<prefix>.input` / `<prefix>.output` with `EDDY_EOS_TOPIC_PREFIX=<prefix>` (so tests and
 * parallel runs each get their own topics). Every process of a cluster must see the same value.
 */
const prefix = process.env.EDDY_EOS_TOPIC_PREFIX ?? 'eddy.eos';
export const EOS_TOPICS = { input: `${prefix}.input`, output: `${prefix}.output` } as const;

/** Partitions of both topics. */
export const EOS_PARTITIONS = 12;

function validate(value: unknown, where: string): EosInput {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new BadRecordError(where, '', 'expected a JSON object');
  const { key, seq } = value as Record<string, unknown>;
  if (typeof key !== 'string') throw new BadRecordError(where, 'key', `expected a string, got ${JSON.stringify(key) ?? 'nothing'}`);
  if (typeof seq !== 'number' || !Number.isFinite(seq)) throw new BadRecordError(where, 'seq', `expected a number, got ${JSON.stringify(seq) ?? 'nothing'}`);
  return { key, seq };
}

export default defineJob({
  // A run on its own topics is its own job: own transactional ids, markers and checkpoints.
  name: process.env.EDDY_EOS_TOPIC_PREFIX === undefined ? 'eos-check' : `eos-check.${prefix}`,
  sources: { input: kafkaSource(EOS_TOPICS.input, { format: json({ validate }), partitions: EOS_PARTITIONS }) },
  sinks: { output: kafkaSink(EOS_TOPICS.output, { delivery: 'exactly-once', partitions: EOS_PARTITIONS }) },
  actors: {
    counter: keyedActor({
      from: 'input',
      key: (input: EosInput) => input.key,
      initial: () => ({ count: 0 }),
      onRecord(input, state, ctx) {
        state.count += 1;
        const output: EosOutput = { key: input.key, seq: input.seq, count: state.count };
        ctx.emit('output', input.key, output);
      },
    }),
  },
});
