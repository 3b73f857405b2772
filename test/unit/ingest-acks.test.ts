import { describe, expect, it } from 'vitest';
import { ingestMessages, keyPartitioner } from '../../worker/ingest/ingest-messages.ts';
import { ingestHeader, ingestRefOf, type IngestRef } from '../../worker/ingest/ingest-ref.ts';
import { PendingRequests, RequestTimeoutError } from '../../worker/ingest/pending-requests.ts';
import type { SourceRecord } from '../../worker/thread-protocol.ts';

const recordWith = (header: string | undefined): SourceRecord => ({
  topic: 't', partition: 0, offset: '0', timestamp: 0, key: null, value: null, headers: header === undefined ? undefined : { [ingestHeader]: header },
});

describe('keyPartitioner', () => {
  it('places keys as the Java client does (murmur2, positive, modulo the partition count)', () => {
    // Expected values computed independently from Kafka's Utils.murmur2.
    const twelve = keyPartitioner('t', 12);
    const seven = keyPartitioner('t', 7);
    expect(['k0', 'k1', 'k42', 'customer-17', 'order:123456'].map(twelve)).toEqual([5, 5, 2, 4, 9]);
    expect(['k0', 'k1', 'k42', 'customer-17', 'order:123456'].map(seven)).toEqual([2, 0, 0, 6, 1]);
    const nulls = Array.from({ length: 24 }, () => twelve(null));
    expect(new Set(nulls).size).toBeGreaterThan(1); // null keys spread
  });
});

describe('ingestMessages', () => {
  const events = ['a1', 'b1', 'a2', 'c1', 'b2', 'a3'].map((id) => ({ key: id[0] ?? null, value: { id } }));
  const byLetter = (key: string | Buffer | null) => ({ a: 2, b: 0, c: 1 })[String(key) as 'a' | 'b' | 'c'];

  it('orders events by partition, keeping their order within each, and stamps the last of each run', () => {
    const messages = ingestMessages('t', events, byLetter, { node: 'w-1', request: 'r9', wait: 'processed' });
    expect(messages.map((m) => `${m.partition}:${String(m.value)}`)).toEqual(['0:{"id":"b1"}', '0:{"id":"b2"}', '1:{"id":"c1"}', '2:{"id":"a1"}', '2:{"id":"a2"}', '2:{"id":"a3"}']);
    expect(messages.map((m) => m.headers?.[ingestHeader])).toEqual([undefined, 'w-1|r9|0-1|processed', 'w-1|r9|2-2|processed', undefined, undefined, 'w-1|r9|3-5|processed']);
  });

  it('keeps the caller\'s headers, and stamps nothing for wait=none', () => {
    const withHeaders = [{ key: 'a', value: 'x', headers: { trace: '1' } }, { key: 'a', value: 'y', headers: { trace: '2' } }];
    const stamped = ingestMessages('t', withHeaders, byLetter, { node: 'n', request: 'r', wait: 'committed' });
    expect(stamped.map((m) => m.headers)).toEqual([{ trace: '1' }, { trace: '2', [ingestHeader]: 'n|r|0-1|committed' }]);
    expect(ingestMessages('t', withHeaders, byLetter).map((m) => m.headers)).toEqual([{ trace: '1' }, { trace: '2' }]);
  });

  it('drops an eddy.ingest header the caller sent, so no event can ack someone else\'s request', () => {
    const spoofed = [{ key: 'a', value: 'x', headers: { [ingestHeader]: 'w-2|other|0-99|processed', trace: '1' } }, { key: 'b', value: 'y' }];
    expect(ingestMessages('t', spoofed, byLetter).map((m) => m.headers)).toEqual([undefined, { trace: '1' }]);
    expect(ingestMessages('t', spoofed, byLetter, { node: 'n', request: 'r', wait: 'processed' }).map((m) => m.headers)).toEqual([
      { [ingestHeader]: 'n|r|0-0|processed' },
      { trace: '1', [ingestHeader]: 'n|r|1-1|processed' },
    ]);
  });
});

describe('ingestRefOf', () => {
  it('reads a run back, and ignores refs that are not well formed', () => {
    const ref: IngestRef = { node: 'w-1', request: 'abc', first: 3, last: 7, wait: 'committed' };
    expect(ingestRefOf(recordWith('w-1|abc|3-7|committed'))).toEqual(ref);
    for (const bad of [undefined, 'w|r|3|processed', 'w|r|7-3|processed', 'w|r|-1-2|processed', 'w|r|a-b|processed', 'w|r|0-1|none', 'w|r']) {
      expect(ingestRefOf(recordWith(bad))).toBeUndefined();
    }
  });
});

describe('PendingRequests', () => {
  it('resolves once every event was acked, counting repeats and overlapping runs once', async () => {
    const pending = new PendingRequests();
    const done = pending.wait('r', 6, 5_000);
    pending.ack('r', [0, 1, 3, 5]);
    pending.ack('r', [0, 1, 4, 5]); // a repeat after a restore
    expect(pending.size).toBe(1);
    pending.ack('r', [2, 2]);
    await expect(done).resolves.toBeUndefined();
    expect(pending.size).toBe(0);
  });

  it('times out naming how many events were acked; runs outside the request count nothing', async () => {
    const pending = new PendingRequests();
    const done = pending.wait('r', 4, 50);
    pending.ack('r', [2, 9, -5, 0]);
    pending.ack('other', [0, 3]);
    const err = await done.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RequestTimeoutError);
    expect(err).toMatchObject({ acked: 3, expected: 4 });
  });
});
