/**
 * CPU and memory of every process a benchmark involves (coordinator, workers, Kafka's JVM,
 * nats-server, k6, the baseline), sampled once a second with pidusage (`/proc/<pid>/stat` on
 * Linux). CPU is percent of one core over the interval since the previous sample, so a process
 * busy on both cores of a 2-core machine reads 200. A process that is not running yet or is gone
 * simply has no sample for that second.
 *
 * The whole machine's CPU is sampled too (`/proc/stat`), so a report can say how much of it went
 * to processes outside the benchmark: on a shared machine that is what skews the figures.
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import pidusage from 'pidusage';

/** A process to watch; `pid` is asked every sample, so a restarted process is followed. */
export interface SampledProcess {
  name: string;
  pid: () => number | undefined;
}

export interface ProcessUsage {
  pid: number;
  samples: number;
  cpuPctAvg: number;
  cpuPctMax: number;
  rssMbAvg: number;
  rssMbMax: number;
}

interface Accumulator {
  pid: number;
  samples: number;
  cpuSum: number;
  cpuMax: number;
  rssSum: number;
  rssMax: number;
}

/** The machine's CPU over the run, % of one core: all of it, and what processes outside the benchmark used. */
export interface MachineUsage {
  samples: number;
  cpuPctAvg: number;
  cpuPctMax: number;
  othersCpuPctAvg: number;
  othersCpuPctMax: number;
}

export interface SampledUsage {
  processes: Record<string, ProcessUsage>;
  /** Undefined where /proc/stat cannot be read (not Linux). */
  machine: MachineUsage | undefined;
}

/** Busy and total jiffies of all CPUs since boot, from /proc/stat's first line. */
function machineTicks(): { busy: number; total: number } | undefined {
  try {
    const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
    const total = fields.reduce((sum, n) => sum + n, 0);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0); // idle + iowait
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

/** The latest sample of each process, for progress lines. */
export type LatestUsage = Record<string, { cpuPct: number; rssMb: number }>;

export class ProcessSampler {
  private readonly totals = new Map<string, Accumulator>();
  private readonly primed = new Set<number>();
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> = Promise.resolve();
  private lastTicks = machineTicks();
  private readonly machine = { samples: 0, cpuSum: 0, cpuMax: 0, othersSum: 0, othersMax: 0 };
  private readonly cores = cpus().length;
  latest: LatestUsage = {};

  constructor(
    private readonly processes: SampledProcess[],
    private readonly intervalMs = 1_000,
  ) {}

  start(): void {
    if (this.timer !== undefined) return;
    this.inFlight = this.sample();
    this.timer = setInterval(() => {
      this.inFlight = this.inFlight.then(() => this.sample());
    }, this.intervalMs);
  }

  /** Stops sampling and returns per-process averages and maxima (processes never seen are left out). */
  async stop(): Promise<SampledUsage> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.inFlight;
    pidusage.clear(); // closes the /proc files pidusage keeps open between readings
    this.primed.clear();
    const result: Record<string, ProcessUsage> = {};
    for (const [name, a] of this.totals) {
      if (a.samples === 0) continue;
      result[name] = {
        pid: a.pid,
        samples: a.samples,
        cpuPctAvg: round1(a.cpuSum / a.samples),
        cpuPctMax: round1(a.cpuMax),
        rssMbAvg: round1(a.rssSum / a.samples),
        rssMbMax: round1(a.rssMax),
      };
    }
    const m = this.machine;
    const machine = m.samples === 0 ? undefined : {
      samples: m.samples,
      cpuPctAvg: round1(m.cpuSum / m.samples),
      cpuPctMax: round1(m.cpuMax),
      othersCpuPctAvg: round1(m.othersSum / m.samples),
      othersCpuPctMax: round1(m.othersMax),
    };
    return { processes: result, machine };
  }

  private async sample(): Promise<void> {
    const latest: LatestUsage = {};
    let priming = false;
    await Promise.all(
      this.processes.map(async ({ name, pid: pidOf }) => {
        const pid = pidOf();
        if (pid === undefined) return;
        let stat: pidusage.Status;
        try {
          stat = await pidusage(pid);
        } catch {
          return; // not running (yet, or any more): no sample this second
        }
        // pidusage's first reading of a pid covers an interval of ~0 s: keep it only as the base.
        if (!this.primed.has(pid)) {
          this.primed.add(pid);
          priming = true;
          return;
        }
        const rssMb = stat.memory / (1024 * 1024);
        latest[name] = { cpuPct: stat.cpu, rssMb };
        const a = this.totals.get(name);
        if (a === undefined) {
          this.totals.set(name, { pid, samples: 1, cpuSum: stat.cpu, cpuMax: stat.cpu, rssSum: rssMb, rssMax: rssMb });
          return;
        }
        a.pid = pid; // a restarted process goes on under its name
        a.samples += 1;
        a.cpuSum += stat.cpu;
        a.cpuMax = Math.max(a.cpuMax, stat.cpu);
        a.rssSum += rssMb;
        a.rssMax = Math.max(a.rssMax, rssMb);
      }),
    );
    this.latest = latest;
    this.sampleMachine(Object.values(latest).reduce((sum, u) => sum + u.cpuPct, 0), priming);
  }

  /** A round in which some process had only its base reading says nothing about "others": skipped. */
  private sampleMachine(processesCpuPct: number, priming: boolean): void {
    const ticks = machineTicks();
    const last = this.lastTicks;
    this.lastTicks = ticks;
    if (priming || ticks === undefined || last === undefined || ticks.total <= last.total) return;
    const cpuPct = ((ticks.busy - last.busy) / (ticks.total - last.total)) * this.cores * 100;
    const others = Math.max(0, cpuPct - processesCpuPct);
    const m = this.machine;
    m.samples += 1;
    m.cpuSum += cpuPct;
    m.cpuMax = Math.max(m.cpuMax, cpuPct);
    m.othersSum += others;
    m.othersMax = Math.max(m.othersMax, others);
  }
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
