/**
 * The job API's layout is part of its contract: job/contract/ holds types that the coordinator and
 * the worker both read and imports nothing but itself; the worker never reaches into the builders;
 * and no module imports itself back through others.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const folders = ['bin', 'common', 'coordinator', 'job', 'worker', 'state', 'proto', 'deploy', 'loadtest', 'examples'];

function sourceFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Relative imports (static, re-exports and dynamic), as repository paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8');
  const found = [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+\.ts)'/g)].map((match) => match[1] as string);
  return found.map((spec) => normalize(join(dirname(file), spec)));
}

const graph = new Map(folders.flatMap(sourceFiles).map((file) => [file, importsOf(file)]));

describe('layout', () => {
  it('job/contract imports nothing outside itself', () => {
    const outside = [...graph].flatMap(([file, deps]) => (file.startsWith('job/contract/') ? deps.filter((d) => !d.startsWith('job/contract/')).map((d) => `${file} -> ${d}`) : []));
    expect(outside).toEqual([]);
  });

  it('the coordinator and the worker read the job through its contract, not its builders', () => {
    const reaching = [...graph].flatMap(([file, deps]) =>
      /^(coordinator|worker)\//.test(file) ? deps.filter((d) => d.startsWith('job/builders/')).map((d) => `${file} -> ${d}`) : [],
    );
    expect(reaching).toEqual([]);
  });

  it('has no import cycles', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (file: string, path: string[]): void => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'open') {
        cycles.push([...path.slice(path.indexOf(file)), file].map((f) => relative('.', f)).join(' -> '));
        return;
      }
      state.set(file, 'open');
      for (const dep of graph.get(file) ?? []) visit(dep, [...path, file]);
      state.set(file, 'done');
    };
    for (const file of graph.keys()) visit(file, []);
    expect(cycles).toEqual([]);
  });
});
