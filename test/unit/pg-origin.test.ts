import { mkdtempSync, mkdirSync, writeFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decideOriginFilter, originCheck, originGrantSql, originName, subscriptionCheck, type OriginFacts } from '../../src/engine/postgres/origin.js';
import { startReplicationSql } from '../../src/engine/postgres/pgoutput.js';
import { hydrateSymlinks } from '../../src/sandbox/pg-binaries.js';

const facts = (over: Partial<OriginFacts> = {}): OriginFacts => ({ versionNum: 170010, canUseOrigins: true, user: 'dba', subscriptions: [], foreignOrigins: [], ...over });

describe('origin filter decision', () => {
  it('filters on 16+ with the privilege and nothing else replicating into the table', () => {
    expect(decideOriginFilter(facts()).filter).toBe(true);
    expect(decideOriginFilter(facts({ versionNum: 160000 })).filter).toBe(true);
  });

  it('keeps the unfiltered path on 15, for a subscribed table, with foreign origins, or without the grant', () => {
    expect(decideOriginFilter(facts({ versionNum: 150020 }))).toMatchObject({ filter: false, detail: expect.stringMatching(/15 or older/) });
    expect(decideOriginFilter(facts({ subscriptions: ['feed_sub'] }))).toMatchObject({ filter: false, detail: expect.stringMatching(/subscription feed_sub/) });
    expect(decideOriginFilter(facts({ foreignOrigins: ['pglogical_node'] }))).toMatchObject({ filter: false, detail: expect.stringMatching(/pglogical_node/) });
    const noGrant = decideOriginFilter(facts({ canUseOrigins: false, user: 'app"user' }));
    expect(noGrant.filter).toBe(false);
    expect(noGrant.grant).toBe(
      'GRANT EXECUTE ON FUNCTION pg_replication_origin_create(text), pg_replication_origin_session_setup(text), pg_replication_origin_drop(text) TO "app""user";',
    );
    // Only the missing grant is a finding (a warning with the fix); the others are the expected path.
    expect(originCheck(noGrant)).toMatchObject({ ok: false, severity: 'warn', fix: originGrantSql('app"user') });
    expect(originCheck(decideOriginFilter(facts({ subscriptions: ['s'] })))).toMatchObject({ ok: true });
  });

  it('refuses a table a subscription writes to, on every version, with the way out', () => {
    expect(decideOriginFilter(facts({ versionNum: 150020, subscriptions: ['feed_sub'] })).subscriptions).toEqual(['feed_sub']);
    expect(subscriptionCheck([])).toMatchObject({ ok: true });
    expect(subscriptionCheck(['feed_sub'])).toMatchObject({ ok: false, severity: 'error', fix: expect.stringMatching(/ALTER SUBSCRIPTION feed_sub DISABLE;.*ALTER SUBSCRIPTION feed_sub ENABLE;/) });
  });

  it('names a run origin after its slot, one per copy session', () => {
    expect(originName('ghostwright_0feec6a7_19035', 0)).toBe('ghostwright_0feec6a7_19035');
    expect(originName('ghostwright_0feec6a7_19035', 1)).toBe('ghostwright_0feec6a7_19035_2');
  });
});

describe('START_REPLICATION options', () => {
  it("adds origin 'none' and protocol 4 only when filtering", () => {
    expect(startReplicationSql('ghostwright_ab_1', '0/16B3748', { publication: 'ghostwright_pub_ab', originNone: true })).toBe(
      `START_REPLICATION SLOT "ghostwright_ab_1" LOGICAL 0/16B3748 (proto_version '4', publication_names '"ghostwright_pub_ab"', messages 'true', origin 'none')`,
    );
    expect(startReplicationSql('s', '0/0', { publication: "p'q", originNone: false })).toBe(`START_REPLICATION SLOT "s" LOGICAL 0/0 (proto_version '1', publication_names '"p''q"', messages 'true')`);
  });
});

describe('npm PostgreSQL package library links', () => {
  it('creates the links its blocked postinstall would have made, relative, and tolerates a second run', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-pgpkg-'));
    try {
      mkdirSync(join(dir, 'native', 'lib'), { recursive: true });
      writeFileSync(join(dir, 'native', 'lib', 'libicuuc.so.60.2'), '');
      writeFileSync(join(dir, 'native', 'pg-symlinks.json'), JSON.stringify([{ source: 'native/lib/libicuuc.so.60.2', target: 'native/lib/libicuuc.so.60' }]));
      hydrateSymlinks(dir);
      hydrateSymlinks(dir);
      expect(readlinkSync(join(dir, 'native', 'lib', 'libicuuc.so.60'))).toBe('libicuuc.so.60.2');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
