import { describe, expect, it } from 'vitest';
import type { IngestMessage } from '../../worker/ingest/ingest-messages.ts';
import { ProduceCoalescer, type RecordProducer } from '../../worker/ingest/produce-coalescer.ts';

/** A producer whose send calls wait until released; records what each call carried. */
function fakeProducer() {
  const calls: { messages: IngestMessage[]; release(err?: Error): void }[] = [];
  const producer: RecordProducer = {
    send: (messages) => new Promise<void>((resolve, reject) => calls.push({ messages, release: (err) => (err === undefined ? resolve() : reject(err)) })),
  };
  /** What call i carried, as topic:values runs in the order sent. */
  const carried = (i: number) => {
    const runs: string[] = [];
    for (const m of calls[i]?.messages ?? []) {
      const last = runs.at(-1);
      if (last?.startsWith(`${m.topic}:`) === true) runs[runs.length - 1] = `${last},${m.value}`;
      else runs.push(`${m.topic}:${m.value}`);
    }
    return runs;
  };
  return { producer, calls, carried };
}

const msgs = (topic: string, ...values: string[]) => values.map((value) => ({ topic, value, partition: 0 }));
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('ProduceCoalescer', () => {
  it('sends at once when idle, and everything that arrived meanwhile as one request, in arrival order', async () => {
    const { producer, calls, carried } = fakeProducer();
    const coalescer = new ProduceCoalescer(producer);
    const first = coalescer.send(msgs('t', 'a1', 'a2'));
    await settle();
    expect(calls).toHaveLength(1);
    const second = coalescer.send(msgs('t', 'b1'));
    const third = coalescer.send(msgs('u', 'c1'));
    const fourth = coalescer.send(msgs('t', 'd1', 'd2'));
    await settle();
    expect(calls).toHaveLength(1); // waiting for the one in flight
    calls[0]?.release();
    await first;
    await settle();
    expect(calls).toHaveLength(2);
    expect(carried(1)).toEqual(['t:b1', 'u:c1', 't:d1,d2']);
    calls[1]?.release();
    await Promise.all([second, third, fourth]);
  });

  it('fails every caller of a failed request, and goes on with the next', async () => {
    const { producer, calls } = fakeProducer();
    const coalescer = new ProduceCoalescer(producer);
    const first = coalescer.send(msgs('t', 'a'));
    await settle();
    const second = coalescer.send(msgs('t', 'b'));
    const third = coalescer.send(msgs('t', 'c'));
    calls[0]?.release();
    await first;
    await settle();
    calls[1]?.release(new Error('broker down'));
    await expect(second).rejects.toThrow('broker down');
    await expect(third).rejects.toThrow('broker down');
    const fourth = coalescer.send(msgs('t', 'd'));
    await settle();
    calls[2]?.release();
    await expect(fourth).resolves.toBeUndefined();
  });

  it('keeps a request under messagesMax, never splitting one caller', async () => {
    const { producer, calls, carried } = fakeProducer();
    const coalescer = new ProduceCoalescer(producer, 3);
    const sends = [coalescer.send(msgs('t', 'a')), coalescer.send(msgs('t', 'b1', 'b2')), coalescer.send(msgs('t', 'c1', 'c2')), coalescer.send(msgs('t', 'd1', 'd2', 'd3', 'd4'))];
    const moreThanMax = coalescer.send(msgs('t', 'e'));
    for (let i = 0; i < 5; i++) {
      await settle();
      calls[i]?.release();
    }
    await Promise.all([...sends, moreThanMax]);
    // b and c together would be 4; d alone is over the limit, but one caller is never split.
    expect(calls.map((_, i) => carried(i))).toEqual([['t:a'], ['t:b1,b2'], ['t:c1,c2'], ['t:d1,d2,d3,d4'], ['t:e']]);
  });
});
