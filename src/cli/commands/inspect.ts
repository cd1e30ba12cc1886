import type { Command } from 'commander';
import { parseConnectionUrl } from '../../connection.js';
import { passwordOptions, resolvePassword, warnPasswordInArgv, type PasswordFlags } from '../password.js';
import { connectEngine } from '../../engine/index.js';
import type { TableInfo } from '../../engine/engine.js';
import { loggerFor, requireUrl } from '../common.js';
import { envelope, printEnvelope } from '../envelope.js';

export function registerInspect(program: Command): void {
  const command = program
    .command('inspect')
    .description('describe a table as the online ALTER sees it: columns, keys, foreign keys, triggers, dependents, size')
    .option('--url <url>', 'database URL')
    .requiredOption('--table <name>', 'table, optionally schema-qualified')
    .option('--json', 'machine-readable output on stdout');
  passwordOptions(command)
    .action(async (opts: { url?: string; table: string; json?: boolean } & PasswordFlags, cmd: Command) => {
      warnPasswordInArgv([opts.url]);
      const password = await resolvePassword(opts);
      const log = loggerFor(cmd);
      const engine = await connectEngine(parseConnectionUrl(requireUrl(opts.url), process.env, password !== undefined ? { password } : {}), log);
      try {
        const info = await engine.inspect(engine.tableRef(opts.table));
        if (opts.json) printEnvelope(envelope('inspect', 'done', info));
        else process.stdout.write(formatTable(info));
      } finally {
        await engine.close();
      }
    });
}

export function formatTable(t: TableInfo): string {
  const lines: string[] = [`table ${t.ref.schema}.${t.ref.name}  (~${t.estimatedRows} rows, ~${t.estimatedBytes} bytes)`, 'columns:'];
  for (const c of t.columns) {
    const bits = [c.type, c.nullable ? 'NULL' : 'NOT NULL'];
    if (c.default !== null) bits.push(`DEFAULT ${c.default}`);
    if (c.generated) bits.push(`GENERATED ${c.generated.toUpperCase()} AS (${c.generationExpression ?? ''})`);
    if (c.identity) bits.push(c.identity);
    lines.push(`  ${c.name}  ${bits.join(' ')}`);
  }
  const key = (k: { name: string; columns: string[] }) => `${k.name} (${k.columns.join(', ')})`;
  lines.push(`primary key: ${t.primaryKey ? key(t.primaryKey) : 'none'}`);
  for (const u of t.uniqueKeys) lines.push(`unique key: ${key(u)}${u.usableForCopy && !u.hasNullableColumn ? '' : `  [not usable: ${u.reason ?? 'nullable column'}]`}`);
  lines.push(`copy key: ${t.copyKey ? key(t.copyKey) : 'NONE - an online ALTER would be refused'}`);
  for (const f of t.foreignKeys) lines.push(`foreign key: ${f.name} (${f.columns.join(', ')}) -> ${f.referencedTable.schema}.${f.referencedTable.name} (${f.referencedColumns.join(', ')})`);
  for (const f of t.referencedBy) lines.push(`referenced by: ${f.table.schema}.${f.table.name}.${f.name} (${f.columns.join(', ')})`);
  for (const tr of t.triggers) lines.push(`trigger: ${tr.name} ${tr.timing} ${tr.events.join('/')}`);
  if (t.partitioned) lines.push(`partitions: ${t.partitions.join(', ')}`);
  for (const v of t.dependentViews) lines.push(`dependent view: ${v}`);
  for (const s of t.ownedSequences) lines.push(`owned sequence: ${s}`);
  return `${lines.join('\n')}\n`;
}
