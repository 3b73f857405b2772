// eddy up's terminal: the processes' warnings as readable lines (deploy/local/log-lines.ts) and
// the one-line summary (bin/status-line.ts).
import { describe, expect, it } from 'vitest';
import { summarize } from '../../bin/status-line.ts';
import type { DashboardSnapshot } from '../../coordinator/dashboard/dashboard-feed.ts';
import { readableLogLine } from '../../deploy/local/log-lines.ts';

describe('readable log lines', () => {
  it('shows warnings and errors as one line with their fields, hides info, and keeps lines that are not JSON', () => {
    const warn = JSON.stringify({ level: 40, time: 1, pid: 2, hostname: 'vm', name: 'coordinator', worker: 'worker-2', task: 5, reason: 'Closed connection', msg: 'task failed on worker; offering it again' });
    expect(readableLogLine('coordinator', warn)).toBe('[coordinator] WARN task failed on worker; offering it again  worker=worker-2 task=5 reason=Closed connection');
    expect(readableLogLine('worker-1', JSON.stringify({ level: 30, msg: 'task running', task: 1 }))).toBeUndefined();
    expect(readableLogLine('worker-1', JSON.stringify({ level: 50, msg: 'snapshot failed', err: { code: 'ENOSPC' } }))).toBe('[worker-1] ERROR snapshot failed  err={"code":"ENOSPC"}');
    expect(readableLogLine('worker-1', '    at Object.<anonymous> (x.js:5:11)')).toBe('[worker-1]     at Object.<anonymous> (x.js:5:11)');
  });
});

describe('the status line', () => {
  it('sums up a dashboard snapshot', () => {
    const snapshot = {
      atMs: 0, job: 'demo', generation: 2,
      workers: [{ id: 'w1', pid: 1, endpoint: 'e', alive: true, tasks: [0], reachable: true }, { id: 'w2', pid: 2, endpoint: 'e', alive: false, tasks: [], reachable: false }],
      tasks: [{ task: 0, worker: 'w1', state: 'running', inPerSec: 1, outPerSec: 1, queueDepth: 0, lag: 0 }, { task: 1, worker: null, state: 'unassigned', inPerSec: null, outPerSec: null, queueDepth: null, lag: null }],
      throughput: { inPerSec: 5768.4, outPerSec: 3761 }, lag: 12, latency: { p50: 3, p95: 95.6, p99: 120, windowSec: 10 },
      checkpoints: { latestCompleted: 316, recent: [{ id: 317, state: 'pending', durationMs: 0, bytes: 0, tasks: 0 }, { id: 316, state: 'completed', durationMs: 228, bytes: 1, tasks: 2 }] },
      deadLetters: { total: 3, topic: 'dlq', recent: [] }, results: [],
    } satisfies DashboardSnapshot;
    expect(summarize(snapshot, 'generator 10 events (1/s)')).toBe(
      '1 workers · 1/2 tasks running · in 5,768/s · out 3,761/s · lag 12 · p95 96 ms · checkpoint 316 (228 ms) · dead letters 3 · generator 10 events (1/s)',
    );
  });
});
