/**
 * SHOW GRANTS parsing: which privileges the current user holds globally and
 * on one database. Roles and column/table-level grants are not expanded
 * (the check then reports what is missing and the DBA can judge).
 */

export interface Grant {
  privileges: Set<string>;
  /** '*' for global grants, else the database pattern (LIKE-style, may contain % and _). */
  database: string;
  /** '*' or a table name. */
  table: string;
}

function unquote(id: string): string {
  const t = id.trim();
  if (t.startsWith('`') && t.endsWith('`')) return t.slice(1, -1).replace(/``/g, '`');
  return t;
}

/** `GRANT SELECT, INSERT ON `db`.* TO ...` -> privileges + object. */
export function parseGrant(line: string): Grant | null {
  const m = /^GRANT\s+(.+?)\s+ON\s+(?:(?:TABLE|FUNCTION|PROCEDURE|PACKAGE(?:\s+BODY)?)\s+)?((?:`(?:[^`]|``)*`|[^\s.]+)|\*)\.((?:`(?:[^`]|``)*`|[^\s]+)|\*)\s+TO\s/i.exec(line.trim());
  if (!m) return null;
  const privileges = new Set<string>();
  // Column lists like SELECT (a, b) count as table-level; strip them.
  const list = m[1]!.replace(/\([^)]*\)/g, '');
  for (const p of list.split(',')) {
    const name = p.trim().toUpperCase().replace(/\s+/g, ' ');
    if (name) privileges.add(name === 'ALL' ? 'ALL PRIVILEGES' : name);
  }
  return { privileges, database: m[2] === '*' ? '*' : unquote(m[2]!), table: m[3] === '*' ? '*' : unquote(m[3]!) };
}

/** MySQL grant database patterns: % and _ are wildcards unless escaped with a backslash. */
function patternMatches(pattern: string, database: string): boolean {
  if (pattern === '*') return true;
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '\\' && i + 1 < pattern.length) {
      re += escapeRe(pattern[++i]!);
    } else if (ch === '%') re += '.*';
    else if (ch === '_') re += '.';
    else re += escapeRe(ch);
  }
  return new RegExp(`${re}$`, 's').test(database);
}

function escapeRe(ch: string): string {
  return ch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Privileges effective on every table of `database` (global + database-level grants). */
export function privilegesOn(grants: readonly Grant[], database: string): Set<string> {
  const out = new Set<string>();
  for (const g of grants) {
    if (g.table !== '*') continue;
    if (g.database === '*' || patternMatches(g.database, database)) for (const p of g.privileges) out.add(p);
  }
  return out;
}

export function globalPrivileges(grants: readonly Grant[]): Set<string> {
  const out = new Set<string>();
  for (const g of grants) if (g.database === '*' && g.table === '*') for (const p of g.privileges) out.add(p);
  return out;
}

export function has(privs: Set<string>, name: string): boolean {
  return privs.has('ALL PRIVILEGES') || privs.has(name);
}

/** Privileges the online ALTER needs on the table's database. */
export const SCHEMA_PRIVILEGES = ['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'CREATE', 'DROP', 'ALTER', 'LOCK TABLES'] as const;

export interface GrantCheck {
  missingGlobal: string[];
  missingSchema: string[];
}

/**
 * REPLICATION SLAVE reads the binlog; REPLICATION CLIENT (MariaDB >= 10.5:
 * BINLOG MONITOR, REPLICATION CLIENT is its alias) runs SHOW MASTER STATUS.
 * ALL PRIVILEGES on *.* includes both.
 */
export function checkGrants(lines: readonly string[], database: string, flavor: 'mariadb' | 'mysql'): GrantCheck {
  const grants = lines.map(parseGrant).filter((g): g is Grant => g !== null);
  const global = globalPrivileges(grants);
  const missingGlobal: string[] = [];
  if (!has(global, 'REPLICATION SLAVE')) missingGlobal.push('REPLICATION SLAVE');
  const monitor = flavor === 'mariadb' ? ['BINLOG MONITOR', 'REPLICATION CLIENT'] : ['REPLICATION CLIENT'];
  if (!monitor.some((p) => has(global, p))) missingGlobal.push(monitor[0]!);
  const onSchema = privilegesOn(grants, database);
  const missingSchema = SCHEMA_PRIVILEGES.filter((p) => !has(onSchema, p));
  return { missingGlobal, missingSchema };
}
