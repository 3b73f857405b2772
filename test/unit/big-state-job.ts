// A job for actor-thread tests that need big snapshots: each record sets its key's state to
// `bytes` characters (made on the thread, so requests stay small) and emits the key's count to
// an exactly-once sink.
import { defineJob, json, kafkaSink, kafkaSource, keyedActor } from '../../job/api.ts';

export type BigStateInput = { key: string; bytes: number };

export default defineJob({
  name: 'big-state',
  sources: { input: kafkaSource('big-state.input', { format: json<BigStateInput>() }) },
  sinks: { output: kafkaSink('big-state.output') },
  actors: {
    holder: keyedActor({
      from: 'input',
      key: (input: BigStateInput) => input.key,
      initial: () => ({ count: 0, pad: '' }),
      onRecord(input, state, ctx) {
        state.count += 1;
        state.pad = 'x'.repeat(input.bytes);
        ctx.emit('output', input.key, { count: state.count });
      },
    }),
  },
});
