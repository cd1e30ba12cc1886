/**
 * The ledger asks its LedgerDialect (src/ledger/dialects/) what a dialect
 * can do; the history, lock, plan and clean code never branches on the
 * dialect's name.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ledgerDialect } from '../../src/ledger/dialect-sql.js';

describe('ledger dialects', () => {
  it('say what they can do with flags', () => {
    expect(ledgerDialect('mysql')).toMatchObject({ lockAnswers: true, instantAlter: true, nonTransactionalStatements: false, beforeClean: ['SET FOREIGN_KEY_CHECKS = 0'] });
    expect(ledgerDialect('postgres')).toMatchObject({ lockAnswers: false, instantAlter: false, nonTransactionalStatements: true, beforeClean: [] });
    expect([1, 2, 3].map(ledgerDialect('mysql').param)).toEqual(['?', '?', '?']);
    expect([1, 2, 3].map(ledgerDialect('postgres').param)).toEqual(['$1', '$2', '$3']);
  });

  it.each(['dialect-sql.ts', 'session.ts', 'plan.ts', 'admin.ts', 'history-store.ts'])('src/ledger/%s asks the dialect, never which one it is', (file) => {
    const text = readFileSync(new URL(`../../src/ledger/${file}`, import.meta.url), 'utf8');
    expect(text).not.toMatch(/dialect\s*[!=]==\s*'(mysql|postgres)'/);
  });
});
