/** Things a command started and must stop however it ends (success, error or Ctrl-C). */
const cleanups: (() => Promise<void>)[] = [];

export function onExit(cleanup: () => Promise<void>): void {
  cleanups.push(cleanup);
}

/** Runs the registered cleanups, newest first; each runs once. */
export async function runCleanups(): Promise<void> {
  while (cleanups.length > 0) await cleanups.pop()?.();
}
