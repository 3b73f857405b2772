/**
 * One structured logger for every Eddy process (pino: JSON lines, cheap enough for hot paths;
 * pretty lines instead when a person watches a terminal). Set `EDDY_LOG_LEVEL` (trace..fatal,
 * default info). Values under keys that look like secrets are redacted, so credentials in a
 * config never reach a log.
 */
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

const redactPaths = ['password', '*.password', 'sasl', '*.sasl', 'token', '*.token', 'secret', '*.secret'];

export function createLogger(name: string, level = process.env.EDDY_LOG_LEVEL ?? 'info'): Logger {
  const options = { name, level, redact: { paths: redactPaths, censor: '[redacted]' } };
  const format = process.env.EDDY_LOG_FORMAT;
  if (format === 'pretty' || (format !== 'json' && process.stderr.isTTY)) {
    return pino(options, pretty({ destination: 2, colorize: true, ignore: 'pid,hostname', sync: true }));
  }
  return pino(options, pino.destination(2));
}
