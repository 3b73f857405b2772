/** `eddy certs`: a cluster's own CA and certificates for mutual TLS on the control plane. */
import { Command } from 'commander';
import { createClusterCerts } from '../common/cluster-certs.ts';
import { coordinatorName } from '../common/cluster-tls.ts';

export function certsCommand(): Command {
  return new Command('certs')
    .description('create a local CA and certificates for the coordinator and each worker (mutual TLS on the control plane; use with security.tlsDir / EDDY_TLS_DIR)')
    .requiredOption('--dir <path>', 'where to write them (existing files are kept: run again to add workers)')
    .option('--workers <ids>', 'worker ids, comma-separated (each gets a client certificate with its id as common name)', 'worker-1,worker-2,worker-3')
    .option('--hosts <names>', 'names and addresses workers reach the coordinator by, comma-separated', '127.0.0.1,localhost')
    .option('--days <n>', 'validity in days', '825')
    .action(async (flags: { dir: string; workers: string; hosts: string; days: string }) => {
      const list = (text: string) => text.split(',').map((s) => s.trim()).filter((s) => s !== '');
      const days = Number(flags.days);
      if (!Number.isInteger(days) || days < 1) throw new Error(`--days takes a whole number of days, not '${flags.days}'`);
      const written = await createClusterCerts(flags.dir, { workers: list(flags.workers), hosts: list(flags.hosts), days });
      console.log(written.length === 0 ? `certs: everything asked for is already in ${flags.dir}` : `certs: wrote ${written.map((n) => `${n}.crt/.key`).join(', ')} in ${flags.dir}`);
      console.log(`start every process with EDDY_TLS_DIR=${flags.dir} (or security.tlsDir): the ${coordinatorName} presents ${coordinatorName}.crt, each worker <its id>.crt, all trust ca.crt; keep the *.key files (ca.key above all) private`);
    });
}
