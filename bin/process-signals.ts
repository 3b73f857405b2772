/**
 * Stops a long-running command cleanly on the first SIGINT/SIGTERM; another one later exits at
 * once. One Ctrl-C often arrives twice within milliseconds (the terminal signals the whole
 * process group, and `npm` or a parent forwards it as well, sometimes as SIGTERM): signals
 * within `sameSignalMs` of the first count as that one.
 */
const sameSignalMs = 1_000;

export function untilSignal(stop: (signal: NodeJS.Signals) => Promise<void>): Promise<void> {
  return new Promise((resolve, reject) => {
    let firstAt: number | undefined;
    const handler = (signal: NodeJS.Signals): void => {
      if (firstAt !== undefined) {
        if (Date.now() - firstAt < sameSignalMs) return;
        process.stderr.write(`\n${signal} again: exiting now\n`);
        process.exit(130);
      }
      firstAt = Date.now();
      stop(signal).then(resolve, reject);
    };
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
  });
}
