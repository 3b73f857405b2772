// What the Kafka source hands to actor threads: each record's key and value as views on one
// array holding only this batch's bytes, not on the fetch response kafkajs decoded them from.
import { MessageChannel } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { compactBytes } from '../../worker/kafka-source.ts';

describe('compactBytes', () => {
  it('copies keys and values into one array of exactly their size, keeping nulls and order', () => {
    const response = Buffer.alloc(1 << 20, 0x2a); // stands for a large fetch response
    response.write('k1', 100);
    response.write('{"a":1}', 200);
    response.write('{"b":2}', 300);
    const messages = [
      { key: response.subarray(100, 102), value: response.subarray(200, 207) },
      { key: null, value: response.subarray(300, 307) },
      { key: response.subarray(100, 102), value: null },
    ];
    const { keys, values } = compactBytes(messages);
    expect(keys.map((k) => (k === null ? null : Buffer.from(k).toString()))).toEqual(['k1', null, 'k1']);
    expect(values.map((v) => (v === null ? null : Buffer.from(v).toString()))).toEqual(['{"a":1}', '{"b":2}', null]);
    const buffers = new Set([...keys, ...values].filter((b) => b !== null).map((b) => b.buffer));
    expect(buffers.size).toBe(1);
    expect([...buffers][0]!.byteLength).toBe(2 + 7 + 7 + 2);
  });

  it('posts to another thread with only the batch bytes behind it', async () => {
    const response = Buffer.alloc(1 << 20, 0x2a);
    const { values } = compactBytes([{ key: null, value: response.subarray(10, 20) }]);
    const { port1, port2 } = new MessageChannel();
    const received = new Promise<Uint8Array>((resolve) => port2.once('message', resolve));
    port1.postMessage(values[0]);
    const copy = await received;
    port1.close();
    expect(copy.length).toBe(10);
    expect(copy.buffer.byteLength).toBe(10);
  });
});
