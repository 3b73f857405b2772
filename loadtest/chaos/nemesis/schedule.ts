/**
 * The nemesis's plan: which faults, on whom, for how long and in what order, all drawn from
 * one seed, so a failing run replays exactly with `--seed`. Pure: the runner (run-nemesis.ts)
 * carries the plan out. Every chosen kind runs alone once, in a seeded order; the remaining
 * rounds combine two kinds at once (on different workers, never two cluster-wide faults).
 */
import { SeededRandom } from '../../cdc/random.ts';

export const faultKinds = [
  'kill-worker',
  'kill-coordinator',
  'pause-worker',
  'pause-during-failover',
  'partition-coordinator',
  'partition-kafka',
  'kill-broker',
  'store-full',
  'store-readonly',
  'corrupt-snapshot',
  'corrupt-base',
  'clock-jump',
] as const;

export type FaultKind = (typeof faultKinds)[number];

/** One fault as injected: `worker` is the victim's name (worker-1..N) where the kind has one. */
export type Fault =
  /** SIGKILL, then a restart once its tasks run elsewhere. */
  | { kind: 'kill-worker'; worker: string }
  /** SIGKILL of the coordinator, restarted at once. */
  | { kind: 'kill-coordinator' }
  /** SIGSTOP for `holdMs` (past the heartbeat timeout), then SIGCONT. */
  | { kind: 'pause-worker'; worker: string; holdMs: number }
  /** SIGSTOP; while it is frozen the coordinator is SIGKILLed and restarted; SIGCONT after `holdMs`. */
  | { kind: 'pause-during-failover'; worker: string; holdMs: number }
  /** The worker's connection to the coordinator (only) is blackholed for `holdMs`. */
  | { kind: 'partition-coordinator'; worker: string; holdMs: number }
  /** The worker's connections to Kafka (only) are blackholed for `holdMs`. */
  | { kind: 'partition-kafka'; worker: string; holdMs: number }
  /** SIGKILL of the Kafka broker while transactions are open, restarted after `holdMs`. */
  | { kind: 'kill-broker'; holdMs: number }
  /** The checkpoint store's volume is filled to the last byte for `holdMs`. */
  | { kind: 'store-full'; holdMs: number }
  /** The checkpoint store's volume is read-only for `holdMs`. */
  | { kind: 'store-readonly'; holdMs: number }
  /** A byte of the newest checkpoint's snapshot of one task is flipped after its ack; then the task's owner is SIGKILLed so the task must restore. */
  | { kind: 'corrupt-snapshot'; task: number }
  /** As corrupt-snapshot, but the byte is flipped in the base of that snapshot's chain, which every retained checkpoint of the task may share. */
  | { kind: 'corrupt-base'; task: number }
  /** The worker's wall clock jumps by `offsetSec` (forward or back) for `holdMs`, then back to true time. */
  | { kind: 'clock-jump'; worker: string; offsetSec: number; holdMs: number };

export interface Round {
  round: number;
  /** Seconds of quiet before the round starts. */
  gapSec: number;
  faults: Fault[];
}

export interface PlanOptions {
  seed: number;
  kinds: readonly FaultKind[];
  /** Rounds in all; at least one per kind (the kinds alone come first). */
  rounds: number;
  workers: number;
  tasks: number;
  heartbeatTimeoutMs: number;
  /** Seconds between rounds, ±50 %. */
  gapSec: number;
}

/** Kinds that act on the whole cluster: at most one of them per round. */
const clusterWide: ReadonlySet<FaultKind> = new Set(['kill-coordinator', 'pause-during-failover', 'kill-broker', 'store-full', 'store-readonly', 'corrupt-snapshot', 'corrupt-base']);

export function planNemesis(options: PlanOptions): Round[] {
  if (options.kinds.length === 0) throw new RangeError('the nemesis needs at least one fault kind');
  const random = new SeededRandom(options.seed);
  const workers = Array.from({ length: options.workers }, (_, i) => `worker-${i + 1}`);
  const alone = shuffle(random, [...options.kinds]);
  const rounds: Round[] = [];
  for (let round = 0; round < Math.max(options.rounds, alone.length); round++) {
    const kinds = round < alone.length ? [alone[round] as FaultKind] : combination(random, options.kinds);
    const victims = shuffle(random, [...workers]);
    const faults = kinds.map((kind, i) => fault(random, kind, victims[i % victims.length] as string, options));
    rounds.push({ round: round + 1, gapSec: Math.round(options.gapSec * (0.5 + random.int(0, 100) / 100) * 10) / 10, faults });
  }
  return rounds;
}

/** Two kinds that can run together (one of them alone if only one kind is chosen). */
function combination(random: SeededRandom, kinds: readonly FaultKind[]): FaultKind[] {
  const first = random.pick(kinds);
  const partners = kinds.filter((k) => k !== first && !(clusterWide.has(k) && clusterWide.has(first)));
  return partners.length === 0 ? [first] : [first, random.pick(partners)];
}

function fault(random: SeededRandom, kind: FaultKind, worker: string, options: PlanOptions): Fault {
  // Past the heartbeat timeout, so the coordinator gives the victim's tasks away meanwhile.
  const pastTimeout = (): number => options.heartbeatTimeoutMs + random.int(500, 3_000);
  switch (kind) {
    case 'kill-worker':
      return { kind, worker };
    case 'kill-coordinator':
      return { kind };
    case 'pause-worker':
    case 'pause-during-failover':
      return { kind, worker, holdMs: pastTimeout() + (kind === 'pause-during-failover' ? 2_000 : 0) };
    case 'partition-coordinator':
    case 'partition-kafka':
      return { kind, worker, holdMs: pastTimeout() + random.int(0, 3_000) };
    case 'kill-broker':
      return { kind, holdMs: random.int(1_000, 4_000) };
    case 'store-full':
    case 'store-readonly':
      return { kind, holdMs: random.int(2_000, 6_000) };
    case 'corrupt-snapshot':
    case 'corrupt-base':
      return { kind, task: random.int(0, options.tasks - 1) };
    case 'clock-jump':
      return { kind, worker, offsetSec: random.pick([-1, 1]) * random.int(60, 7_200), holdMs: random.int(2_000, 8_000) };
  }
}

function shuffle<T>(random: SeededRandom, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = random.int(0, i);
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

/** Parses `--nemesis`: `all` or a comma-separated list of kinds. */
export function parseKinds(spec: string): FaultKind[] {
  if (spec === 'all') return [...faultKinds];
  const kinds = spec.split(',').map((k) => k.trim()).filter((k) => k !== '');
  const unknown = kinds.filter((k) => !(faultKinds as readonly string[]).includes(k));
  if (unknown.length > 0 || kinds.length === 0) throw new RangeError(`--nemesis: unknown fault kind(s) ${unknown.join(', ') || '(none given)'}; choose from all, ${faultKinds.join(', ')}`);
  return kinds as FaultKind[];
}

/** What a fault did, for the report: the fault, when it began and healed, and how long the cluster took to converge after. */
export interface FaultRecord {
  round: number;
  fault: Fault;
  injectedAtMs: number;
  healedAtMs: number;
  /** From heal until every task ran on every live worker again. */
  convergedMs: number;
}

/** A one-line description of a fault for logs. */
export function describeFault(f: Fault): string {
  const { kind, ...rest } = f;
  const details = Object.entries(rest).map(([k, v]) => `${k}=${String(v)}`).join(' ');
  return details === '' ? kind : `${kind} ${details}`;
}
