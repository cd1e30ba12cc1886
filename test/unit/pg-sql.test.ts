import { describe, expect, it } from 'vitest';
import { parseTableRef, quoteIdent } from '../../src/engine/postgres/ident.js';
import { applyDeleteSql, applyInsertSql, applyRemoveSql, applyUpdateSql, chunkEndSql, copyRangeSql, missingKeysSql, keyBoundSql, sampleKeysSql, type CopySpec } from '../../src/engine/postgres/sql.js';
import { xidsVisible } from '../../src/engine/postgres/apply.js';
import { withNotValid, createGhostSql, createChangelogSql } from '../../src/engine/postgres/ghost.js';
import { grantSql } from '../../src/engine/postgres/swap.js';
import { hashedValue, spanChecksumSql } from '../../src/engine/postgres/verify.js';
import { compareLsn, lsnBefore } from '../../src/engine/postgres/lsn.js';

describe('quoteIdent (PostgreSQL)', () => {
  it('doubles double quotes and keeps everything else', () => {
    expect(quoteIdent('t')).toBe('"t"');
    expect(quoteIdent('Mixed Case')).toBe('"Mixed Case"');
    expect(quoteIdent('a"b')).toBe('"a""b"');
    expect(quoteIdent('"; DROP TABLE x; --')).toBe('"""; DROP TABLE x; --"');
    expect(quoteIdent("it's")).toBe(`"it's"`);
    expect(quoteIdent('ünïcødé😀')).toBe('"ünïcødé😀"');
    expect(quoteIdent('back\\slash')).toBe('"back\\slash"');
  });

  it('rejects empty, NUL and names over 63 bytes', () => {
    expect(() => quoteIdent('')).toThrow(/empty/);
    expect(() => quoteIdent('a\u0000b')).toThrow(/NUL/);
    expect(() => quoteIdent('x'.repeat(64))).toThrow(/63 bytes/);
    expect(quoteIdent('x'.repeat(63))).toBe(`"${'x'.repeat(63)}"`);
  });

  it('counts bytes, not characters (multibyte at the 63-byte limit)', () => {
    const ok = 'é'.repeat(31) + 'x'; // 62 + 1 = 63 bytes
    expect(Buffer.byteLength(ok)).toBe(63);
    expect(quoteIdent(ok)).toBe(`"${ok}"`);
    const tooLong = 'é'.repeat(32); // 32 chars, 64 bytes
    expect(() => quoteIdent(tooLong)).toThrow(/63 bytes/);
    expect(() => quoteIdent('😀'.repeat(16))).toThrow(/63 bytes/); // 64 bytes
    expect(quoteIdent('😀'.repeat(15) + 'abc')).toBe(`"${'😀'.repeat(15)}abc"`); // 63 bytes
  });
});

describe('parseTableRef', () => {
  it('defaults the schema and folds unquoted names', () => {
    expect(parseTableRef('orders', 'public')).toEqual({ schema: 'public', name: 'orders' });
    expect(parseTableRef('Sales.Orders', 'public')).toEqual({ schema: 'sales', name: 'orders' });
    expect(parseTableRef('app.orders', 'x')).toEqual({ schema: 'app', name: 'orders' });
  });
  it('keeps quoted names exactly, with dots and doubled quotes', () => {
    expect(parseTableRef('"My.Schema"."Or""ders"', 'public')).toEqual({ schema: 'My.Schema', name: 'Or"ders' });
    expect(parseTableRef('"T"', 'app')).toEqual({ schema: 'app', name: 'T' });
  });
  it('refuses malformed names', () => {
    expect(() => parseTableRef('a.b.c', 'public')).toThrow();
    expect(() => parseTableRef('"open', 'public')).toThrow(/unterminated/);
    expect(() => parseTableRef('', 'public')).toThrow();
    expect(() => parseTableRef('x'.repeat(64), 'public')).toThrow(/63 bytes/);
  });
});

