/**
 * Ingest requests waiting for their events' acks. Each entry resolves when every event has
 * been acked (repeats, e.g. after a task was restored and handled an event again, count once)
 * or rejects at its deadline; either way the entry is removed, so nothing leaks.
 */
export class RequestTimeoutError extends Error {
  override readonly name = 'RequestTimeoutError';
  constructor(readonly acked: number, readonly expected: number, timeoutMs: number) {
    super(`${acked} of ${expected} events acknowledged within ${timeoutMs} ms`);
  }
}

interface Pending {
  expected: number;
  acked: Uint8Array;
  count: number;
  resolve(): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export class PendingRequests {
  private readonly pending = new Map<string, Pending>();

  get size(): number {
    return this.pending.size;
  }

  /** Registers a request of `expected` events; call before producing them. */
  wait(request: string, expected: number, timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        const entry = this.pending.get(request);
        this.pending.delete(request);
        reject(new RequestTimeoutError(entry?.count ?? 0, expected, timeoutMs));
      }, timeoutMs);
      this.pending.set(request, { expected, acked: new Uint8Array(expected), count: 0, resolve, reject, timer });
    });
  }

  /** Acks runs of events of `request`: `runs` holds pairs first, last (both included). */
  ack(request: string, runs: readonly number[]): void {
    const entry = this.pending.get(request);
    if (entry === undefined) return; // finished, timed out, or another node's
    for (let r = 0; r + 1 < runs.length; r += 2) {
      const first = Math.max(0, runs[r] ?? 0);
      const last = Math.min(entry.expected - 1, runs[r + 1] ?? -1);
      for (let i = first; i <= last; i++) {
        if (entry.acked[i] === 1) continue;
        entry.acked[i] = 1;
        entry.count += 1;
      }
    }
    if (entry.count === entry.expected) this.finish(request, entry).resolve();
  }

  /** Fails a request at once (e.g. producing to Kafka failed). */
  fail(request: string, err: Error): void {
    const entry = this.pending.get(request);
    if (entry !== undefined) this.finish(request, entry).reject(err);
  }

  /** Rejects everything still waiting (shutdown). */
  failAll(err: Error): void {
    for (const [request, entry] of this.pending) this.finish(request, entry).reject(err);
  }

  private finish(request: string, entry: Pending): Pending {
    clearTimeout(entry.timer);
    this.pending.delete(request);
    return entry;
  }
}
