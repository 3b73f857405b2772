/**
 * The independent check behind every delivery claim: read `eos-check`'s output with a fresh
 * read_committed consumer and compare it with what the input implies: for every key, outputs
 * with seq 1..n, each exactly once, and count == seq (state neither lost nor doubled).
 */
import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';

export interface EosVerdict {
  outputs: number;
  /** (key, seq) pairs of the input that no output carries. */
  lost: number;
  /** Outputs beyond the first for the same (key, seq). */
  duplicated: number;
  /** Distinct outputs whose count differs from seq. */
  wrongCounts: number;
}

export interface EosOutput {
  key: string;
  seq: number;
  count: number;
}

export function verifyEosOutputs(outputs: readonly EosOutput[], keys: readonly string[], n: number): EosVerdict {
  const seen = new Map<string, number>();
  let wrongCounts = 0;
  for (const out of outputs) {
    const id = `${out.key}/${out.seq}`;
    if (!seen.has(id) && out.count !== out.seq) wrongCounts += 1;
    seen.set(id, (seen.get(id) ?? 0) + 1);
  }
  let lost = 0;
  for (const key of keys) for (let seq = 1; seq <= n; seq++) if (!seen.has(`${key}/${seq}`)) lost += 1;
  const duplicated = [...seen.values()].reduce((sum, c) => sum + c - 1, 0);
  return { outputs: outputs.length, lost, duplicated, wrongCounts };
}

/**
 * Reads `topic` from the beginning (read_committed) until every key reached seq n, or until
 * `timeoutMs`; then keeps reading `settleMs` more so late repeats would show.
 */
export async function readEosOutputs(kafka: Kafka, topic: string, keys: readonly string[], n: number, options: { timeoutMs: number; settleMs: number }): Promise<EosOutput[]> {
  const consumer = kafka.consumer({ groupId: `eddy-verifier-${randomUUID()}`, readUncommitted: false, maxWaitTimeInMs: 200 });
  const outputs: EosOutput[] = [];
  const waiting = new Set(keys);
  let reached: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (reached = resolve));
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: ({ batch }) => {
        for (const message of batch.messages) {
          const out = JSON.parse(message.value?.toString() ?? 'null') as EosOutput;
          outputs.push(out);
          if (out.seq === n) waiting.delete(out.key);
        }
        if (waiting.size === 0) reached();
        return Promise.resolve();
      },
    });
    const timer = new Promise<void>((resolve) => setTimeout(resolve, options.timeoutMs).unref());
    await Promise.race([done, timer]);
    await new Promise((resolve) => setTimeout(resolve, options.settleMs));
  } finally {
    await consumer.disconnect();
  }
  return outputs;
}
