import { existsSync, readFileSync } from 'node:fs';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { registerLedger } from '../../src/cli/commands/ledger.js';
import { parseMigrationName } from '../../src/ledger/files.js';

const root = new URL('../../docker/', import.meta.url);
const read = (p: string) => readFileSync(new URL(p, root), 'utf8');

function program(): Command {
  const p = new Command('ghostwright');
  registerLedger(p);
  return p;
}

/** Every --flag in argv must be an option of the ghostwright subcommand argv[0]. */
function unknownFlags(argv: string[]): string[] {
  const [name, ...rest] = argv;
  const cmd = program().commands.find((c) => c.name() === name);
  if (!cmd) return [`unknown command ${String(name)}`];
  const longs = new Set(cmd.options.map((o) => o.long));
  return rest.filter((a) => a.startsWith('--')).map((a) => a.split('=')[0]!).filter((f) => !longs.has(f));
}

describe('docker/ and k8s/ pass only real CLI options', () => {
  it('the checker itself notices an unknown flag', () => {
    expect(unknownFlags(['migrate', '--dir', 'x', '--no-such-flag'])).toEqual(['--no-such-flag']);
    expect(unknownFlags(['migrat'])).toEqual(['unknown command migrat']);
  });

  it('compose: databases configured for ghostwright and a migrate service', () => {
    const compose = parse(read('compose.yml')) as { services: Record<string, { command?: string[]; image?: string; environment?: Record<string, string> }> };
    const s = compose.services;
    expect(Object.keys(s).sort()).toEqual(['migrate', 'mysql', 'mysql-replica', 'postgres', 'postgres-standby']);
    for (const name of ['mysql', 'mysql-replica']) {
      expect(s[name]!.image).toBe('mysql:8.0');
      expect(s[name]!.command).toEqual(expect.arrayContaining(['--binlog-format=ROW', '--binlog-row-image=FULL', '--gtid-mode=ON', '--enforce-gtid-consistency=ON']));
    }
    expect(s.postgres!.image).toBe('postgres:15');
    expect(s.postgres!.command).toContain('wal_level=logical');
    const migrate = s.migrate!.command!.map(String);
    expect(migrate[0]).toBe('migrate');
    expect(unknownFlags(migrate)).toEqual([]);
    expect(s.migrate!.environment!.GHOSTWRIGHT_URL).toMatch(/postgres:\/\//);
  });

  it('compose: the mounted migrations exist, migrate waits for the server its URL names, replica and standby have healthchecks', () => {
    type Service = { volumes?: string[]; depends_on?: Record<string, unknown>; healthcheck?: { test: string[] } };
    const s = (parse(read('compose.yml')) as { services: Record<string, Service> }).services;
    for (const v of s.migrate!.volumes!) {
      const host = v.replace(/:\/[^:]*(:ro)?$/, '').replace(/^\$\{[A-Z_]+:-(.*)\}$/, '$1');
      expect(existsSync(new URL(host, root)), host).toBe(true);
    }
    expect(Object.keys(s.migrate!.depends_on!)).toEqual(['postgres']);
    for (const name of ['mysql', 'mysql-replica', 'postgres', 'postgres-standby']) expect(s[name]!.healthcheck?.test.length, name).toBeGreaterThan(0);
    expect(s['mysql-replica']!.healthcheck!.test.join(' ')).toContain('Replica_IO_Running: Yes');
    expect(s['postgres-standby']!.healthcheck!.test.join(' ')).toContain('pg_is_in_recovery()');
  });

  it('.dockerignore keeps node_modules, dist, .git and local config out of the build context (context is the repo root)', () => {
    const ignored = readFileSync(new URL('../../.dockerignore', import.meta.url), 'utf8').split('\n').map((l) => l.trim());
    for (const p of ['.git', 'node_modules', 'dist', '.env', 'ghostwright.config.json']) expect(ignored).toContain(p);
    for (const copied of ['src', 'bin', 'bench', 'package.json']) expect(ignored).not.toContain(copied);
  });

  it('the Kubernetes Job runs ghostwright migrate with backoffLimit 3, URL from a Secret, migrations from a ConfigMap', () => {
    const docs = parseAllDocuments(read('k8s/migration-job.yaml')).map((d) => d.toJS()) as Record<string, any>[];
    const job = docs.find((d) => d.kind === 'Job')!;
    expect(job.apiVersion).toBe('batch/v1');
    expect(job.spec.backoffLimit).toBe(3);
    const pod = job.spec.template.spec;
    expect(pod.restartPolicy).toBe('Never');
    const c = pod.containers[0];
    // Pod Security Standard "restricted".
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(c.securityContext.privileged ?? false).toBe(false);
    expect(c.securityContext.capabilities.add ?? []).toEqual([]);
    expect(c.args[0]).toBe('migrate');
    expect(unknownFlags(c.args.map(String))).toEqual([]);
    const dir = c.args[c.args.indexOf('--dir') + 1];
    expect(c.volumeMounts[0].mountPath).toBe(dir);
    expect(c.env.find((e: any) => e.name === 'GHOSTWRIGHT_URL').valueFrom.secretKeyRef).toEqual({ name: 'ghostwright-db', key: 'url' });
    const cmName = pod.volumes.find((v: any) => v.name === c.volumeMounts[0].name).configMap.name;
    const cm = docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === cmName)!;
    for (const key of Object.keys(cm.data)) expect(parseMigrationName(key), key).not.toBeNull();
  });

  it('Dockerfile: node:20-slim, npm ci, build, tini as PID 1 then ghostwright, CMD flags are real', () => {
    const text = read('Dockerfile');
    expect(text).toMatch(/^FROM node:20-slim AS build$/m);
    expect(text).toMatch(/RUN npm ci/);
    expect(text).toMatch(/npm run build/);
    expect(text).toMatch(/apt-get install .*\btini\b/);
    expect(text).toMatch(/^ENTRYPOINT \["\/usr\/bin\/tini", "--", "ghostwright"\]$/m);
    expect(text).toMatch(/^USER node$/m);
    const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(text)![1]!) as string[];
    expect(unknownFlags(cmd)).toEqual([]);
  });
});
