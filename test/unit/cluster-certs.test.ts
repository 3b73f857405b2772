// `eddy certs` (common/cluster-certs.ts): a CA and certificates Node's own X.509 code accepts,
// each worker's id as its common name, keys for the owner only, the CA kept to add workers.
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createClusterCerts } from '../../common/cluster-certs.ts';
import { commonName, readTlsFiles } from '../../common/cluster-tls.ts';
import { tempDir } from './task-harness.ts';

describe('cluster certificates', () => {
  it('makes a CA, a server certificate for the coordinator\'s hosts and a client certificate per worker', async () => {
    const dir = join(await tempDir(), 'tls');
    expect(await createClusterCerts(dir, { workers: ['worker-1', 'worker-2'], hosts: ['127.0.0.1', 'coordinator.internal'] })).toEqual(['ca', 'coordinator', 'worker-1', 'worker-2']);
    const ca = new X509Certificate(readFileSync(join(dir, 'ca.crt')));
    expect(ca.ca).toBe(true);
    const coordinator = new X509Certificate(readFileSync(join(dir, 'coordinator.crt')));
    expect(coordinator.verify(ca.publicKey)).toBe(true);
    expect(coordinator.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(coordinator.checkHost('coordinator.internal')).toBe('coordinator.internal');
    expect(coordinator.ca).toBe(false);
    const worker = new X509Certificate(readFileSync(join(dir, 'worker-2.crt')));
    expect(worker.verify(ca.publicKey)).toBe(true);
    expect(commonName(readFileSync(join(dir, 'worker-2.crt')))).toBe('worker-2');
    expect(worker.keyUsage).toContain('1.3.6.1.5.5.7.3.2'); // clientAuth
    for (const key of ['ca.key', 'coordinator.key', 'worker-1.key']) expect(statSync(join(dir, key)).mode & 0o077).toBe(0);
    expect(Object.keys(readTlsFiles(dir, 'worker-1'))).toEqual(['ca', 'cert', 'key']);

    // Run again with one more worker: the CA and the existing certificates stay, the new one is signed by that CA.
    expect(await createClusterCerts(dir, { workers: ['worker-1', 'worker-2', 'worker-3'], hosts: ['127.0.0.1'] })).toEqual(['worker-3']);
    expect(new X509Certificate(readFileSync(join(dir, 'worker-3.crt'))).verify(ca.publicKey)).toBe(true);
    expect(new X509Certificate(readFileSync(join(dir, 'ca.crt'))).fingerprint256).toBe(ca.fingerprint256);
  });

  it('names the missing file, and refuses a name that cannot be a file', async () => {
    const dir = await tempDir();
    expect(() => readTlsFiles(dir, 'worker-1')).toThrow(new RegExp(`TLS: cannot read ${join(dir, 'ca.crt')} \\(ENOENT\\); make the cluster's certificates with \`eddy certs`));
    await expect(createClusterCerts(dir, { workers: ['../evil'], hosts: [] })).rejects.toThrow(/'..\/evil' cannot name a certificate file/);
  });
});
