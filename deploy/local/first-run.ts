/**
 * The long first-run steps (Maven fetching jars, Go building a server) with their progress on
 * stderr, read from the tool's own output: on a terminal one line redrawn every second ("fetching
 * the Kafka jars with Maven: 84 files, 61.2 MB, 23 s"), otherwise a line every 15 s, then one line
 * with how long it took. A failure throws with the tail of the tool's output; a Ctrl-C that stops
 * the tool is a StartInterruptedError, not a failure.
 */
import { spawn } from 'node:child_process';
import { existsSync, renameSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { MissingPrerequisiteError } from '../../common/errors.ts';
import { refuseWhileStopping, requireCommand, StartInterruptedError, stopping } from './processes.ts';

/** What a step's output says of its progress. */
export interface ProgressReader {
  /** Reads one line of the tool's output. */
  read(line: string): void;
  /** Progress so far, e.g. "84 files, 61.2 MB"; '' while nothing is known. `finished`: for the line after the step. */
  summary(finished?: boolean): string;
}

export interface FirstRunStep {
  /** What it does, for messages: "fetching the Kafka jars with Maven". */
  what: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  progress: ProgressReader;
  /** Where the progress lines go (default: stderr). */
  out?: NodeJS.WritableStream & { isTTY?: boolean };
}

export async function runFirstRunStep(step: FirstRunStep): Promise<void> {
  refuseWhileStopping(step.what);
  const out = step.out ?? process.stderr;
  const tty = out.isTTY === true;
  const started = Date.now();
  const seconds = () => Math.round((Date.now() - started) / 1000);
  const line = () => {
    const summary = step.progress.summary();
    return `eddy: ${step.what}${summary === '' ? '' : `: ${summary}`}, ${seconds()} s`;
  };
  out.write(`eddy: ${step.what} (first run only; a minute or two)...\n`);
  const child = spawn(step.command, step.args, { env: step.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const tail: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (text) => {
      step.progress.read(text);
      tail.push(text);
      if (tail.length > 30) tail.shift();
    });
  }
  const ticker = setInterval(() => out.write(tty ? `\r\x1b[2K${line()}` : `${line()}\n`), tty ? 1_000 : 15_000);
  let exit: { code: number | null; signal: NodeJS.Signals | null };
  try {
    exit = await new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code, signal) => resolve({ code, signal }));
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new MissingPrerequisiteError(`'${step.command}' was not found: it is needed for ${step.what}`);
    throw err;
  } finally {
    clearInterval(ticker);
    if (tty) out.write('\r\x1b[2K');
  }
  if (exit.code !== 0) {
    // A Ctrl-C reaches the tool too (same process group), and its exit may be seen before the
    // signal's handler has run: an exit by SIGINT or SIGTERM (or 130/143) is an interruption.
    const interrupted = exit.signal === 'SIGINT' || exit.signal === 'SIGTERM' || exit.code === 130 || exit.code === 143;
    const reason = stopping() ?? (interrupted ? `${exit.signal ?? `exit ${exit.code}`}` : undefined);
    if (reason !== undefined) throw new StartInterruptedError(`${step.what} stopped: ${reason}`);
    throw new Error(`${step.what} failed (exit ${exit.code ?? exit.signal}):\n${tail.join('\n')}`);
  }
  const summary = step.progress.summary(true);
  out.write(`eddy: ${step.what}: done in ${seconds()} s${summary === '' ? '' : ` (${summary})`}\n`);
}

/**
 * The runtime jars of `pom` (a `pom` project listing them), copied into `libs` by Maven's
 * `dependency:copy-dependencies` unless `libs` exists; staged and renamed, so an interrupted
 * download is never taken for a complete one. `what` names the jars in messages.
 */
export async function mavenJars(pom: string, libs: string, what: string): Promise<string> {
  if (existsSync(libs)) return libs;
  requireCommand('java', 'install a Java 17 runtime (Debian: apt-get install openjdk-17-jre-headless).');
  const mvn = requireCommand('mvn', `install Apache Maven (Debian: apt-get install maven) to fetch the ${what} jars.`);
  const staging = `${libs}.tmp-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  await runFirstRunStep({
    what: `fetching the ${what} jars with Maven into ${libs}`, command: mvn,
    args: ['-B', '-f', pom, 'dependency:copy-dependencies', '-DincludeScope=runtime', `-DoutputDirectory=${staging}`],
    progress: mavenProgress(),
  });
  renameSync(staging, libs);
  return libs;
}

/** Maven in batch mode: "Downloaded from central: <url> (12 kB at 40 kB/s)" per file. */
export function mavenProgress(): ProgressReader {
  let files = 0;
  let bytes = 0;
  const units: Record<string, number> = { B: 1, kB: 1e3, KB: 1e3, MB: 1e6, GB: 1e9 };
  return {
    read(line) {
      const match = /Downloaded from [^:]+: \S+ \(([\d.]+) (B|kB|KB|MB|GB)/.exec(line);
      if (match === null) return;
      files += 1;
      bytes += Number(match[1]) * (units[match[2]!] ?? 1);
    },
    summary: () => (files === 0 ? '' : `${files} files, ${(bytes / 1e6).toFixed(1)} MB downloaded`),
  };
}

/** `go install`: "go: downloading <module> <version>" per module, then a silent compile. */
export function goProgress(): ProgressReader {
  let modules = 0;
  let lastAt = 0;
  return {
    read(line) {
      if (!line.startsWith('go: downloading ')) return;
      modules += 1;
      lastAt = Date.now();
    },
    summary: (finished = false) => {
      if (modules === 0) return '';
      const compiling = !finished && Date.now() - lastAt > 3_000 ? ', compiling' : '';
      return `${modules} modules downloaded${compiling}`;
    },
  };
}
