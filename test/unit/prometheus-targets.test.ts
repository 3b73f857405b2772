import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { workerTargets, writeTargets } from '../../deploy/prometheus/worker-targets.ts';

const worker = (id: string, endpoint: string, alive: boolean) => ({ id, pid: 1, endpoint, alive, tasks: [], recordsIn: 0, recordsOut: 0 });

describe('Prometheus file_sd targets for workers', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('lists the live workers\' endpoints once each, sorted, without labels', () => {
    const groups = workerTargets({
      workers: [worker('w2', '127.0.0.1:4002', true), worker('w1', '127.0.0.1:4001', true), worker('w0', '127.0.0.1:4000', false), worker('w1', '127.0.0.1:4001', true)],
    });
    expect(groups).toEqual([{ targets: ['127.0.0.1:4001', '127.0.0.1:4002'], labels: {} }]);
  });

  it('writes the file only when the targets change', async () => {
    dir = await mkdtemp(join(tmpdir(), 'eddy-targets-'));
    const file = join(dir, 'workers.json');
    const groups = [{ targets: ['127.0.0.1:4001'], labels: {} }];
    expect(await writeTargets(file, groups)).toBe(true);
    expect(await writeTargets(file, groups)).toBe(false);
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual(groups);
    expect(await writeTargets(file, [{ targets: [], labels: {} }])).toBe(true);
  });
});
