// The first-run steps' progress, read from the tools' real output: the fixtures are what Maven
// 3.8.7 (`mvn -B ... dependency:copy-dependencies` of deploy/local/kafka/pom.xml into an empty
// local repository) and Go 1.26 (`go install` of nats-server v2.11.10 into an empty module
// cache) printed here on 2026-12-07. The expected figures were counted from the files with grep
// and awk. The runner itself is driven with `sh` standing in for the tool.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { MissingPrerequisiteError } from '../../common/errors.ts';
import { goProgress, mavenProgress, runFirstRunStep, type ProgressReader } from '../../deploy/local/first-run.ts';
import { StartInterruptedError } from '../../deploy/local/processes.ts';

const fixture = (name: string) => readFileSync(join(import.meta.dirname, 'fixtures', 'first-run', name), 'utf8').split('\n');

function collect(): PassThrough & { text(): string } {
  const out = new PassThrough();
  let text = '';
  out.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return Object.assign(out, { text: () => text });
}

describe('first-run progress', () => {
  it('counts the files and bytes Maven downloaded', () => {
    const progress = mavenProgress();
    expect(progress.summary()).toBe('');
    for (const line of fixture('maven-kafka-jars.txt')) progress.read(line);
    expect(progress.summary()).toBe('452 files, 68.2 MB downloaded');
  });

  it('counts the modules go install downloaded', () => {
    const progress = goProgress();
    for (const line of fixture('go-install-nats-server.txt')) progress.read(line);
    expect(progress.summary()).toMatch(/^11 modules downloaded/);
  });

  it('says what it does, its progress while it runs, and how long it took', async () => {
    const out = collect();
    const progress: ProgressReader = { read: () => undefined, summary: () => '3 things' };
    await runFirstRunStep({ what: 'fetching things', command: 'sh', args: ['-c', 'echo one; echo two'], progress, out });
    expect(out.text()).toMatch(/^eddy: fetching things \(first run only; a minute or two\)\.\.\.\neddy: fetching things: done in \d+ s \(3 things\)\n$/);
  });

  it('fails with the tail of the tool\'s output, and names a missing tool', async () => {
    const out = collect();
    const step = { what: 'fetching things', args: ['-c', 'echo "[ERROR] Could not resolve dependencies for project eddy"; exit 3'], progress: mavenProgress(), out };
    await expect(runFirstRunStep({ ...step, command: 'sh' })).rejects.toThrow(/fetching things failed \(exit 3\):\n\[ERROR\] Could not resolve dependencies for project eddy/);
    await expect(runFirstRunStep({ ...step, command: 'no-such-tool-here' })).rejects.toThrow(MissingPrerequisiteError);
  });

  it('takes a tool stopped by Ctrl-C (SIGINT) for an interruption, not a failure', async () => {
    const out = collect();
    await expect(runFirstRunStep({ what: 'fetching things', command: 'sh', args: ['-c', 'kill -INT $$'], progress: mavenProgress(), out })).rejects.toThrow(StartInterruptedError);
  });
});
