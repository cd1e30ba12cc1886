/**
 * `ghostwright sandbox start|stop|status`: local throwaway servers configured
 * for ghostwright (MariaDB/MySQL primary + replica, PostgreSQL primary +
 * standby), for trying the tool, the demo and the benchmarks.
 *
 * The printed URLs carry the sandbox's fixed, public password (ghostwright):
 * they are meant to be copied, and no real credential is involved.
 */
import { Option, type Command } from 'commander';
import { RefusedError } from '../../errors.js';
import type { SandboxStatus } from '../../sandbox/index.js';
import { loggerFor, ReportedExit } from '../common.js';
import { envelope, printEnvelope } from '../envelope.js';

/** Loaded when a sandbox command runs: it imports both drivers, which every other command's start-up would pay for. */
const loadSandbox = () => import('../../sandbox/index.js');

interface SandboxFlags {
  dir: string;
  json?: boolean;
  replicas: boolean;
  only?: 'mysql' | 'postgres';
  pgVersion?: string;
  pgBin?: string;
}

const DEFAULT_DIR = './.sandbox';

function flags(cmd: Command): SandboxFlags {
  return cmd.optsWithGlobals() as SandboxFlags;
}

function withCommonOptions(cmd: Command): Command {
  return cmd.option('--dir <dir>', 'directory holding the servers and sandbox.json', DEFAULT_DIR).option('--json', 'machine-readable output on stdout');
}

export function registerSandbox(program: Command): void {
  const sandbox = program.command('sandbox').description('local throwaway MariaDB/MySQL and PostgreSQL servers configured for ghostwright');

  withCommonOptions(sandbox.command('start'))
    .description('start the servers in the background and print their URLs')
    .option('--no-replicas', 'no MySQL replica / PostgreSQL standby')
    .addOption(new Option('--only <engine>', 'start only one engine').choices(['mysql', 'postgres']))
    .option('--pg-version <major>', 'PostgreSQL major version: 15 (Debian package), 16, 17, 18 (npm packages pg16/pg17/pg18); default the newest installed')
    .option('--pg-bin <dir>', 'PostgreSQL bin directory holding initdb and postgres (wins over --pg-version)')
    .action(async (_opts: unknown, cmd: Command) => {
      const f = flags(cmd);
      const log = loggerFor(cmd);
      const { startSandbox } = await loadSandbox();
      const s = await startSandbox({
        dir: f.dir,
        mysql: f.only !== 'postgres',
        postgres: f.only !== 'mysql',
        replicas: f.replicas,
        pgVersion: f.pgVersion,
        pgBin: f.pgBin,
        detach: true,
        log,
      });
      const m = s.manifest;
      if (f.json) {
        printEnvelope(envelope('sandbox start', 'done', { state: 'started', ...m }));
        return;
      }
      const out: string[] = [`sandbox started in ${(s.startupMs / 1000).toFixed(1)} s in ${s.dir}`];
      if (m.mysql) {
        out.push(`  ${m.mysql.flavor} primary:  ${m.mysql.url}  (pid ${m.mysql.pid})`);
        if (m.mysql.replicaUrl) out.push(`  ${m.mysql.flavor} replica:  ${m.mysql.replicaUrl}  (pid ${m.mysql.replicaPid})`);
      }
      if (m.postgres) {
        out.push(`  postgres ${m.postgres.version} primary: ${m.postgres.url}  (pid ${m.postgres.pid})`);
        if (m.postgres.standbyUrl) out.push(`  postgres standby: ${m.postgres.standbyUrl}  (pid ${m.postgres.standbyPid})`);
      }
      out.push('', 'to run the tests against these servers:');
      if (m.mysql) {
        out.push(`  export GHOSTWRIGHT_TEST_MYSQL_URL=${m.mysql.url}`);
        if (m.mysql.replicaUrl) out.push(`  export GHOSTWRIGHT_TEST_MYSQL_REPLICA_URL=${m.mysql.replicaUrl}`);
      }
      if (m.postgres) {
        out.push(`  export GHOSTWRIGHT_TEST_PG_URL=${m.postgres.url}`);
        if (m.postgres.standbyUrl) out.push(`  export GHOSTWRIGHT_TEST_PG_STANDBY_URL=${m.postgres.standbyUrl}`);
      }
      out.push(`stop them with: ghostwright sandbox stop --dir ${f.dir}`);
      process.stdout.write(`${out.join('\n')}\n`);
    });

  withCommonOptions(sandbox.command('stop'))
    .description('stop the servers (by their pid) and remove their files')
    .action(async (_opts: unknown, cmd: Command) => {
      const f = flags(cmd);
      const { sandboxStatus, stopSandbox } = await loadSandbox();
      const before = sandboxStatus(f.dir);
      const stopped = await stopSandbox(f.dir);
      if (f.json) {
        const stuck = stopped.some((s) => s.alive);
        printEnvelope(envelope('sandbox stop', stuck ? 'refused' : 'done', { state: before.exists ? 'stopped' : 'absent', dir: before.dir, servers: stopped }, stuck ? { code: 'E_SANDBOX_STOP', message: `some sandbox servers in ${before.dir} did not stop` } : undefined));
        if (stuck) throw new ReportedExit(2);
        return;
      }
      if (!before.exists) {
        process.stdout.write(`no sandbox in ${before.dir}\n`);
        return;
      }
      for (const s of stopped) process.stdout.write(`  ${s.role} (pid ${s.pid}): ${s.alive ? 'STILL RUNNING' : 'stopped'}\n`);
      if (stopped.some((s) => s.alive)) {
        throw new RefusedError('E_SANDBOX_STOP', `some sandbox servers in ${before.dir} did not stop`, { hint: 'kill them by the pids above' });
      }
      process.stdout.write(`sandbox in ${before.dir} stopped and removed\n`);
    });

  withCommonOptions(sandbox.command('status'))
    .description('show which sandbox servers run (exit 0 all running, 1 otherwise)')
    .action(async (_opts: unknown, cmd: Command) => {
      const f = flags(cmd);
      const status = (await loadSandbox()).sandboxStatus(f.dir);
      if (f.json) printEnvelope(envelope('sandbox status', status.allAlive ? 'done' : 'failed', status, status.allAlive ? undefined : { code: 'E_SANDBOX_DOWN', message: status.exists ? 'some sandbox servers are not running' : `no sandbox in ${status.dir}` }));
      else process.stdout.write(formatStatus(status));
      if (!status.allAlive) throw new ReportedExit(1);
    });
}

function formatStatus(s: SandboxStatus): string {
  if (!s.exists) return `no sandbox in ${s.dir}\n`;
  const lines = [`sandbox in ${s.dir}, started ${s.startedAt}`];
  for (const srv of s.servers) lines.push(`  ${srv.role.padEnd(17)} pid ${String(srv.pid).padEnd(7)} ${srv.alive ? 'running' : 'DOWN   '}  ${srv.url}`);
  return `${lines.join('\n')}\n`;
}
