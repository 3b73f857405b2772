/**
 * The checkpoint store on a small volume of its own, so the nemesis can fill it to the last
 * byte or make it read-only for a while: a tmpfs mounted over the store's directory (root only;
 * anything else is an error saying so). Real ENOSPC and EROFS, from the kernel, not mocks.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export class StoreVolume {
  private mounted = false;
  private readonly ballast: string;

  constructor(readonly dir: string, private readonly sizeMb = 64) {
    this.ballast = join(dir, 'nemesis-ballast');
  }

  mount(): void {
    mkdirSync(this.dir, { recursive: true });
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${this.sizeMb}m,mode=0755`, 'eddy-nemesis-store', this.dir], { stdio: 'pipe' });
    } catch (err) {
      throw new Error(`nemesis: the checkpoint-store faults mount a tmpfs at ${this.dir} and need root (or CAP_SYS_ADMIN): ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}`);
    }
    this.mounted = true;
  }

  /** Fills the volume: every later write fails with ENOSPC until {@link unfill}. */
  fill(): void {
    const free = (): number => {
      const s = statfsSync(this.dir);
      return s.bavail * s.bsize;
    };
    const chunk = Buffer.alloc(1024 * 1024);
    for (let i = 0; free() > 0; i++) {
      try {
        writeFileSync(`${this.ballast}-${i}`, free() >= chunk.length ? chunk : chunk.subarray(0, free()));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
        throw err;
      }
    }
  }

  unfill(): void {
    for (const name of readdirSync(this.dir)) if (name.startsWith('nemesis-ballast-')) rmSync(join(this.dir, name), { force: true });
  }

  /** Remounts read-only (retrying while a file is open for writing, which makes the kernel refuse). */
  async readOnly(): Promise<void> {
    await this.remount('ro');
  }

  async writable(): Promise<void> {
    await this.remount('rw');
  }

  async unmount(): Promise<void> {
    if (!this.mounted) return;
    await this.writable().catch(() => undefined);
    for (let attempt = 0; attempt < 50; attempt++) {
      try {
        execFileSync('umount', [this.dir], { stdio: 'pipe' });
        this.mounted = false;
        return;
      } catch {
        await sleep(200);
      }
    }
    execFileSync('umount', ['-l', this.dir], { stdio: 'pipe' });
    this.mounted = false;
  }

  /**
   * The kernel refuses a read-only remount while any file on it is open for writing: a snapshot
   * being written, for as long as its writer runs, which is as long as a paused worker (SIGSTOP,
   * a fault that can overlap this one) stays paused. So this retries for up to 20 s.
   */
  private async remount(mode: 'ro' | 'rw'): Promise<void> {
    let last: unknown;
    for (const deadline = Date.now() + 20_000; Date.now() < deadline; ) {
      try {
        execFileSync('mount', ['-o', `remount,${mode}`, this.dir], { stdio: 'pipe' });
        return;
      } catch (err) {
        last = err;
        await sleep(20);
      }
    }
    throw new Error(`nemesis: could not remount ${this.dir} ${mode}: ${String((last as { stderr?: Buffer }).stderr ?? last).trim()}`);
  }
}