const spec: CopySpec = {
  original: { schema: 'public', name: 'orders' },
  ghost: { schema: 'public', name: '_orders_gho' },
  pairs: [
    { source: 'id', target: 'id' },
    { source: 'region', target: 'region' },
    { source: 'note', target: 'comment' },
  ],
  sourceKey: ['id', 'region'],
  targetKey: ['id', 'region'],
  keyTypes: ['bigint', 'character varying(10)'],
};

describe('copy and apply SQL', () => {
  it('finds the end of the next chunk with row comparisons', () => {
    const q = chunkEndSql(spec, ['10', 'eu'], ['20', 'us'], 500);
    expect(q.sql).toBe(
      'SELECT "id"::text AS k0, "region"::text AS k1 FROM "public"."orders" WHERE ("id", "region") > ($1::bigint, $2::character varying(10)) AND ("id", "region") <= ($3::bigint, $4::character varying(10)) ORDER BY "id" ASC, "region" ASC OFFSET $5 LIMIT 1',
    );
    expect(q.params).toEqual(['10', 'eu', '20', 'us', 499]);
    expect(chunkEndSql(spec, null, null, 100)).toEqual({ sql: 'SELECT "id"::text AS k0, "region"::text AS k1 FROM "public"."orders" ORDER BY "id" ASC, "region" ASC OFFSET $1 LIMIT 1', params: [99] });
  });

  it('copies one key range with a plain INSERT ... SELECT (the ghost holds none of it yet)', () => {
    const q = copyRangeSql(spec, ['10', 'eu'], ['20', 'us']);
    expect(q.sql).toBe(
      'INSERT INTO "public"."_orders_gho" ("id", "region", "comment") OVERRIDING SYSTEM VALUE SELECT "id", "region", "note" FROM "public"."orders" ' +
        'WHERE ("id", "region") > ($1::bigint, $2::character varying(10)) AND ("id", "region") <= ($3::bigint, $4::character varying(10))',
    );
    expect(q.params).toEqual(['10', 'eu', '20', 'us']);
    expect(copyRangeSql(spec, null, null).sql).toBe('INSERT INTO "public"."_orders_gho" ("id", "region", "comment") OVERRIDING SYSTEM VALUE SELECT "id", "region", "note" FROM "public"."orders"');
  });

  it('skips conflicting rows on demand, and finds the keys of a range missing from the ghost', () => {
    expect(copyRangeSql(spec, null, ['20', 'us'], true).sql.endsWith('<= ($1::bigint, $2::character varying(10)) ON CONFLICT DO NOTHING')).toBe(true);
    expect(missingKeysSql(spec, ['10', 'eu'], null)).toEqual({
      sql:
        'SELECT o."id"::text AS k0, o."region"::text AS k1 FROM "public"."orders" AS o WHERE (o."id", o."region") > ($1::bigint, $2::character varying(10)) ' +
        'AND NOT EXISTS (SELECT 1 FROM "public"."_orders_gho" AS g WHERE g."id" = o."id" AND g."region" = o."region")',
      params: ['10', 'eu'],
    });
  });

  it('builds bounds and samples', () => {
    expect(keyBoundSql(spec, 'DESC').sql).toBe('SELECT "id"::text AS k0, "region"::text AS k1 FROM "public"."orders" ORDER BY "id" DESC, "region" DESC LIMIT 1');
    expect(sampleKeysSql(spec, 5)).toEqual({ sql: 'SELECT "id"::text AS k0, "region"::text AS k1 FROM "public"."orders" TABLESAMPLE SYSTEM ($1) ORDER BY "id" ASC, "region" ASC', params: [5] });
    expect(sampleKeysSql(spec, 100).params).toEqual([]);
  });

  it('deletes every key of the batch from the ghost', () => {
    const q = applyRemoveSql(spec, [['1', 'eu'], ['2', 'us']]);
    expect(q.sql).toBe(
      'DELETE FROM "public"."_orders_gho" AS g USING (SELECT k.c0::bigint AS c0, k.c1::character varying(10) AS c1 FROM unnest($1::text[], $2::text[]) AS k(c0, c1)) AS d ' +
        'WHERE (g."id", g."region") = (d.c0, d.c1)',
    );
    expect(q.params).toEqual([['1', '2'], ['eu', 'us']]);
  });

  it('inserts the current rows of keys from the original, without ON CONFLICT', () => {
    const q = applyInsertSql(spec, [['1', 'eu']]);
    expect(q.sql).toBe(
      'INSERT INTO "public"."_orders_gho" ("id", "region", "comment") OVERRIDING SYSTEM VALUE SELECT o."id", o."region", o."note" FROM "public"."orders" AS o ' +
        'WHERE (o."id", o."region") IN (SELECT c0, c1 FROM (SELECT k.c0::bigint AS c0, k.c1::character varying(10) AS c1 FROM unnest($1::text[], $2::text[]) AS k(c0, c1)) AS d)',
    );
    expect(q.params).toEqual([['1'], ['eu']]);
  });

  it('deletes the keys gone from the original, updates the others in place, inserts those the ghost lacks', () => {
    const keys = "(SELECT k.c0::bigint AS c0, k.c1::character varying(10) AS c1 FROM unnest($1::text[], $2::text[]) AS k(c0, c1))";
    expect(applyDeleteSql(spec, [['1', 'eu']]).sql).toBe(
      `DELETE FROM "public"."_orders_gho" AS g USING ${keys} AS d WHERE (g."id", g."region") = (d.c0, d.c1) AND NOT EXISTS (SELECT 1 FROM "public"."orders" AS o WHERE (o."id", o."region") = (d.c0, d.c1))`,
    );
    const current = `SELECT o."id", o."region", o."note" FROM "public"."orders" AS o WHERE (o."id", o."region") IN (SELECT c0, c1 FROM ${keys} AS d)`;
    expect(applyUpdateSql(spec, [['1', 'eu']])).toEqual({ sql: `UPDATE "public"."_orders_gho" AS g SET "comment" = s."note" FROM (${current}) AS s WHERE (g."id", g."region") = (s."id", s."region")`, params: [['1'], ['eu']] });
    expect(applyInsertSql(spec, [['1', 'eu']], null, true).sql).toBe(
      `INSERT INTO "public"."_orders_gho" ("id", "region", "comment") OVERRIDING SYSTEM VALUE ${current} AND NOT EXISTS (SELECT 1 FROM "public"."_orders_gho" AS g WHERE g."id" = o."id" AND g."region" = o."region")`,
    );
    // Every column is a key column: nothing to update.
    expect(applyUpdateSql({ ...spec, pairs: spec.pairs.slice(0, 2) }, [['1', 'eu']])).toBeNull();
  });

  it('inserts only keys the copy has passed: copied prefixes of each range, and keys above a closed last range', () => {
    const copied = { spans: [{ after: null, through: ['5', 'eu'] }, { after: ['9', 'us'], through: null }], above: ['20', 'us'] };
    const q = applyInsertSql(spec, [['1', 'eu']], copied);
    expect(q.sql).toContain(
      'AS d) AND (((o."id", o."region") <= ($3::bigint, $4::character varying(10))) OR ((o."id", o."region") > ($5::bigint, $6::character varying(10))) OR ((o."id", o."region") > ($7::bigint, $8::character varying(10))))',
    );
    expect(q.params).toEqual([['1'], ['eu'], '5', 'eu', '9', 'us', '20', 'us']);
    // Nothing copied yet and an open last range: every change is left to the copy.
    expect(applyInsertSql(spec, [['1', 'eu']], { spans: [], above: null }).sql.endsWith('AS d) AND (false)')).toBe(true);
  });

  it('quotes hostile names everywhere', () => {
    const hostile: CopySpec = { original: { schema: 'we"ird', name: 'ta ble' }, ghost: { schema: 'we"ird', name: '_ta ble_gho' }, pairs: [{ source: 'i"d', target: 'i"d' }], sourceKey: ['i"d'], targetKey: ['i"d'], keyTypes: ['integer'] };
    expect(keyBoundSql(hostile, 'ASC').sql).toBe('SELECT "i""d"::text AS k0 FROM "we""ird"."ta ble" ORDER BY "i""d" ASC LIMIT 1');
  });
});

