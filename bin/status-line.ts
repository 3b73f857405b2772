/**
 * `eddy up`'s live summary: one line that redraws itself in place on a terminal (and is printed
 * every few seconds when the output is not a terminal), with the processes' warnings printed
 * above it, so the terminal shows the state of the cluster instead of a flood of log lines.
 */
import type { DashboardSnapshot } from '../coordinator/dashboard/dashboard-feed.ts';

export class StatusLine {
  private current = '';
  constructor(private readonly out: NodeJS.WriteStream = process.stdout) {}

  /** Replaces the status line. */
  update(text: string): void {
    this.current = text;
    if (this.out.isTTY) this.out.write(`\r\x1b[2K${fit(text, this.out.columns)}`);
    else this.out.write(`${text}\n`);
  }

  /** Prints a line above the status line (a warning of a process). */
  print(line: string): void {
    if (this.out.isTTY) this.out.write(`\r\x1b[2K${line}\n${fit(this.current, this.out.columns)}`);
    else this.out.write(`${line}\n`);
  }

  /** Leaves the status line as the last line printed. */
  end(): void {
    if (this.out.isTTY && this.current !== '') this.out.write('\n');
    this.current = '';
  }
}

function fit(text: string, columns: number | undefined): string {
  return columns !== undefined && columns > 1 && text.length > columns ? `${text.slice(0, Math.max(0, columns - 1))}…` : text;
}

/** The summary of one dashboard snapshot, with what `eddy up` adds (e.g. the generator's count). */
export function summarize(s: DashboardSnapshot, extra = ''): string {
  const n = (v: number) => Math.round(v).toLocaleString('en-US');
  const alive = s.workers.filter((w) => w.alive).length;
  const running = s.tasks.filter((t) => t.state === 'running').length;
  const last = s.checkpoints.recent.find((c) => c.state !== 'pending');
  return [
    `${alive} workers`,
    `${running}/${s.tasks.length} tasks running`,
    `in ${n(s.throughput.inPerSec)}/s`,
    `out ${n(s.throughput.outPerSec)}/s`,
    `lag ${n(s.lag)}`,
    `p95 ${s.latency.p95 === null ? '-' : `${n(s.latency.p95)} ms`}`,
    `checkpoint ${s.checkpoints.latestCompleted}${last === undefined ? '' : last.state === 'completed' ? ` (${last.durationMs} ms)` : ` (last ${last.state}: ${last.reason ?? ''})`}`,
    `dead letters ${n(s.deadLetters.total)}`,
    ...(extra === '' ? [] : [extra]),
  ].join(' · ');
}
