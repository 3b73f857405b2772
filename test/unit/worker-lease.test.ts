import { describe, expect, it } from 'vitest';
import { Lease } from '../../worker/control-client.ts';
import { CheckpointStore } from '../../state/checkpoint-store.ts';

describe('the worker lease (worker/control-client.ts)', () => {
  it('runs from the SEND time of the newest acknowledged heartbeat, not the time its ack arrived', () => {
    let now = 0;
    const lease = new Lease(() => now);
    expect(lease.valid()).toBe(false); // no Welcome yet: no lease
    lease.newSession();
    lease.sent(0); // Hello at 0
    now = 400;
    lease.acked(0, 1_500); // Welcome arrives late
    expect(lease.valid()).toBe(true);
    now = 1_499;
    expect(lease.valid()).toBe(true);
    now = 1_500;
    expect(lease.valid()).toBe(false); // 1,500 after the Hello was sent, though the Welcome came at 400
  });

  it('is extended by acked heartbeats, reports its expiry once, and ignores acks of an earlier session', () => {
    let now = 0;
    const lease = new Lease(() => now);
    lease.newSession();
    lease.sent(0);
    lease.acked(0, 1_000);
    now = 500;
    const seq = lease.nextSeq();
    lease.sent(seq);
    now = 900;
    lease.acked(seq);
    now = 1_400;
    expect(lease.valid()).toBe(true); // until 1,500
    now = 1_600;
    expect(lease.expiredFor()).toBe(1_100); // silent since the heartbeat sent at 500
    expect(lease.expiredFor()).toBeUndefined(); // once
    // A new session: an ack for a heartbeat of the old one must not bring the lease back.
    const stale = lease.nextSeq();
    lease.sent(stale);
    lease.newSession();
    lease.acked(stale);
    expect(lease.valid()).toBe(false);
    lease.sent(0);
    lease.acked(0, 1_000);
    expect(lease.valid()).toBe(true);
  });

  it('does not pile up heartbeats nobody answers', () => {
    const lease = new Lease(() => 0);
    lease.newSession();
    for (let i = 0; i < 10_000; i++) lease.sent(lease.nextSeq());
    expect((lease as unknown as { sentAt: Map<number, number> }).sentAt.size).toBeLessThanOrEqual(64);
  });
});

describe('snapshot names', () => {
  it('differ per writing process and per assignment, so a late stale writer never replaces an acknowledged file', () => {
    const store = new CheckpointStore('/store');
    const names = new Set([
      store.snapshotRef(5, 1, 'w1-aaaa', 10),
      store.snapshotRef(5, 1, 'w1-aaaa', 11),
      store.snapshotRef(5, 1, 'w1-bbbb', 10),
      store.snapshotRef(5, 1, 'w2-aaaa', 10),
    ]);
    expect(names.size).toBe(4);
    expect(store.snapshotRef(5, 1, 'w/../x', 3)).toBe('chk-5/task-1.w____x.g3.snap');
  });
});
