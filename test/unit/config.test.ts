import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kafkaBrokers, loadConfig, natsUrl } from '../../common/config.ts';
import { objectStoreOptions } from '../../common/connection-security.ts';
import { ConfigError } from '../../common/errors.ts';

const emptyDir = (): string => mkdtempSync(join(tmpdir(), 'eddy-config-'));

describe('loadConfig', () => {
  it('defaults to the local stack on loopback', () => {
    const config = loadConfig({ env: {}, cwd: emptyDir() });
    expect(config.kafka.brokers).toBeUndefined();
    expect(kafkaBrokers(config)).toEqual(['127.0.0.1:19092']);
    expect(natsUrl(config)).toBe('nats://127.0.0.1:14222');
    expect(config.local.kafkaHeapMb).toBeLessThanOrEqual(512);
  });

  it('takes existing servers from the environment', () => {
    const config = loadConfig({ env: { EDDY_KAFKA_BROKERS: 'k1:9092, k2:9092', EDDY_NATS_URL: 'nats://n:4222' }, cwd: emptyDir() });
    expect(kafkaBrokers(config)).toEqual(['k1:9092', 'k2:9092']);
    expect(natsUrl(config)).toBe('nats://n:4222');
  });

  it('reads a YAML file named by EDDY_CONFIG, and the environment wins over it', () => {
    const dir = emptyDir();
    const file = join(dir, 'eddy.yaml');
    writeFileSync(file, 'kafka:\n  brokers: [file:1]\nlocal:\n  natsPort: 4333\n');
    const config = loadConfig({ env: { EDDY_CONFIG: file, EDDY_NATS_PORT: '4444' }, cwd: dir });
    expect(kafkaBrokers(config)).toEqual(['file:1']);
    expect(config.local.natsPort).toBe(4444);
  });

  it('picks up ./eddy.config.yaml when present', () => {
    const dir = emptyDir();
    writeFileSync(join(dir, 'eddy.config.yaml'), 'local:\n  kafkaPort: 29092\n');
    expect(loadConfig({ env: {}, cwd: dir }).local.kafkaPort).toBe(29092);
  });

  it('names the setting and the reason when a value is wrong', () => {
    const dir = emptyDir();
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'local:\n  kafkaHeapMb: 4096\n');
    expect(() => loadConfig({ file, env: {}, cwd: dir })).toThrow(ConfigError);
    expect(() => loadConfig({ file, env: {}, cwd: dir })).toThrow(/'local.kafkaHeapMb'/);
  });

  it('rejects unknown keys, so a typo does not silently fall back to a default', () => {
    const dir = emptyDir();
    const file = join(dir, 'typo.yaml');
    writeFileSync(file, 'kafka:\n  broker: [x:1]\n');
    expect(() => loadConfig({ file, env: {}, cwd: dir })).toThrow(/kafka/);
  });

  it('rejects a port that is not a number', () => {
    expect(() => loadConfig({ env: { EDDY_KAFKA_PORT: 'abc' }, cwd: emptyDir() })).toThrow(/EDDY_KAFKA_PORT/);
  });
});

describe('local ports', () => {
  it('puts the KRaft controller on the port after Kafka unless told otherwise', () => {
    expect(loadConfig({ env: { EDDY_KAFKA_PORT: '29092' }, cwd: emptyDir() }).local.kafkaControllerPort).toBe(29093);
    const dir = emptyDir();
    writeFileSync(join(dir, 'eddy.config.yaml'), 'local:\n  kafkaControllerPort: 30000\n');
    expect(loadConfig({ env: {}, cwd: dir }).local.kafkaControllerPort).toBe(30000);
  });
});

describe('objectStoreOptions (checkpoint.s3)', () => {
  const withS3 = (yaml: string) => {
    const dir = emptyDir();
    const file = join(dir, 'eddy.yaml');
    writeFileSync(file, `checkpoint:\n  s3:\n${yaml}`);
    return loadConfig({ env: { EDDY_CONFIG: file }, cwd: dir });
  };

  it('is none for a directory store', () => {
    expect(objectStoreOptions(loadConfig({ env: {}, cwd: emptyDir() }), {})).toBeUndefined();
  });

  it('takes the secret key from its file, or from EDDY_S3_SECRET_ACCESS_KEY first, and defaults the rest', () => {
    const secret = join(emptyDir(), 'secret');
    writeFileSync(secret, 'from-file\n');
    const config = withS3(`    bucket: b\n    endpoint: http://127.0.0.1:9000\n    accessKeyId: eddy\n    secretAccessKeyFile: ${secret}\n`);
    expect(objectStoreOptions(config, {})).toEqual({
      bucket: 'b', prefix: 'eddy/', region: 'us-east-1', forcePathStyle: true, endpoint: 'http://127.0.0.1:9000',
      credentials: { accessKeyId: 'eddy', secretAccessKey: 'from-file' },
    });
    expect(objectStoreOptions(config, { EDDY_S3_SECRET_ACCESS_KEY: 'from-env' })?.credentials?.secretAccessKey).toBe('from-env');
  });

  it('leaves credentials to the AWS SDK when no key is configured', () => {
    expect(objectStoreOptions(withS3('    bucket: b\n'), {})?.credentials).toBeUndefined();
  });

  it('refuses a key id without its secret, and a prefix not ending in /, naming the setting', () => {
    expect(() => objectStoreOptions(withS3('    bucket: b\n    accessKeyId: eddy\n'), {})).toThrow(/checkpoint\.s3: an access key id needs its secret key/);
    expect(() => withS3('    bucket: b\n    prefix: eddy\n')).toThrow(/checkpoint\.s3\.prefix/);
  });
});
