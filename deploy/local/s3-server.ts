/**
 * A real S3-compatible server for the object-store checkpoint store's tests and local trials:
 * the Versity S3 Gateway (Apache-2.0) over a directory (its posix backend), built once with
 * `go install` (pinned version) into the cache outside the repository, as nats-server is. MinIO,
 * which the seeds run, is not served here; the gateway speaks the same S3 API to the AWS SDK.
 * It listens on loopback; its root keys are random per start and passed by environment, not on
 * the command line.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { EddyConfig } from '../../common/config.ts';
import type { Logger } from '../../common/logger.ts';
import { freePort } from './local-cluster.ts';
import { goProgress, runFirstRunStep } from './first-run.ts';
import { requireCommand, startDaemon, stopDaemon, waitUntil } from './processes.ts';

export const versityVersion = 'v1.8.0';

export interface RunningS3Server {
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  readonly pid: number;
  logFile: string;
  /** Makes a bucket (a directory of the backend). */
  createBucket(name: string): Promise<void>;
  /** SIGKILL: the server dies as a crashed host's would. */
  kill(): void;
  /** Sends a signal (SIGSTOP: it stops answering but keeps its connections). */
  signal(signal: NodeJS.Signals): void;
  /** Starts it again on the same port, keys and data (after `kill`). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** Path of the gateway binary: `$EDDY_S3_SERVER`, the cached build, or (first run only) a fresh `go install`. */
export async function installS3Server(config: EddyConfig, logger: Logger): Promise<string> {
  const fromEnv = process.env.EDDY_S3_SERVER;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const gobin = join(config.local.cacheDir, `versitygw-${versityVersion}`);
  const binary = join(gobin, 'versitygw');
  if (existsSync(binary)) return binary;
  const go = requireCommand('go', 'install Go 1.22 or newer to build the S3-compatible test server (versitygw).');
  await runFirstRunStep({
    what: `building the S3-compatible server versitygw ${versityVersion} with go install`, command: go,
    args: ['install', `github.com/versity/versitygw/cmd/versitygw@${versityVersion}`], env: { ...process.env, GOBIN: gobin }, progress: goProgress(),
  });
  logger.info({ binary }, 'versitygw built');
  return binary;
}

/** Starts a gateway over `dir` on a free loopback port and waits until it answers. */
export async function startS3Server(config: EddyConfig, logger: Logger, dir: string): Promise<RunningS3Server> {
  const binary = await installS3Server(config, logger);
  const data = join(dir, 'data');
  mkdirSync(data, { recursive: true });
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const credentials = { accessKeyId: `eddy${randomBytes(6).toString('hex')}`, secretAccessKey: randomBytes(24).toString('base64url') };
  const pidFile = join(dir, 'versitygw.pid');
  const logFile = join(dir, 'versitygw.log');
  const answers = async () => {
    try {
      return (await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(1_000) })).ok;
    } catch {
      return false;
    }
  };
  const launch = async (): Promise<number> => {
    const started = startDaemon({
      name: 'versitygw', command: binary, args: ['--port', `127.0.0.1:${port}`, '--quiet', '--health', '/health', 'posix', data], pidFile, logFile,
      env: { ...process.env, ROOT_ACCESS_KEY_ID: credentials.accessKeyId, ROOT_SECRET_ACCESS_KEY: credentials.secretAccessKey },
    });
    try {
      await waitUntil('versitygw', answers, { timeoutMs: 30_000, pid: started, logFile });
    } catch (err) {
      await stopDaemon(pidFile, 2_000);
      throw err;
    }
    logger.info({ serverPid: started, endpoint, log: logFile }, 'started the S3-compatible server versitygw');
    return started;
  };
  let pid = await launch();
  const region = 'us-east-1';
  return {
    endpoint, region, credentials, logFile,
    get pid() {
      return pid;
    },
    createBucket: async (name) => {
      const { S3Client, CreateBucketCommand } = await import('@aws-sdk/client-s3');
      const client = new S3Client({ endpoint, region, credentials, forcePathStyle: true });
      try {
        await client.send(new CreateBucketCommand({ Bucket: name }));
      } finally {
        client.destroy();
      }
    },
    kill: () => process.kill(pid, 'SIGKILL'),
    signal: (signal) => process.kill(pid, signal),
    restart: async () => {
      await stopDaemon(pidFile, 2_000);
      pid = await launch();
    },
    stop: async () => {
      await stopDaemon(pidFile, 5_000);
    },
  };
}