describe('ghost DDL', () => {
  const n = { original: { schema: 's', name: 't' }, ghost: { schema: 's', name: '_t_gho' }, changelog: { schema: 's', name: '_t_ghc' } };
  it('creates the ghost like the original and the changelog', () => {
    expect(createGhostSql(n)).toEqual(['CREATE TABLE "s"."_t_gho" (LIKE "s"."t" INCLUDING ALL)']);
    expect(createChangelogSql(n)).toBe('CREATE TABLE "s"."_t_ghc" (id int PRIMARY KEY, heartbeat timestamptz, state jsonb, updated_at timestamptz NOT NULL DEFAULT clock_timestamp())');
  });
  it('adds NOT VALID once', () => {
    expect(withNotValid('FOREIGN KEY (a) REFERENCES p(id)')).toBe('FOREIGN KEY (a) REFERENCES p(id) NOT VALID');
    expect(withNotValid('FOREIGN KEY (a) REFERENCES p(id) NOT VALID')).toBe('FOREIGN KEY (a) REFERENCES p(id) NOT VALID');
  });
  it('re-grants privileges except the owner\'s', () => {
    expect(
      grantSql('"s"."t"', [
        { grantee: 'own', privilege: 'SELECT', grantable: false },
        { grantee: 'app"user', privilege: 'UPDATE', grantable: true },
        { grantee: null, privilege: 'SELECT', grantable: false },
      ], 'own'),
    ).toEqual(['GRANT UPDATE ON TABLE "s"."t" TO "app""user" WITH GRANT OPTION', 'GRANT SELECT ON TABLE "s"."t" TO PUBLIC']);
  });
});

