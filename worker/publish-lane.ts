/**
 * The worker's tasks publish their checkpoints' exactly-once outputs one task at a time. A
 * completed checkpoint reaches every task at once; publishing all of them together was one
 * burst of encoding per second that held up ingest answers, fetches and acks on the main thread
 * (and Kafka) for its whole length. One at a time, the event loop gets a turn between every
 * produce request, and the work spreads over the interval instead of piling into its start.
 */
export class PublishLane {
  private tail: Promise<unknown> = Promise.resolve();

  /** Runs `step` after every step handed in before it has ended (failed ones included). */
  run<T>(step: () => Promise<T>): Promise<T> {
    const result = this.tail.then(step);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
