/**
 * Eddy's configuration: one validated object built from defaults, an optional YAML/JSON file
 * and `EDDY_*` environment variables (in that order; later wins). Every process reads it the
 * same way, so `eddy up`, the tests and the production entry points agree on where things are.
 *
 * When `kafka.brokers` / `nats.url` are set (file or `EDDY_KAFKA_BROKERS` / `EDDY_NATS_URL`),
 * Eddy uses those servers and starts nothing locally.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError } from './errors.ts';
import { readTlsFiles, type TlsFiles } from './cluster-tls.ts';
import { loadTokens, type HttpTokens } from './http-auth.ts';

const port = z.number().int().min(1).max(65535);

export const configSchema = z
  .object({
    kafka: z
      .object({
        /** Existing brokers to use. Absent: the local stack's broker (started on demand). */
        brokers: z.array(z.string().min(1)).min(1).optional(),
        clientId: z.string().min(1).default('eddy'),
        /** TLS to the brokers: `true` for the system's CAs, or files (PEM) for a private CA and a client certificate. */
        tls: z
          .union([z.literal(true), z.object({ caFile: z.string().min(1).optional(), certFile: z.string().min(1).optional(), keyFile: z.string().min(1).optional() }).strict()])
          .optional(),
        /** SASL authentication; the password comes from `passwordFile` or `EDDY_KAFKA_PASSWORD`, never from this file. */
        sasl: z
          .object({ mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']), username: z.string().min(1), passwordFile: z.string().min(1).optional() })
          .strict()
          .optional(),
      })
      .strict()
      .default({ clientId: 'eddy' }),
    nats: z
      .object({
        /** Existing NATS server to use. Absent: the local stack's server. */
        url: z.string().min(1).optional(),
        /** A token file (or `EDDY_NATS_TOKEN`), a user with a password file (or `EDDY_NATS_PASSWORD`), or a `.creds` file (NKey + JWT). */
        tokenFile: z.string().min(1).optional(),
        user: z.string().min(1).optional(),
        passwordFile: z.string().min(1).optional(),
        credsFile: z.string().min(1).optional(),
      })
      .strict()
      .default({}),
    cluster: z
      .object({
        /** Address the coordinator's control (gRPC) and admin (HTTP) endpoints bind to. */
        host: z.string().min(1).default('127.0.0.1'),
        controlPort: port.default(7700),
        adminPort: port.default(8080),
        heartbeatIntervalMs: z.number().int().min(50).default(500),
        /** A worker silent this long is dead (3 missed heartbeats by default). */
        heartbeatTimeoutMs: z.number().int().min(100).default(1_500),
        revokeTimeoutMs: z.number().int().min(100).default(10_000),
        /** After a coordinator (re)start, time for running workers to reconnect before tasks are assigned. */
        adoptGraceMs: z.number().int().min(0).default(3_000),
        /**
         * Workers the first assignment waits for (0: none): once this many have joined, tasks are
         * assigned at once, spread over all of them, instead of all going to the first worker and
         * half of them moving a moment later. At most `expectWorkersWaitMs` after start.
         */
        expectWorkers: z.number().int().min(0).default(0),
        expectWorkersWaitMs: z.number().int().min(0).default(10_000),
      })
      .strict()
      .prefault({}),
    checkpoint: z
      .object({
        /** How often the coordinator starts a checkpoint. */
        intervalMs: z.number().int().min(100).default(1_000),
        /** A checkpoint not complete by then is abandoned; the next one carries on. */
        timeoutMs: z.number().int().min(100).default(10_000),
        /** Complete checkpoints kept in the store. */
        retain: z.number().int().min(1).default(3),
        /**
         * The checkpoint store; default `<local.stateDir>/checkpoints`. Shared by all processes of
         * a job. With `s3` set, the local cache of each process instead (under `.cache/`).
         */
        dir: z.string().min(1).optional(),
        /**
         * A checkpoint store in an S3-compatible object store (AWS S3, MinIO, Versity S3 Gateway,
         * ...) instead of a directory: for workers on several hosts. The secret key comes from
         * `secretAccessKeyFile` or `EDDY_S3_SECRET_ACCESS_KEY`, never from this file; without
         * keys, the AWS SDK's own chain (environment, profile, instance role).
         */
        s3: z
          .object({
            bucket: z.string().min(1),
            /** Key prefix; each job's store is under `<prefix><job>/`. */
            prefix: z.string().regex(/^$|\/$/, 'empty or ending in /').default('eddy/'),
            endpoint: z.url().optional(),
            region: z.string().min(1).default('us-east-1'),
            forcePathStyle: z.boolean().default(true),
            accessKeyId: z.string().min(1).optional(),
            secretAccessKeyFile: z.string().min(1).optional(),
          })
          .strict()
          .optional(),
        /**
         * Incremental checkpoints: each checkpoint writes what changed since the previous one (a
         * delta); a task writes a new base in the background once its deltas number `maxDeltas`
         * or add up to `deltaRatio` times its base.
         */
        compaction: z
          .object({
            maxDeltas: z.number().int().min(1).default(100),
            deltaRatio: z.number().positive().default(1),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    ingest: z
      .object({
        /** Largest request body; above it the answer is 413. */
        bodyLimitBytes: z.number().int().min(1_024).default(1_048_576),
        /** Most events in one request. */
        eventsMax: z.number().int().min(1).default(10_000),
        timeoutMsDefault: z.number().int().min(1).default(5_000),
        timeoutMsMax: z.number().int().min(1).default(60_000),
      })
      .strict()
      .prefault({}),
    worker: z
      .object({
        /** Actor threads per worker (one piscina pool of one thread each). */
        threads: z.number().int().min(1).max(64).default(2),
        /** Task LevelDBs; default `<local.stateDir>/data`. Shared by workers on one host. */
        dataDir: z.string().min(1).optional(),
        /** Address of the worker's HTTP endpoint; port 0 = any free port. */
        httpHost: z.string().min(1).default('127.0.0.1'),
        httpPort: z.number().int().min(0).max(65535).default(0),
        queueRecordsMax: z.number().int().min(1).default(10_000),
        batchRecordsMax: z.number().int().min(1).default(500),
        /** Exactly-once outputs waiting for a checkpoint to commit; above it the task pauses fetching. */
        pendingOutputsMax: z.number().int().min(1).default(200_000),
        tickIntervalMs: z.number().int().min(10).default(100),
        /**
         * A fetch waits (up to fetchMaxWaitMs) until this much is ready. Above 1, busy workers
         * fetch fewer, larger batches: fewer requests for Kafka and fewer calls per record.
         */
        fetchMinBytes: z.number().int().min(1).default(1),
        fetchMaxWaitMs: z.number().int().min(1).default(50),
      })
      .strict()
      .prefault({}),
    security: z
      .object({
        /**
         * A YAML/JSON file of bearer tokens (`tokens: [{name, scope: read|admin, token}]`, see
         * common/http-auth.ts). Set: every HTTP endpoint but /healthz needs a token. Keep the
         * file out of the repository and readable by Eddy's user only.
         */
        tokensFile: z.string().min(1).optional(),
        /**
         * A directory of the cluster's certificates (`eddy certs`): the control plane then runs
         * over mutual TLS, each process presenting `<name>.crt`/`<name>.key` (`coordinator`, or
         * the worker's id) and trusting `ca.crt`.
         */
        tlsDir: z.string().min(1).optional(),
      })
      .strict()
      .default({}),
    local: z
      .object({
        /** Address every locally started server binds to. Loopback unless you mean otherwise. */
        host: z.string().min(1).default('127.0.0.1'),
        kafkaPort: port.default(19092),
        /** KRaft controller listener; default: kafkaPort + 1. */
        kafkaControllerPort: port.optional(),
        natsPort: port.default(14222),
        /** The local PostgreSQL of the CDC chain (`eddy stack up --postgres`). */
        postgresPort: port.default(15432),
        /** The local MariaDB of the CDC chain (`eddy stack up --mysql`). */
        mysqlPort: port.default(13306),
        /** The REST port of the local Kafka Connect worker of the CDC chain. */
        connectPort: port.default(18083),
        kafkaHeapMb: z.number().int().min(128).max(512).default(512),
        /** Downloaded jars and binaries, shared by every checkout. */
        cacheDir: z.string().min(1).default(join(homedir(), '.cache', 'eddy')),
        /** Data, logs and pid files of the local servers. */
        stateDir: z.string().min(1).default(join(homedir(), '.cache', 'eddy', 'local')),
      })
      .strict()
      .prefault({})
      .transform((local) => ({ ...local, kafkaControllerPort: local.kafkaControllerPort ?? local.kafkaPort + 1 })),
  })
  .strict();

export type EddyConfig = z.infer<typeof configSchema>;

/** Names of the environment variables Eddy reads, for docs and error messages. */
export const envVars = {
  config: 'EDDY_CONFIG',
  kafkaBrokers: 'EDDY_KAFKA_BROKERS',
  natsUrl: 'EDDY_NATS_URL',
  kafkaPort: 'EDDY_KAFKA_PORT',
  natsPort: 'EDDY_NATS_PORT',
  postgresPort: 'EDDY_POSTGRES_PORT',
  connectPort: 'EDDY_CONNECT_PORT',
  mysqlPort: 'EDDY_MYSQL_PORT',
  cacheDir: 'EDDY_CACHE_DIR',
  stateDir: 'EDDY_STATE_DIR',
  coordinator: 'EDDY_COORDINATOR',
  checkpointDir: 'EDDY_CHECKPOINT_DIR',
  checkpointIntervalMs: 'EDDY_CHECKPOINT_INTERVAL_MS',
  tokensFile: 'EDDY_TOKENS_FILE',
  tlsDir: 'EDDY_TLS_DIR',
  kafkaPassword: 'EDDY_KAFKA_PASSWORD',
  natsToken: 'EDDY_NATS_TOKEN',
  natsPassword: 'EDDY_NATS_PASSWORD',
  s3AccessKeyId: 'EDDY_S3_ACCESS_KEY_ID',
  s3SecretAccessKey: 'EDDY_S3_SECRET_ACCESS_KEY',
  /** The bearer token the CLI (`eddy status`) presents. */
  token: 'EDDY_TOKEN',
} as const;

export interface LoadConfigOptions {
  /** Path of a YAML or JSON config file. Default: `$EDDY_CONFIG`, else `./eddy.config.yaml` if present. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export function loadConfig(options: LoadConfigOptions = {}): EddyConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const file = options.file ?? env[envVars.config] ?? defaultConfigFile(cwd);
  const raw = file === undefined ? {} : readConfigFile(resolve(cwd, file));
  applyEnv(raw, env);
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? issue.path.join('.') : '(root)';
    const source = file === undefined ? 'environment' : `${file} or environment`;
    throw new ConfigError(`invalid config (${source}): '${where}': ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

function defaultConfigFile(cwd: string): string | undefined {
  const candidate = join(cwd, 'eddy.config.yaml');
  return existsSync(candidate) ? candidate : undefined;
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  const value: unknown = parseYaml(text);
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(`config file ${path}: the top level must be a mapping`);
  }
  return value as Record<string, unknown>;
}

type Section = Record<string, unknown>;

function section(raw: Record<string, unknown>, name: string): Section {
  const existing = raw[name];
  if (existing !== undefined && (typeof existing !== 'object' || existing === null)) {
    throw new ConfigError(`config: '${name}' must be a mapping`);
  }
  const value = (existing ?? {}) as Section;
  raw[name] = value;
  return value;
}

function applyEnv(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): void {
  const brokers = env[envVars.kafkaBrokers];
  if (brokers !== undefined && brokers.trim() !== '') {
    section(raw, 'kafka').brokers = brokers.split(',').map((b) => b.trim()).filter((b) => b !== '');
  }
  const natsUrl = env[envVars.natsUrl];
  if (natsUrl !== undefined && natsUrl.trim() !== '') section(raw, 'nats').url = natsUrl.trim();
  const local = (key: string, variable: string, asNumber: boolean): void => {
    const value = env[variable];
    if (value === undefined || value === '') return;
    const parsed = asNumber ? Number(value) : value;
    if (asNumber && !Number.isInteger(parsed)) {
      throw new ConfigError(`${variable}='${value}': expected an integer port`);
    }
    section(raw, 'local')[key] = parsed;
  };
  local('kafkaPort', envVars.kafkaPort, true);
  local('natsPort', envVars.natsPort, true);
  local('postgresPort', envVars.postgresPort, true);
  local('connectPort', envVars.connectPort, true);
  local('mysqlPort', envVars.mysqlPort, true);
  local('cacheDir', envVars.cacheDir, false);
  local('stateDir', envVars.stateDir, false);
  const tokensFile = env[envVars.tokensFile];
  if (tokensFile !== undefined && tokensFile !== '') section(raw, 'security').tokensFile = tokensFile;
  const tlsDir = env[envVars.tlsDir];
  if (tlsDir !== undefined && tlsDir !== '') section(raw, 'security').tlsDir = tlsDir;
  const checkpoints = env[envVars.checkpointDir];
  if (checkpoints !== undefined && checkpoints !== '') section(raw, 'checkpoint').dir = checkpoints;
  const interval = env[envVars.checkpointIntervalMs];
  if (interval !== undefined && interval !== '') {
    if (!/^\d+$/.test(interval)) throw new ConfigError(`${envVars.checkpointIntervalMs}='${interval}': expected milliseconds`);
    section(raw, 'checkpoint').intervalMs = Number(interval);
  }
}

/** Brokers Eddy talks to: the configured ones, or the local stack's. */
export function kafkaBrokers(config: EddyConfig): string[] {
  return config.kafka.brokers ?? [`${config.local.host}:${config.local.kafkaPort}`];
}

/** The checkpoint store's directory. */
export function checkpointDir(config: EddyConfig): string {
  return config.checkpoint.dir ?? join(config.local.stateDir, 'checkpoints');
}

/** Where task LevelDBs live. */
export function workerDataDir(config: EddyConfig): string {
  return config.worker.dataDir ?? join(config.local.stateDir, 'data');
}

/** The bearer tokens the HTTP endpoints require, or undefined when none are configured (open, loopback by default). */
export function httpTokens(config: EddyConfig): HttpTokens | undefined {
  return config.security.tokensFile === undefined ? undefined : loadTokens(config.security.tokensFile);
}

/** The control plane's TLS files of process `name` (`coordinator` or a worker id), or undefined without `security.tlsDir`. */
export function controlTls(config: EddyConfig, name: string): TlsFiles | undefined {
  return config.security.tlsDir === undefined ? undefined : readTlsFiles(config.security.tlsDir, name);
}

/** The token the CLI presents: `EDDY_TOKEN`, else the tokens file's client token, else none. */
export function clientToken(config: EddyConfig, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const token = env[envVars.token];
  if (token !== undefined && token !== '') return token;
  return httpTokens(config)?.clientToken;
}

/** NATS server Eddy talks to: the configured one, or the local stack's. */
export function natsUrl(config: EddyConfig): string {
  return config.nats.url ?? `nats://${config.local.host}:${config.local.natsPort}`;
}
