// The library API in one file: apply a migrations folder, check the schema
// version an application needs, prove an online ALTER with a dry run, run
// it, and handle a failure by its stable error code.
//
//   GHOSTWRIGHT_URL=mysql://user:pass@127.0.0.1:3306/shop node examples/library/migrate-then-alter.mjs
//   (or postgres://...; the migrations folder matching the URL is used)
import { fileURLToPath } from 'node:url';
import { alterOptions, GhostwrightError, migrate, requireSchemaVersion, runOnlineAlter } from 'ghostwright';

const url = process.env.GHOSTWRIGHT_URL;
if (!url) throw new Error('set GHOSTWRIGHT_URL');
const engine = url.startsWith('postgres') ? 'postgres' : 'mysql';
const dir = fileURLToPath(new URL(`../migrations-${engine}`, import.meta.url));

// 1. Migrations: resolves with what was applied, throws GhostwrightError otherwise.
const result = await migrate({ url, dir });
console.log(`applied ${result.applied.length} migration(s); schema version ${result.current}`);

// 2. An application refuses to start on an older schema.
await requireSchemaVersion(url, '3');

// 3. An online ALTER: a dry run proves it on a ghost table, then the real run.
const options = { url, table: 'orders', alter: 'ADD COLUMN shipped_at VARCHAR(40) NULL' };
const plan = await runOnlineAlter(alterOptions(options));
console.log(`dry run: copy by ${plan.plan.key.name}, ~${plan.plan.estimatedRows} rows`);
const done = await runOnlineAlter(alterOptions({ ...options, execute: true, dropOldTable: true }));
console.log(`altered ${done.table}: ${done.rowsCopied} rows copied, writers blocked ${done.cutOverStallMs} ms`);

// 4. Failures are typed errors with a stable code, a hint and what was done so far.
try {
  await runOnlineAlter(alterOptions({ url, table: 'no_such_table', alter: 'ADD COLUMN x INT' }));
} catch (err) {
  if (!(err instanceof GhostwrightError)) throw err;
  console.log(`refused as expected: ${err.code} (exit code ${err.exitCode}): ${err.hint ?? err.message}`);
}
