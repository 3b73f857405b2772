/**
 * `npx tsx deploy/prometheus/targets.ts [--admin URL] [--out FILE] [--every S]`: writes the live
 * workers' metrics endpoints, read from the coordinator, as Prometheus `file_sd` targets
 * (default `deploy/prometheus/targets/workers.json`, which prometheus.yml watches). Once by
 * default; with `--every S` it refreshes every S seconds until Ctrl-C, keeping the last
 * targets while the coordinator does not answer.
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { integerOption } from '../../bin/options.ts';
import { clientToken, loadConfig } from '../../common/config.ts';
import { ensureError } from '../../common/errors.ts';
import { fetchCluster, workerTargets, writeTargets } from './worker-targets.ts';

interface TargetsFlags {
  admin?: string;
  out: string;
  every: number;
}

const defaultOut = fileURLToPath(new URL('targets/workers.json', import.meta.url));

async function refresh(adminUrl: string, out: string, token: string | undefined): Promise<void> {
  const groups = workerTargets(await fetchCluster(adminUrl, 5_000, token));
  if (await writeTargets(out, groups)) console.error(`${out}: ${groups[0]?.targets.join(' ') || 'no live workers'}`);
}

const command = new Command('targets')
  .description('write the Eddy workers\' metrics endpoints as Prometheus file_sd targets')
  .option('--admin <url>', 'coordinator admin URL (default: http://<cluster.host>:<cluster.adminPort>)')
  .option('--out <file>', 'file_sd file to write', defaultOut)
  .option('--every <s>', 'refresh every S seconds until stopped (0 = once)', integerOption('--every', 0, 3600), 0)
  .action(async (flags: TargetsFlags) => {
    const config = loadConfig();
    const adminUrl = flags.admin ?? `http://${config.cluster.host}:${config.cluster.adminPort}`;
    const token = clientToken(config);
    await mkdir(dirname(flags.out), { recursive: true });
    if (flags.every === 0) return refresh(adminUrl, flags.out, token);
    for (;;) {
      await refresh(adminUrl, flags.out, token).catch((err: unknown) => console.error(`${ensureError(err).message}; keeping the last targets`));
      await sleep(flags.every * 1000);
    }
  });

try {
  await command.parseAsync(process.argv);
} catch (err) {
  console.error(`targets: ${ensureError(err).message}`);
  process.exitCode = 1;
}
