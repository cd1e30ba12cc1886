/**
 * The pgoutput plugin as the change stream reads it: our START_REPLICATION
 * options (origin 'none' on 16+, see origin.ts), and every column value kept
 * as the server's text.
 */
import { PgoutputPlugin, type Pgoutput } from 'pg-logical-replication';
import { quoteIdent } from './ident.js';

export interface PgoutputOptions {
  publication: string;
  /** 16+: skip, before decoding, every transaction stamped with a replication origin (the copy's; see origin.ts). */
  originNone: boolean;
}

/**
 * START_REPLICATION with our pgoutput options. The library passes only
 * proto_version, publication_names and messages; `origin` (16+) is ours.
 * proto_version 4 (16+) changes nothing for us without `streaming`: the
 * messages of a non-streamed transaction are those of version 1.
 */
export function startReplicationSql(slot: string, lsn: string, o: PgoutputOptions): string {
  const literal = (v: string) => `'${v.replace(/'/g, "''")}'`;
  const options = [`proto_version '${o.originNone ? 4 : 1}'`, `publication_names ${literal(quoteIdent(o.publication))}`, `messages 'true'`];
  if (o.originNone) options.push(`origin 'none'`);
  return `START_REPLICATION SLOT ${quoteIdent(slot)} LOGICAL ${lsn} (${options.join(', ')})`;
}

/** pgoutput with every column value kept as the server's text (no global pg.types parser). */
export class TextPgoutputPlugin extends PgoutputPlugin {
  constructor(private readonly pgoutput: PgoutputOptions) {
    super({ protoVersion: 1, publicationNames: [pgoutput.publication], messages: true });
  }

  override start(client: Parameters<PgoutputPlugin['start']>[0], slotName: string, lastLsn: string): Promise<unknown> {
    return client.query(startReplicationSql(slotName, lastLsn, this.pgoutput));
  }

  override parse(buffer: Buffer): Pgoutput.Message {
    const msg = super.parse(buffer);
    if (msg.tag === 'relation') for (const col of msg.columns) col.parser = (raw: unknown) => raw;
    return msg;
  }
}

/**
 * A key column stored out of line (TOAST) that the UPDATE did not change
 * arrives in the new tuple as 'unchanged' (undefined), not as its value; the
 * update then failed with E_STREAM_KEY. The server logs the old key image
 * whenever the replica identity has external values, so an unchanged key
 * column takes its value from there (unchanged means equal).
 */
export function unchangedFrom(
  next: Record<string, unknown> | null | undefined,
  old: Record<string, unknown> | null | undefined,
  keyColumns: readonly string[],
): Record<string, unknown> | null {
  if (!next || !old) return null;
  const merged = { ...next };
  for (const col of keyColumns) if (merged[col] === undefined && col in merged) merged[col] = old[col];
  return merged;
}
