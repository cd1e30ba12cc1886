/**
 * examples/library/migrate-then-alter.mjs runs as a user would run it
 * (importing the built package by name) on both engines, and its failure
 * path shows the library's one error convention: a GhostwrightError with a
 * stable code.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { dropDatabase, freshDatabase, sql, type TestDialect } from '../helpers/servers.js';

const EXAMPLE = fileURLToPath(new URL('../../examples/library/migrate-then-alter.mjs', import.meta.url));

describe.each(['mysql', 'postgres'] as TestDialect[])('the library example on %s', (dialect) => {
  it('migrates, checks the version, alters online, and catches E_NO_TABLE', async () => {
    const url = await freshDatabase(dialect, `libex_${dialect}`);
    try {
      const out = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile(process.execPath, [EXAMPLE], { env: { ...process.env, GHOSTWRIGHT_URL: url }, timeout: 300_000 }, (err, stdout, stderr) =>
          resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout, stderr }),
        );
      });
      expect(out.code, out.stderr).toBe(0);
      expect(out.stdout).toMatch(/^applied 4 migration\(s\); schema version 3$/m);
      expect(out.stdout).toMatch(/^dry run: copy by /m);
      expect(out.stdout).toMatch(/^altered .*orders: \d+ rows copied/m);
      expect(out.stdout).toMatch(/^refused as expected: E_NO_TABLE \(exit code 2\)/m);
      const db = await sql(url);
      try {
        const cols = dialect === 'mysql'
          ? await db.query<{ c: string }>("SELECT COLUMN_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'orders' AND COLUMN_NAME = 'shipped_at'")
          : await db.query<{ c: string }>("SELECT column_name AS c FROM information_schema.columns WHERE table_name = 'orders' AND column_name = 'shipped_at'");
        expect(cols).toHaveLength(1);
      } finally {
        await db.end();
      }
    } finally {
      await dropDatabase(url);
    }
  });
});
