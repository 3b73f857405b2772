/**
 * What `eddy up` shows of its processes' logs: their JSON lines stay whole in the log files, and
 * the terminal gets the warnings and errors only, as one readable line each
 * (`[worker-2] WARN task failed on worker; offering it again  task=5 reason=...`). Lines that are
 * not JSON (a crash's stack trace) are shown as they are.
 */

const levels: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
/** Fields every line has, left out of the readable form. */
const noise = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg', 'component']);

/** The readable form of one process's log line, or undefined when it is below `minLevel`. */
export function readableLogLine(process: string, line: string, minLevel = 40): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return `[${process}] ${line}`;
  }
  if (typeof parsed !== 'object' || parsed === null || typeof (parsed as { level?: unknown }).level !== 'number') return `[${process}] ${line}`;
  const entry = parsed as Record<string, unknown> & { level: number; msg?: unknown };
  if (entry.level < minLevel) return undefined;
  const fields = Object.entries(entry)
    .filter(([key]) => !noise.has(key))
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(' ');
  return `[${process}] ${levels[entry.level] ?? entry.level} ${typeof entry.msg === 'string' ? entry.msg : ''}${fields === '' ? '' : `  ${fields}`}`;
}
