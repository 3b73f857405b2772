/**
 * How Eddy's processes authenticate to Kafka (TLS, SASL) and NATS (token, user and password, or
 * a .creds file), from the configuration (`kafka.tls`, `kafka.sasl`, `nats.*`). Secrets come from
 * files or environment variables, never from the config file itself, are read once per process,
 * and are never logged: errors name the file or variable, not its content.
 *
 * Every Kafka client of a process (kafkajs's, and the ingest producer's @platformatic/kafka) and
 * every NATS connection take their options from here, so one configuration covers them all.
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import { envVars, loadConfig, type EddyConfig } from './config.ts';
import { ConfigError } from './errors.ts';
import type { ObjectStoreOptions } from '../state/s3-store-files.ts';

export interface KafkaSecurity {
  tls?: TlsOptions | true;
  sasl?: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string };
}

export interface NatsAuth {
  token?: string;
  user?: string;
  pass?: string;
  /** The contents of a .creds file (see `credsAuthenticator` in nats.js). */
  creds?: Uint8Array;
}

function readSecret(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new ConfigError(`cannot read ${what} from ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

export function kafkaSecurity(config: EddyConfig, env: NodeJS.ProcessEnv = process.env): KafkaSecurity {
  const out: KafkaSecurity = {};
  const tls = config.kafka.tls;
  if (tls === true) out.tls = true;
  else if (tls !== undefined) {
    out.tls = {
      ...(tls.caFile !== undefined && { ca: [readSecret(tls.caFile, 'the Kafka CA certificate')] }),
      ...(tls.certFile !== undefined && { cert: readSecret(tls.certFile, 'the Kafka client certificate') }),
      ...(tls.keyFile !== undefined && { key: readSecret(tls.keyFile, 'the Kafka client key') }),
    };
  }
  const sasl = config.kafka.sasl;
  if (sasl !== undefined) {
    const fromEnv = env[envVars.kafkaPassword];
    const password = fromEnv !== undefined && fromEnv !== '' ? fromEnv : sasl.passwordFile === undefined ? undefined : readSecret(sasl.passwordFile, 'the Kafka SASL password');
    if (password === undefined) throw new ConfigError(`kafka.sasl: user '${sasl.username}' needs a password: set kafka.sasl.passwordFile or ${envVars.kafkaPassword}`);
    out.sasl = { mechanism: sasl.mechanism, username: sasl.username, password };
  }
  return out;
}

export function natsAuth(config: EddyConfig, env: NodeJS.ProcessEnv = process.env): NatsAuth {
  const n = config.nats;
  const token = env[envVars.natsToken] || (n.tokenFile === undefined ? undefined : readSecret(n.tokenFile, 'the NATS token'));
  if (token !== undefined && token !== '') return { token };
  if (n.credsFile !== undefined) return { creds: new TextEncoder().encode(readSecret(n.credsFile, 'the NATS credentials')) };
  if (n.user !== undefined) {
    const pass = env[envVars.natsPassword] || (n.passwordFile === undefined ? undefined : readSecret(n.passwordFile, 'the NATS password'));
    if (pass === undefined || pass === '') throw new ConfigError(`nats.user '${n.user}' needs a password: set nats.passwordFile or ${envVars.natsPassword}`);
    return { user: n.user, pass };
  }
  return {};
}

let processKafka: KafkaSecurity | undefined;
let processNats: NatsAuth | undefined;

/** This process's Kafka security, from its configuration (read once). */
export function processKafkaSecurity(): KafkaSecurity {
  return (processKafka ??= kafkaSecurity(loadConfig()));
}

/** This process's NATS credentials, from its configuration (read once). */
export function processNatsAuth(): NatsAuth {
  return (processNats ??= natsAuth(loadConfig()));
}

/** The S3-compatible checkpoint store's options (`checkpoint.s3`), with its keys; undefined for a directory store. */
export function objectStoreOptions(config: EddyConfig, env: NodeJS.ProcessEnv = process.env): ObjectStoreOptions | undefined {
  const s3 = config.checkpoint.s3;
  if (s3 === undefined) return undefined;
  const accessKeyId = env[envVars.s3AccessKeyId] || s3.accessKeyId;
  const secretFromEnv = env[envVars.s3SecretAccessKey];
  const secretAccessKey = secretFromEnv !== undefined && secretFromEnv !== '' ? secretFromEnv : s3.secretAccessKeyFile === undefined ? undefined : readSecret(s3.secretAccessKeyFile, 'the S3 secret access key');
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    throw new ConfigError(`checkpoint.s3: an access key id needs its secret key and the other way round: set checkpoint.s3.accessKeyId (or ${envVars.s3AccessKeyId}) and checkpoint.s3.secretAccessKeyFile (or ${envVars.s3SecretAccessKey}), or neither for the AWS SDK's own chain`);
  }
  return {
    bucket: s3.bucket, prefix: s3.prefix, region: s3.region, forcePathStyle: s3.forcePathStyle,
    ...(s3.endpoint === undefined ? {} : { endpoint: s3.endpoint }),
    ...(accessKeyId === undefined || secretAccessKey === undefined ? {} : { credentials: { accessKeyId, secretAccessKey } }),
  };
}