describe('xidsVisible', () => {
  it('sees committed xids below xmax and not running', () => {
    expect(xidsVisible('100:105:102', [99, 101, 104])).toBe(true);
    expect(xidsVisible('100:105:102', [102])).toBe(false);
    expect(xidsVisible('100:105:', [105])).toBe(false);
    expect(xidsVisible('100:105:', [106])).toBe(false);
  });
  it('compares modulo 2^32 across an epoch', () => {
    const xmax = (1n << 32n) + 5n; // epoch 1, xid 5
    expect(xidsVisible(`${xmax - 10n}:${xmax}:`, [0xfffffff0])).toBe(true);
    expect(xidsVisible(`${xmax - 10n}:${xmax}:`, [6])).toBe(false);
  });
});

describe('ALTER ... USING', () => {
  it('finds USING expressions per source column', async () => {
    const { parseUsing } = await import('../../src/engine/postgres/using.js');
    await (await import('../../src/engine/postgres/alter-parse.js')).loadPgParser();
    expect([...parseUsing(`ALTER COLUMN doc TYPE jsonb USING doc::jsonb, ADD COLUMN x int, ALTER "Amount" SET DATA TYPE numeric(10,2) USING ("Amount" / 100.0)`)]).toEqual([
      ['doc', 'doc::jsonb'],
      ['Amount', '("Amount" / 100.0)'],
    ]);
    expect(parseUsing('ALTER COLUMN a TYPE bigint').size).toBe(0);
  });

  it('reads the expression instead of the column in copy and apply', () => {
    const s: CopySpec = { ...spec, pairs: [spec.pairs[0]!, spec.pairs[1]!, { source: 'note', target: 'comment', expression: 'note::jsonb' }] };
    expect(copyRangeSql(s, null, null).sql).toContain('OVERRIDING SYSTEM VALUE SELECT "id", "region", (note::jsonb) AS "note" FROM "public"."orders"');
    expect(applyInsertSql(s, [['1', 'eu']]).sql).toContain('SELECT o."id", o."region", (note::jsonb) AS "note" FROM "public"."orders" AS o WHERE');
  });
});

