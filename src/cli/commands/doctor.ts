import type { Command } from 'commander';
import { parseConnectionUrl, redactedUrl } from '../../connection.js';
import { connectEngine } from '../../engine/index.js';
import { leftoverCheck } from '../../core/leftovers.js';
import type { CheckResult } from '../../engine/engine.js';
import { collect, loggerFor, ReportedExit, requireUrl } from '../common.js';
import { envelope, printEnvelope } from '../envelope.js';
import { passwordOptions, resolvePassword, warnPasswordInArgv, type PasswordFlags } from '../password.js';

export function registerDoctor(program: Command): void {
  const command = program
    .command('doctor')
    .description('check whether a server can take online schema changes (exit 0 ready, 2 not)')
    .option('--url <url>', 'database URL (mysql://, mariadb://, postgres://)')
    .option('--replica <url>', 'a replica to check for reachability and lag (repeatable)', collect, [])
    .option('--table <name>', 'also check for leftovers of earlier runs on this table (each a failure, with the cleanup command)')
    .option('--json', 'machine-readable output on stdout');
  passwordOptions(command)
    .action(async (opts: { url?: string; replica: string[]; table?: string; json?: boolean } & PasswordFlags, cmd: Command) => {
      const log = loggerFor(cmd);
      warnPasswordInArgv([opts.url]);
      warnPasswordInArgv(opts.replica, '--replica');
      const password = await resolvePassword(opts);
      const withPassword = password !== undefined ? { password } : {};
      const spec = parseConnectionUrl(requireUrl(opts.url), process.env, withPassword);
      const replicas = opts.replica.map((r) => parseConnectionUrl(r, process.env, withPassword));
      const engine = await connectEngine(spec, log);
      let checks: CheckResult[];
      let server;
      try {
        server = await engine.serverInfo();
        checks = await engine.doctor(replicas);
        if (opts.table !== undefined) {
          const ref = engine.tableRef(opts.table);
          checks.push(leftoverCheck(ref, await engine.leftovers(ref)));
        }
      } finally {
        await engine.close();
      }
      // Fixes that name a ghostwright command get this server's (redacted) URL.
      checks = checks.map((c) => (c.fix?.includes('<URL>') ? { ...c, fix: c.fix.replaceAll('<URL>', redactedUrl(spec)) } : c));
      const ready = checks.every((c) => c.ok || c.severity !== 'error');
      if (opts.json) {
        const failed = checks.filter((c) => !c.ok && c.severity === 'error');
        const error = ready ? undefined : { code: 'E_NOT_READY', message: `${failed.length} check(s) failed: ${failed.map((c) => c.id).join(', ')}`, hint: 'apply the fix of each failed check', details: { checks: failed.map((c) => c.id) } };
        printEnvelope(envelope('doctor', ready ? 'done' : 'refused', { ready, url: redactedUrl(spec), server, checks }, error));
      } else {
        process.stdout.write(`${server.flavor} ${server.version} at ${redactedUrl(spec)}\n`);
        for (const c of checks) process.stdout.write(formatCheck(c));
        process.stdout.write(ready ? 'ready for online schema changes\n' : 'NOT ready: fix the failed checks above\n');
      }
      if (!ready) throw new ReportedExit(2);
    });
}

export function formatCheck(c: CheckResult): string {
  const mark = c.ok ? 'ok  ' : c.severity === 'error' ? 'FAIL' : 'warn';
  const fix = !c.ok && c.fix ? `\n        fix: ${c.fix}` : '';
  return `  [${mark}] ${c.title}: ${c.detail}${fix}\n`;
}
