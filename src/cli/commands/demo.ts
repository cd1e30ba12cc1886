import type { Command } from 'commander';
import { GhostwrightError } from '../../errors.js';
import { intOption, ReportedExit } from '../common.js';
import { envelope, printEnvelope } from '../envelope.js';
import { gracefulInterrupts } from '../signals.js';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('start a local server, fill a table, put write load on it and run an online ALTER, then verify no write was lost')
    .option('--engine <engine>', 'mysql | postgres', 'mysql')
    .option('--rows <n>', 'rows in the sample table', intOption('--rows'), 1_000_000)
    .option('--threads <n>', 'parallel copy workers', intOption('--threads'), 2)
    .option('--url <url>', 'use this server instead of starting one')
    .option('--keep', 'leave the started server running')
    .option('--json', 'print the result as JSON on stdout')
    .action(async (opts: { engine: string; rows: number; threads: number; url?: string; keep?: boolean; json?: boolean }) => {
      if (opts.engine !== 'mysql' && opts.engine !== 'postgres') throw new GhostwrightError('E_BAD_FLAG', `--engine must be mysql or postgres, got ${opts.engine}`, { exitCode: 2 });
      // Loaded when run: the demo imports the sandbox and both drivers.
      const { formatDemo, runDemo } = await import('../../demo/run.js');
      const result = await runDemo({ engine: opts.engine, rows: opts.rows, url: opts.url, threads: opts.threads, keep: opts.keep === true, json: opts.json === true, signal: gracefulInterrupts() });
      const ok = result.verification.ok && result.report.status === 'done';
      const failure = new GhostwrightError('E_DEMO_FAILED', 'the demo migration did not verify', { exitCode: 1 });
      if (opts.json) printEnvelope(envelope('demo', ok ? 'done' : 'failed', result, ok ? undefined : failure.toJSON()));
      else process.stdout.write(`${formatDemo(result)}\n`);
      if (!ok) {
        if (opts.json) throw new ReportedExit(1);
        throw failure;
      }
    });
}
