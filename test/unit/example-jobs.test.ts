import { describe, expect, it } from 'vitest';
import eosCheck, { EOS_TOPICS } from '../../examples/eos-check/job.ts';
import { bufferedOutputs, openRuntime, record, tempDir, values } from './task-harness.ts';

describe('eos-check job', () => {
  const input = (offset: number, value: unknown) => record(EOS_TOPICS.input, offset, value, { keyText: 'k' });

  it('counts records per key and emits {key, seq, count}', async () => {
    const runtime = await openRuntime(eosCheck, await tempDir());
    const result = await runtime.process(
      [input(0, { key: 'a', seq: 1 }), input(1, { key: 'b', seq: 1 }), input(2, { key: 'a', seq: 2 })],
      0,
    );
    expect(values(bufferedOutputs(result.buffered))).toEqual([
      { key: 'a', seq: 1, count: 1 },
      { key: 'b', seq: 1, count: 1 },
      { key: 'a', seq: 2, count: 2 },
    ]);
    expect(bufferedOutputs(result.buffered).map((o) => [o.sink, o.key])).toEqual([['output', 'a'], ['output', 'b'], ['output', 'a']]);
    expect(result.outputs).toEqual([]); // exactly-once: held in the buffer, none published at once
    expect(result.buffered.map((item) => item.epoch)).toEqual([1, 1, 1]);
    await runtime.close();
  });

  it('dead-letters a value without a string key or a numeric seq, naming the field', async () => {
    const runtime = await openRuntime(eosCheck, await tempDir());
    const result = await runtime.process([input(0, { key: 7, seq: 1 }), input(1, { key: 'a', seq: '1' }), input(2, [1])], 0);
    expect(result.deadLetters.map((d) => [d.field, d.reason])).toEqual([
      ['key', 'expected a string, got 7'],
      ['seq', 'expected a number, got "1"'],
      ['', 'expected a JSON object'],
    ]);
    await runtime.close();
  });
});
