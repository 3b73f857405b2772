/**
 * Where the outputs and dead letters of one request go. Outputs of at-least-once sinks go back
 * to the main thread to be published at once; outputs of exactly-once sinks and every dead
 * letter go to the task's buffer under the current epoch, to be published when a checkpoint
 * covering them commits. Dead letters are also reported back, for logs and metrics.
 */
import type { JobDefinition } from '../../job/contract/job.ts';
import type { BufferedOutput, DeadLetter, OutputRecord } from '../thread-protocol.ts';
import type { OutputBuffer } from './output-buffer.ts';

/** The names of a job's exactly-once sinks. */
export function exactlyOnceSinks(job: JobDefinition): ReadonlySet<string> {
  return new Set(Object.entries(job.sinks).flatMap(([name, sink]) => (sink.delivery === 'exactly-once' ? [name] : [])));
}

export class Emission {
  /** At-least-once outputs, to publish at once. */
  readonly outputs: OutputRecord[] = [];
  readonly deadLetters: DeadLetter[] = [];
  /** What went to the buffer, in order. */
  readonly buffered: BufferedOutput[] = [];
  /** Job counter increments (ctx.count, and `invalid.<source>` / `failed.<actor>` per dead letter). */
  readonly counts: Record<string, number> = {};

  constructor(
    private readonly exactlyOnce: ReadonlySet<string>,
    private readonly buffer: OutputBuffer,
    /** The epoch everything of this request belongs to. */
    private readonly epoch: number,
  ) {}

  /** Outputs of a successful call, in the order they were emitted. */
  push(...outputs: OutputRecord[]): void {
    for (const output of outputs) {
      if (this.exactlyOnce.has(output.sink)) this.hold({ epoch: this.epoch, output });
      else this.outputs.push(output);
    }
  }

  count(counts: Readonly<Record<string, number>>): void {
    for (const [name, by] of Object.entries(counts)) this.counts[name] = (this.counts[name] ?? 0) + by;
  }

  deadLetter(letter: DeadLetter, counter: string): void {
    this.count({ [counter]: 1 });
    this.deadLetters.push(letter);
    this.hold({ epoch: this.epoch, deadLetter: letter });
  }

  private hold(item: BufferedOutput): void {
    this.buffer.append(item);
    this.buffered.push(item);
  }
}
