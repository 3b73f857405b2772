/**
 * kafkajs clients wired to Eddy's logger. kafkajs logs every failure it is about to retry at
 * ERROR (e.g. "group coordinator not available" while a fresh broker elects coordinators);
 * a failure that matters surfaces as a thrown error, so those lines go out at `warn`.
 */
import { Kafka, logLevel, type LogEntry, type logCreator } from 'kafkajs';
import type { Logger } from './logger.ts';

// kafkajs 2 warns about its partitioner change on every producer; Eddy always uses the default.
process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';

function pinoLogCreator(logger: Logger): logCreator {
  return () =>
    ({ level, log }: LogEntry) => {
      const { message, ...fields } = log;
      if (level === logLevel.ERROR || level === logLevel.WARN) logger.warn(fields, message);
      else if (level === logLevel.INFO) logger.debug(fields, message);
      else logger.trace(fields, message);
    };
}

export function createKafka(brokers: string[], clientId: string, logger: Logger): Kafka {
  return new Kafka({
    brokers,
    clientId,
    logLevel: logLevel.INFO,
    logCreator: pinoLogCreator(logger.child({ component: 'kafkajs' })),
  });
}
