/**
 * `eddy certs`: a cluster's own certificate authority and, signed by it, a server certificate
 * for the coordinator (its host names and addresses as subject alternative names) and a client
 * certificate per worker whose common name is the worker's id (cluster-tls.ts says how they are
 * used). Keys are ECDSA P-256 made with WebCrypto, written as PKCS #8 PEM readable by the owner
 * only; certificates are built by @peculiar/x509. Only this command loads it (and the
 * reflect-metadata polyfill it needs), so no cluster process pays for it.
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { coordinatorName } from './cluster-tls.ts';
import { ConfigError } from './errors.ts';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type CryptoKey = webcrypto.CryptoKey;

const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const dayMs = 86_400_000;

export interface CertsOptions {
  /** Worker ids to make client certificates for. */
  workers: readonly string[];
  /** Names and addresses clients reach the coordinator by (its certificate's alternative names). */
  hosts: readonly string[];
  /** Validity in days. */
  days?: number;
}

/**
 * Writes what is missing in `dir`: the CA (kept, so workers can be added later), the
 * coordinator's certificate and one per worker. Existing files are left as they are. Returns the
 * names of the certificates it wrote.
 */
export async function createClusterCerts(dir: string, options: CertsOptions): Promise<string[]> {
  for (const name of [coordinatorName, ...options.workers]) {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) throw new ConfigError(`certs: '${name}' cannot name a certificate file (letters, digits, '_', '.', '-')`);
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const days = options.days ?? 825;
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(Date.now() + days * dayMs);
  const written: string[] = [];
  let ca: { cert: x509.X509Certificate; key: CryptoKey };
  if (existsSync(join(dir, 'ca.crt')) && existsSync(join(dir, 'ca.key'))) {
    ca = { cert: new x509.X509Certificate(readFileSync(join(dir, 'ca.crt'), 'utf8')), key: await importKey(readFileSync(join(dir, 'ca.key'), 'utf8')) };
  } else {
    const keys = await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serial(), name: 'CN=Eddy cluster CA', notBefore, notAfter, keys, signingAlgorithm: algorithm,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    writePair(dir, 'ca', cert, await exportKey(keys.privateKey));
    ca = { cert, key: keys.privateKey };
    written.push('ca');
  }
  const issue = async (name: string, usage: 'server' | 'client', names: readonly string[]) => {
    if (existsSync(join(dir, `${name}.crt`))) return;
    const keys = await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial(), subject: `CN=${name}`, issuer: ca.cert.subject, notBefore, notAfter,
      signingKey: ca.key, publicKey: keys.publicKey, signingAlgorithm: algorithm,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
        new x509.ExtendedKeyUsageExtension([usage === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth]),
        new x509.SubjectAlternativeNameExtension(names.map((n) => (isIP(n) === 0 ? { type: 'dns' as const, value: n } : { type: 'ip' as const, value: n }))),
        await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
      ],
    });
    writePair(dir, name, cert, await exportKey(keys.privateKey));
    written.push(name);
  };
  await issue(coordinatorName, 'server', options.hosts);
  for (const worker of options.workers) await issue(worker, 'client', [worker]);
  return written;
}

function writePair(dir: string, name: string, cert: x509.X509Certificate, keyPem: string): void {
  writeFileSync(join(dir, `${name}.key`), keyPem, { mode: 0o600 });
  writeFileSync(join(dir, `${name}.crt`), cert.toString('pem'), { mode: 0o644 });
}

async function exportKey(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return `-----BEGIN PRIVATE KEY-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END PRIVATE KEY-----\n`;
}

async function importKey(pem: string): Promise<CryptoKey> {
  const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  return webcrypto.subtle.importKey('pkcs8', der, algorithm, true, ['sign']);
}

function serial(): string {
  return Buffer.from(webcrypto.getRandomValues(new Uint8Array(16))).toString('hex').replace(/^[89a-f]/, '1');
}
