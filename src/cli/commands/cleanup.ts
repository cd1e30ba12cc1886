/**
 * `ghostwright cleanup --url URL --table T`: removes on purpose what runs on
 * T left behind (a kill -9, a lost server): the ghost, the changelog, and on
 * PostgreSQL the slot (which retains WAL until dropped), the publication and
 * the replication origins. Never the original table; the kept old table
 * `_t_del` only with --drop-old-table. A dry run by default: --execute acts.
 * Refuses (exit 2, nothing removed) while a run on T is still going: a slot
 * in use, or a control socket that answers.
 */
import { createConnection } from 'node:net';
import type { Command } from 'commander';
import { parseConnectionUrl, redactedUrl } from '../../connection.js';
import { runSocketPath } from '../../control/socket.js';
import { describeLeftover } from '../../core/leftovers.js';
import { connectEngine } from '../../engine/index.js';
import type { Leftover } from '../../engine/engine.js';
import { RefusedError } from '../../errors.js';
import { loggerFor, requireUrl } from '../common.js';
import { envelope, printEnvelope } from '../envelope.js';
import { passwordOptions, resolvePassword, warnPasswordInArgv, type PasswordFlags } from '../password.js';

interface CleanupFlags {
  url?: string;
  table: string;
  execute?: boolean;
  dropOldTable?: boolean;
  socket?: string;
  json?: boolean;
}

/** True when a control socket answers: its run is alive (a stale file refuses the connection). */
function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
    s.setTimeout(1000, () => done(false));
  });
}

export function registerCleanup(program: Command): void {
  const command = program
    .command('cleanup')
    .description('remove what an interrupted run left on a table: ghost, changelog, slot, publication, origins (dry run unless --execute)')
    .option('--url <url>', 'database URL (mysql://, mariadb://, postgres://)')
    .requiredOption('--table <name>', 'the table the run was migrating, optionally schema-qualified')
    .option('--execute', 'remove them (default: list what would be removed)')
    .option('--drop-old-table', 'also drop the kept old table _<table>_del')
    .option('--socket <path>', "the run's control socket, if it was not the default")
    .option('--json', 'machine-readable output on stdout');
  passwordOptions(command)
    .action(async (flags: CleanupFlags & PasswordFlags, cmd: Command) => {
      const log = loggerFor(cmd);
      warnPasswordInArgv([flags.url]);
      const password = await resolvePassword(flags);
      const spec = parseConnectionUrl(requireUrl(flags.url), process.env, password !== undefined ? { password } : {});
      const engine = await connectEngine(spec, log);
      try {
        const ref = engine.tableRef(flags.table);
        const found = await engine.leftovers(ref);
        // The run's own default socket (on PostgreSQL it names the database too): a live run answers there.
        const socket = flags.socket ?? runSocketPath(ref, spec.database, engine.capabilities.schemas);
        const active = found.filter((l) => l.active).map(describeLeftover);
        if (await socketAnswers(socket)) active.push(`control socket ${socket} answers`);
        if (active.length) {
          throw new RefusedError('E_RUN_ACTIVE', `a run on ${ref.schema}.${ref.name} is still going: ${active.join('; ')}`, {
            hint: `wait for it to finish, or stop it (ghostwright control --socket ${socket} panic), then run cleanup again`,
          });
        }
        const remove = found.filter((l) => l.kind !== 'old-table' || flags.dropOldTable);
        const kept = found.filter((l) => !remove.includes(l));
        const removed: Leftover[] = flags.execute ? await engine.dropLeftovers(ref, remove) : [];
        const table = `${ref.schema}.${ref.name}`;
        if (flags.json) {
          printEnvelope(envelope('cleanup', flags.execute ? 'done' : 'dry-run', { url: redactedUrl(spec), table, found, ...(flags.execute ? { removed } : { wouldRemove: remove }), kept }));
        } else {
          const lines = [`${flags.execute ? 'cleanup' : 'cleanup (dry run)'}: ${engine.dialect} ${table}`];
          if (found.length === 0) lines.push('  nothing left by earlier runs');
          for (const l of remove) lines.push(`  ${flags.execute ? 'removed' : 'would remove'}: ${describeLeftover(l)}`);
          for (const l of kept) lines.push(`  kept:         ${describeLeftover(l)} (add --drop-old-table to remove it)`);
          if (!flags.execute && remove.length) lines.push('  (dry run: nothing changed; add --execute to remove them)');
          process.stdout.write(`${lines.join('\n')}\n`);
        }
      } finally {
        await engine.close();
      }
    });
}

