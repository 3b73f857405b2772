/** Things a command started and must stop however it ends (success, error or Ctrl-C). */
import { beginStopping } from '../deploy/local/processes.ts';

const cleanups: (() => Promise<void>)[] = [];

export function onExit(cleanup: () => Promise<void>): void {
  cleanups.push(cleanup);
}

const running = new Set<Promise<void>>();

/**
 * Runs the registered cleanups, newest first; each runs once. Resolves when none is left and
 * none is still running, including ones another caller took (the signal handler and the
 * command's own `finally` may both be stopping things).
 */
export async function runCleanups(): Promise<void> {
  for (let next = cleanups.pop(); next !== undefined; next = cleanups.pop()) {
    const run = next();
    running.add(run);
    try {
      await run;
    } finally {
      running.delete(run);
    }
  }
  while (running.size > 0) await Promise.allSettled([...running]);
}

/**
 * While a command starts things (servers, a cluster), the first SIGINT or SIGTERM stops
 * everything started so far and exits 130; later ones (one Ctrl-C often arrives twice: from the
 * terminal and from npm) are ignored while that runs. Nothing new is spawned once it began
 * (deploy/local/processes.ts), and every starter registers its stop before it spawns, so nothing
 * is left running. Returns the function that ends the guard, when the command's own signal
 * handling takes over.
 */
export function stopOnSignalWhileStarting(): () => void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    beginStopping(`${signal} during start-up`);
    process.stderr.write(`\n${signal}: stopping what was started so far\n`);
    void runCleanups()
      .catch((err: unknown) => process.stderr.write(`eddy: while stopping: ${(err as Error).message}\n`))
      .finally(() => {
        process.stderr.write('stopped\n');
        process.exit(130);
      });
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}
