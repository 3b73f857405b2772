/**
 * kafkajs 2.2.4 schedules a timer at `throttledUntil - Date.now()` with `throttledUntil` at -1
 * when no broker throttles it, so on Node 24 every client prints "TimeoutNegativeWarning:
 * -17966... is a negative number" (kafkajs issue #1751; Node sets the delay to 1 ms, as older
 * Nodes did silently). Importing this module drops that one warning when kafkajs causes it;
 * every other warning, and this one from any other code, still prints.
 */
const emitWarning = process.emitWarning.bind(process) as (...args: unknown[]) => void;

process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  const first = rest[0];
  const type = warning instanceof Error ? warning.name : typeof first === 'string' ? first : (first as { type?: string } | undefined)?.type;
  if (type === 'TimeoutNegativeWarning' && /[\\/]kafkajs[\\/]/.test(new Error().stack ?? '')) return;
  emitWarning(warning, ...rest);
});
