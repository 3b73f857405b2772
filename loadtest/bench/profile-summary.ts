/**
 * Where the CPU time went, from the V8 CPU profiles `node --cpu-prof` writes (one file per
 * thread: CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile, thread 0 = the main thread).
 * Self time is summed per node and attributed to a component: an npm package, a file of the
 * project, Node's internals, or V8's own buckets (garbage collector, program, idle).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ThreadProfile {
  file: string;
  pid: number;
  thread: number;
  /** Sampled time, ms, idle included. */
  totalMs: number;
  idleMs: number;
  /** Busy ms per component, largest first. */
  components: { name: string; ms: number }[];
  /** Busy ms per function, largest first. */
  functions: { name: string; ms: number }[];
}

const projectRoot = fileURLToPath(new URL('../..', import.meta.url));

/** The component a call frame belongs to. */
export function componentOf(frame: ProfileNode['callFrame']): string {
  const { url, functionName } = frame;
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) {
    const parts = url.slice(modules + '/node_modules/'.length).split('/');
    return parts[0]?.startsWith('@') === true ? `${parts[0]}/${parts[1] ?? ''}` : (parts[0] ?? url);
  }
  if (url.startsWith('node:')) return 'node';
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  return relative(projectRoot, path);
}

export function summarizeProfile(file: string, profile: CpuProfile): ThreadProfile {
  const match = /\.(\d+)\.(\d+)\.\d+\.cpuprofile$/.exec(file);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const components = new Map<string, number>();
  const functions = new Map<string, number>();
  let totalUs = 0;
  let idleUs = 0;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    totalUs += delta;
    const node = byId.get(id);
    if (node === undefined) return;
    const frame = node.callFrame;
    if (frame.functionName === '(idle)') {
      idleUs += delta;
      return;
    }
    const component = componentOf(frame);
    components.set(component, (components.get(component) ?? 0) + delta);
    const name = `${frame.functionName || '(anonymous)'} ${component}:${frame.lineNumber + 1}`;
    functions.set(name, (functions.get(name) ?? 0) + delta);
  });
  const sorted = (m: Map<string, number>) =>
    [...m].map(([name, us]) => ({ name, ms: us / 1000 })).sort((a, b) => b.ms - a.ms);
  return {
    file,
    pid: Number(match?.[1] ?? 0),
    thread: Number(match?.[2] ?? 0),
    totalMs: totalUs / 1000,
    idleMs: idleUs / 1000,
    components: sorted(components),
    functions: sorted(functions),
  };
}

export function readProfiles(dir: string): ThreadProfile[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => summarizeProfile(f, JSON.parse(readFileSync(join(dir, f), 'utf8')) as CpuProfile));
}

/**
 * A markdown report: per thread, busy share and the top components and functions. `names`
 * maps a pid to a process name (coordinator, worker-1, ...).
 */
export function profileMarkdown(threads: ThreadProfile[], names: ReadonlyMap<number, string>, top = 8): string {
  const lines: string[] = [];
  const label = (t: ThreadProfile) => `${names.get(t.pid) ?? `pid ${t.pid}`} ${t.thread === 0 ? 'main thread' : `thread ${t.thread}`}`;
  const pct = (ms: number, of: number) => (of === 0 ? '0' : ((100 * ms) / of).toFixed(1));
  const ordered = [...threads].sort((a, b) => label(a).localeCompare(label(b), 'en', { numeric: true }));
  lines.push('| thread | sampled s | busy % | top components (% of busy) |', '| --- | --- | --- | --- |');
  for (const t of ordered) {
    const busy = t.totalMs - t.idleMs;
    const parts = t.components.slice(0, 5).map((c) => `${c.name} ${pct(c.ms, busy)}`);
    lines.push(`| ${label(t)} | ${(t.totalMs / 1000).toFixed(1)} | ${pct(busy, t.totalMs)} | ${parts.join(', ')} |`);
  }
  for (const t of ordered) {
    const busy = t.totalMs - t.idleMs;
    if (busy < 0.05 * t.totalMs) continue;
    lines.push('', `**${label(t)}**, top functions by self time (% of busy):`, '');
    for (const f of t.functions.slice(0, top)) lines.push(`- ${pct(f.ms, busy)}% ${f.name}`);
  }
  return lines.join('\n');
}
