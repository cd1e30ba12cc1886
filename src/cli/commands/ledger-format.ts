/** Human-readable output of the ledger commands. */
import type { DryRunFile, InfoResult, LintFinding, MigrateResult } from '../../ledger/index.js';

export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  const rule = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`;
  return [rule, line(headers), rule, ...rows.map(line), rule].join('\n') + '\n';
}

export function formatInfo(result: InfoResult): string {
  const rows = result.entries.map((e) => [e.category, e.version ?? '', e.description, e.type, e.installedOn ?? '', e.state + (e.checksumMismatch ? ' (checksum changed)' : '') + (e.progress ? ` (${e.progress.statementsDone} of ${e.progress.statementsTotal} statements applied)` : '')]);
  let text = `schema version: ${result.current ?? '(none)'}\n`;
  text += table(['Category', 'Version', 'Description', 'Type', 'Installed On', 'State'], rows);
  for (const f of result.unrecognised) text += `warning: ${f} matches no migration naming rule and is ignored\n`;
  return text;
}

export function formatMigrate(result: MigrateResult): string {
  const lines: string[] = [];
  if (result.baselined) lines.push(`baselined the existing schema at version ${result.baselined}`);
  for (const a of result.applied) {
    const name = a.version ? `version ${a.version} - ${a.description}` : `repeatable "${a.description}"`;
    lines.push(`applied ${name} (${a.statements} statement(s), ${a.executionTime} ms${a.resumedAt ? `, resumed at statement ${a.resumedAt}` : ''})`);
  }
  lines.push(result.applied.length ? `successfully applied ${result.applied.length} migration(s); schema version: ${result.current ?? '(none)'}` : `schema is up to date; version: ${result.current ?? '(none)'}`);
  return `${lines.join('\n')}\n`;
}

export function formatDryRun(files: DryRunFile[]): string {
  if (files.length === 0) return 'dry run: nothing to migrate\n';
  const lines = ['dry run: nothing was changed'];
  for (const f of files) {
    lines.push(`${f.script}`);
    for (const s of f.statements) {
      lines.push(`  ${String(s.index).padStart(3)}  line ${String(s.line).padEnd(4)} ${s.path.padEnd(14)} ${s.sql.replace(/\s+/g, ' ').slice(0, 70)}`);
      lines.push(`                  why: ${s.why}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

export function formatFindings(findings: LintFinding[]): string {
  if (findings.length === 0) return 'lint: no findings\n';
  const lines: string[] = [];
  for (const f of findings) {
    lines.push(`${f.file}:${f.line}  ${f.severity.padEnd(8)} ${f.id}  ${f.statement}`);
    lines.push(`    why: ${f.why}`);
    lines.push(`    fix: ${f.fix}`);
  }
  return `${lines.join('\n')}\n`;
}