describe('rewriteObjectNames', () => {
  it("points the ALTER at the ghost's copies of named constraints and indexes", async () => {
    const { rewriteObjectNames } = await import('../../src/engine/postgres/using.js');
    await (await import('../../src/engine/postgres/alter-parse.js')).loadPgParser();
    const names = { constraints: new Map([['t_pkey', '_t_gho_pkey'], ['T Key', '_t_gho_T Key']]), indexes: new Map([['t_pkey', '_t_gho_pkey'], ['t_v_idx', '_t_gho_v_idx']]) };
    expect(rewriteObjectNames('DROP CONSTRAINT t_pkey, ADD PRIMARY KEY (a), DROP CONSTRAINT IF EXISTS "T Key" CASCADE, DROP CONSTRAINT t_check, CLUSTER ON t_v_idx, ADD COLUMN x int', names, quoteIdent)).toBe(
      'DROP CONSTRAINT "_t_gho_pkey", ADD PRIMARY KEY (a), DROP CONSTRAINT IF EXISTS "_t_gho_T Key" CASCADE, DROP CONSTRAINT t_check, CLUSTER ON "_t_gho_v_idx", ADD COLUMN x int',
    );
    expect(rewriteObjectNames('RENAME CONSTRAINT T_PKEY TO t_pk', names, quoteIdent)).toBe('RENAME CONSTRAINT "_t_gho_pkey" TO t_pk');
  });
});

describe('hashedValue (PostgreSQL verification)', () => {
  it('hashes strict binary types as they are, strings byte-wise, and every other type as its text', () => {
    expect(hashedValue('"a"', 'bigint')).toBe('"a"');
    expect(hashedValue('"t"', 'timestamp(3) with time zone')).toBe('"t"');
    expect(hashedValue('"f"', 'character(84)')).toBe('("f" COLLATE "C")');
    expect(hashedValue('"v"', 'character varying(10)')).toBe('("v" COLLATE "C")');
    // numeric: 1.0 = 1.00 by hash, not by text; floats, arrays, json, domains and user types alike.
    for (const t of ['numeric(10,2)', 'double precision', 'integer[]', 'jsonb', 'public.money_d']) {
      expect(hashedValue('"x"', t)).toBe('(("x")::text COLLATE "C")');
    }
  });
});

describe('lsnBefore (what the replication library is given, so the server gets exactly the LSN)', () => {
  it('steps back one byte, across the 32-bit boundary, and never below zero', () => {
    expect(lsnBefore('0/96C1E278')).toBe('0/96C1E277');
    expect(lsnBefore('1/0')).toBe('0/FFFFFFFF');
    expect(lsnBefore('0/0')).toBe('0/0');
    expect(compareLsn(lsnBefore('A/10'), 'A/10')).toBe(-1);
  });
});

describe('key spans (PostgreSQL verification in one pass)', () => {
  const t = { schema: 'public', name: 't' };
  it('checksums every bucket of a table in one statement; the ghost\'s rows below min in bucket 0, above max left out', () => {
    const s = { min: 1n, max: 25n, span: 10n };
    expect(spanChecksumSql(t, 'id', ['"id"', '("v" COLLATE "C")'], s, 'original')).toEqual({
      sql: 'SELECT ("id"::int8 - $1::int8) / $2::int8 AS b, count(*)::text AS n, coalesce(sum(hash_record_extended(ROW("id", ("v" COLLATE "C")), 0)), 0)::text AS c FROM "public"."t" GROUP BY 1',
      params: ['1', '10'],
    });
    expect(spanChecksumSql(t, 'id', ['"id"'], s, 'ghost')).toEqual({
      sql: 'SELECT CASE WHEN "id" < $1::int8 THEN 0 ELSE ("id"::int8 - $1::int8) / $2::int8 END AS b, count(*)::text AS n, coalesce(sum(hash_record_extended(ROW("id"), 0)), 0)::text AS c FROM "public"."t" WHERE "id" <= $3::int8 GROUP BY 1',
      params: ['1', '10', '25'],
    });
  });
});
