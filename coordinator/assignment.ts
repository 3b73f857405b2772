/**
 * Which worker runs which task: balanced (task counts differ by at most one) and sticky (a join
 * or a death moves as few tasks as possible). A pure function, so the policy is tested alone.
 *
 * With n tasks and w workers every worker gets ⌊n/w⌋ tasks and n mod w of them one more. The
 * extra slots go to the workers already holding the most tasks, each worker keeps as many of
 * its tasks as its quota allows, and only the surplus and the orphaned tasks move. No
 * assignment can move fewer: a worker over its quota must give the excess away.
 */

/** task -> worker id */
export type Assignment = ReadonlyMap<number, string>;

export function assignTasks(taskCount: number, workers: readonly string[], previous: Assignment): Map<number, string> {
  const result = new Map<number, string>();
  if (workers.length === 0 || taskCount === 0) return result;

  const held = heldTasks(taskCount, workers, previous);
  const quotas = quotasFor(taskCount, workers, held);
  const free: number[] = [];
  for (const worker of workers) {
    const tasks = held.get(worker) ?? [];
    const quota = quotas.get(worker) ?? 0;
    tasks.slice(0, quota).forEach((task) => result.set(task, worker));
    free.push(...tasks.slice(quota));
  }
  for (let task = 0; task < taskCount; task++) {
    if (!result.has(task) && !free.includes(task)) free.push(task);
  }
  free.sort((a, b) => a - b);

  const counts = new Map(workers.map((w) => [w, Math.min(held.get(w)?.length ?? 0, quotas.get(w) ?? 0)]));
  for (const task of free) {
    const worker = workers.find((w) => (counts.get(w) ?? 0) < (quotas.get(w) ?? 0));
    if (worker === undefined) throw new Error(`assignment: no worker has room for task ${task} (a bug)`);
    result.set(task, worker);
    counts.set(worker, (counts.get(worker) ?? 0) + 1);
  }
  return result;
}

/** Tasks each live worker holds now, ascending; tasks of dead workers or out of range are dropped. */
function heldTasks(taskCount: number, workers: readonly string[], previous: Assignment): Map<string, number[]> {
  const live = new Set(workers);
  const held = new Map<string, number[]>();
  for (const [task, worker] of previous) {
    if (task < 0 || task >= taskCount || !live.has(worker)) continue;
    const list = held.get(worker) ?? [];
    list.push(task);
    held.set(worker, list);
  }
  for (const list of held.values()) list.sort((a, b) => a - b);
  return held;
}

/** ⌊n/w⌋ each, plus one for the n mod w workers holding the most now (ties: by id). */
function quotasFor(taskCount: number, workers: readonly string[], held: Map<string, number[]>): Map<string, number> {
  const base = Math.floor(taskCount / workers.length);
  const extra = taskCount % workers.length;
  const byHeldDesc = [...workers].sort((a, b) => {
    const diff = (held.get(b)?.length ?? 0) - (held.get(a)?.length ?? 0);
    return diff !== 0 ? diff : a < b ? -1 : a > b ? 1 : 0;
  });
  return new Map(byHeldDesc.map((worker, i) => [worker, base + (i < extra ? 1 : 0)]));
}

/** Tasks whose owner changes from a live worker to another one (what a rebalance costs). */
export function movedTasks(previous: Assignment, next: Assignment, liveWorkers: readonly string[]): number[] {
  const live = new Set(liveWorkers);
  const moved: number[] = [];
  for (const [task, worker] of previous) {
    if (live.has(worker) && next.get(task) !== worker) moved.push(task);
  }
  return moved.sort((a, b) => a - b);
}
