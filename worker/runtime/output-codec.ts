/**
 * How a buffered output is stored in the task's LevelDB (and so in snapshots): JSON, with a
 * dead letter's original key and value bytes in base64, so the dead-letter topic receives
 * exactly the bytes that failed, even after a restore on another worker.
 */
import type { BufferedOutput, DeadLetter, OutputRecord, SourceRecord } from '../thread-protocol.ts';

/** A source record with its key and value bytes in base64. */
type StoredSource = Omit<SourceRecord, 'key' | 'value'> & { key: string | null; value: string | null };
type StoredItem = { epoch: number; output: OutputRecord } | { epoch: number; deadLetter: Omit<DeadLetter, 'source'> & { source: StoredSource } };

/** The JSON of a buffered output. */
export function encodeBuffered(item: BufferedOutput): string {
  if ('output' in item) return JSON.stringify(item);
  const { source } = item.deadLetter;
  const stored: StoredItem = { epoch: item.epoch, deadLetter: { ...item.deadLetter, source: { ...source, key: toBase64(source.key), value: toBase64(source.value) } } };
  return JSON.stringify(stored);
}

/** A buffered output back from its JSON. */
export function decodeBuffered(json: string): BufferedOutput {
  const stored = JSON.parse(json) as StoredItem;
  if ('output' in stored) return stored;
  const { source } = stored.deadLetter;
  return { epoch: stored.epoch, deadLetter: { ...stored.deadLetter, source: { ...source, key: fromBase64(source.key), value: fromBase64(source.value) } } };
}

function toBase64(bytes: Uint8Array | null): string | null {
  return bytes === null ? null : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

function fromBase64(text: string | null): Uint8Array | null {
  return text === null ? null : new Uint8Array(Buffer.from(text, 'base64'));
}
