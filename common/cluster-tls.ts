/**
 * Mutual TLS for the control plane (gRPC between the coordinator and its workers).
 *
 * A TLS directory (`security.tlsDir` / `EDDY_TLS_DIR`, made by `eddy certs`, see
 * cluster-certs.ts) holds the cluster's CA certificate `ca.crt` and each process's `<name>.crt`
 * and `<name>.key` (`coordinator`, or the worker's id); every process of a cluster can be given
 * the same directory, or each host only its own files and `ca.crt`. The coordinator then accepts
 * a session only over TLS with a certificate of that CA, and only for the worker id its
 * certificate names: a worker cannot join under another worker's id and take its tasks.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from './errors.ts';

/** The coordinator's certificate and key names in a TLS directory. */
export const coordinatorName = 'coordinator';

/** What a process presents and trusts: the CA, and its own certificate and key. */
export interface TlsFiles {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

/** Reads `name`'s files from a TLS directory, naming the one that is missing. */
export function readTlsFiles(dir: string, name: string): TlsFiles {
  const read = (file: string) => {
    const path = join(dir, file);
    try {
      return readFileSync(path);
    } catch (err) {
      throw new ConfigError(`TLS: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); make the cluster's certificates with \`eddy certs --dir ${dir} --workers <ids>\``);
    }
  };
  return { ca: read('ca.crt'), cert: read(`${name}.crt`), key: read(`${name}.key`) };
}

/** The common name of a PEM/DER certificate (what a worker's certificate says it is). */
export function commonName(certificate: Buffer | string): string | undefined {
  const subject = new X509Certificate(certificate).subject;
  return /(?:^|\n)CN=([^\n]*)/.exec(subject)?.[1];
}

