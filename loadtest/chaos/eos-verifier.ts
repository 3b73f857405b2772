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
  /** Where the reader found it (diagnostics only). */
  partition?: number;
  offset?: string;
}

export function verifyEosOutputs(outputs: readonly EosOutput[], keys: readonly string[], n: number): EosVerdict {
  const problems = findEosProblems(outputs, keys, n);
  return { outputs: outputs.length, lost: problems.lost.length, duplicated: problems.duplicated.length, wrongCounts: problems.wrongCounts.length };
}

/** The (key, seq) of each problem: one entry per lost pair, per extra copy, per distinct wrong count. */
export interface EosProblems {
  lost: { key: string; seq: number }[];
  duplicated: { key: string; seq: number; partition?: number; offset?: string }[];
  wrongCounts: { key: string; seq: number }[];
}

export function findEosProblems(outputs: readonly EosOutput[], keys: readonly string[], n: number): EosProblems {
  const seen = new Map<string, number>();
  const problems: EosProblems = { lost: [], duplicated: [], wrongCounts: [] };
  for (const out of outputs) {
    const id = `${out.key}/${out.seq}`;
    const copies = seen.get(id) ?? 0;
    if (copies === 0 && out.count !== out.seq) problems.wrongCounts.push({ key: out.key, seq: out.seq });
    if (copies > 0) problems.duplicated.push({ key: out.key, seq: out.seq, partition: out.partition, offset: out.offset });
    seen.set(id, copies + 1);
  }
  for (const key of keys) for (let seq = 1; seq <= n; seq++) if (!seen.has(`${key}/${seq}`)) problems.lost.push({ key, seq });
  return problems;
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
          outputs.push({ ...out, partition: batch.partition, offset: message.offset });
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
