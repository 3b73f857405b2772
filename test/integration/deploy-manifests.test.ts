// The deployment files, checked by real tools: the Kubernetes manifests by deploy/kubernetes/check
// (built here with Go: strict decoding into the Kubernetes API types, then the references between
// the objects), and the systemd units by `systemd-analyze verify`.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../../common/config.ts';

const run = promisify(execFile);
const k8sDir = resolve('deploy/kubernetes');
const manifests = readdirSync(k8sDir).filter((f) => f.endsWith('.yaml')).map((f) => join(k8sDir, f));

/** The checker, built once per change of its sources into the cache outside the repository. */
async function checker(): Promise<string> {
  const sources = join(k8sDir, 'check');
  const newest = Math.max(...readdirSync(sources).map((f) => statSync(join(sources, f)).mtimeMs));
  const binary = join(loadConfig().local.cacheDir, 'k8s-check', 'check');
  if (!existsSync(binary) || statSync(binary).mtimeMs < newest) {
    await run('go', ['build', '-o', binary, '.'], { cwd: sources }).catch((err: Error) => {
      throw new Error(`building deploy/kubernetes/check with Go failed (Go 1.24+ and the Go module proxy are needed): ${err.message}`);
    });
  }
  return binary;
}

describe('Kubernetes manifests (deploy/kubernetes)', () => {
  it('decode strictly into the Kubernetes API types, and their selectors, ports, probes, volumes and claims fit together', async () => {
    const check = await checker();
    const { stdout } = await run(check, manifests);
    expect(stdout).toMatch(/^ok: 6 objects; secrets to create before applying: eddy-s3, eddy-tls, eddy-tokens$/m);
  }, 300_000);

  it('give every pod an Eddy configuration that Eddy accepts, with the checkpoint store in S3 and its secret from the mounted file', () => {
    const map = parseYaml(readFileSync(join(k8sDir, 'configmap.yaml'), 'utf8')) as { data: Record<string, string> };
    const dir = mkdtempSync(join(tmpdir(), 'eddy-k8s-config-'));
    const file = join(dir, 'eddy.config.yaml');
    writeFileSync(file, map.data['eddy.config.yaml']!);
    const config = loadConfig({ env: { EDDY_CONFIG: file } });
    expect(config.checkpoint.s3).toMatchObject({ bucket: 'eddy-checkpoints', secretAccessKeyFile: '/etc/eddy/s3/secret-access-key' });
    expect(config.checkpoint.dir).toBe('/var/lib/eddy/cache');
  });

  it('fail the check on a misspelt field and on a probe of a port that does not exist', async () => {
    const check = await checker();
    const dir = mkdtempSync(join(tmpdir(), 'eddy-k8s-'));
    const broken = join(dir, 'coordinator.yaml');
    writeFileSync(broken, readFileSync(join(k8sDir, 'coordinator.yaml'), 'utf8').replace('replicas: 1', 'replica: 1').replace('path: /readyz, port: admin', 'path: /readyz, port: admn'));
    const others = manifests.filter((m) => !m.endsWith('coordinator.yaml'));
    await expect(run(check, [...others, broken])).rejects.toThrow(/unknown field "spec.replica"/);
    writeFileSync(broken, readFileSync(join(k8sDir, 'coordinator.yaml'), 'utf8').replace('path: /readyz, port: admin', 'path: /readyz, port: admn'));
    await expect(run(check, [...others, broken])).rejects.toThrow(/Deployment eddy-coordinator container coordinator readinessProbe: port "admn" is no container port/);
  }, 300_000);
});

describe('systemd units (deploy/systemd)', () => {
  it('pass systemd-analyze verify', async () => {
    if (!existsSync('/usr/bin/systemd-analyze')) throw new Error('this test needs systemd-analyze (Debian\'s systemd package; .ci/run installs it)');
    const dir = mkdtempSync(join(tmpdir(), 'eddy-systemd-'));
    // The units name /opt/eddy's Node; verify checks that ExecStart is executable, so point it at this checkout's.
    const node = process.execPath;
    for (const [unit, as] of [['eddy-coordinator.service', 'eddy-coordinator.service'], ['eddy-worker@.service', 'eddy-worker@worker-1.service']] as const) {
      writeFileSync(join(dir, as), readFileSync(resolve('deploy/systemd', unit), 'utf8').replaceAll('/opt/eddy/node_modules/.bin/node', node));
      const { stdout, stderr } = await run('systemd-analyze', ['verify', join(dir, as)]);
      expect(`${stdout}${stderr}`.trim()).toBe('');
    }
  });
});
