import { describe, expect, it } from 'vitest';
import type { Message } from 'kafkajs';
import { slices } from '../../worker/task-transactions.ts';

const messages = (n: number, tag: string): Message[] => Array.from({ length: n }, (_, i) => ({ key: `${tag}${i}`, value: null }));

describe('slices of a publishing transaction', () => {
  it('keeps every message once, in order per topic, at most `size` per request', () => {
    const byTopic = new Map([['a', messages(7, 'a')], ['b', messages(4, 'b')], ['c', messages(1, 'c')]]);
    const requests = slices(byTopic, 5);
    for (const request of requests) expect(request.reduce((n, t) => n + t.messages.length, 0)).toBeLessThanOrEqual(5);
    for (const [topic, list] of byTopic) {
      const sent = requests.flatMap((r) => r.filter((t) => t.topic === topic).flatMap((t) => t.messages));
      expect(sent).toEqual(list);
    }
    expect(requests).toHaveLength(3);
  });

  it('makes no request for nothing', () => {
    expect(slices(new Map(), 500)).toEqual([]);
  });
});
