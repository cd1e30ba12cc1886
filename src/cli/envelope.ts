/**
 * The one JSON shape every command prints with --json (stdout):
 *
 *   { "schemaVersion": 1, "command": "migrate", "status": "failed",
 *     ...the command's own fields (partial ones too, on failure)...,
 *     "error": { "code": "E_MIGRATION_FAILED", "message": "...", "hint": "...", "details": {...} } }
 *
 * status: done | dry-run (exit 0) · failed (1) · refused (2) · unreachable (3).
 * `error` is present exactly when the status is failed, refused or
 * unreachable. The JSON Schema is schema/ghostwright-output.schema.json; the
 * error codes are listed in src/error-codes.ts. Bump SCHEMA_VERSION when a
 * field changes meaning or disappears (adding fields does not bump it).
 */
import { redactUrlText } from '../connection.js';
import { statusForExit, type ErrorJson, type GhostwrightError } from '../errors.js';

export const SCHEMA_VERSION = 1;

export type RunStatus = 'done' | 'dry-run' | 'failed' | 'refused' | 'unreachable';

export interface Envelope {
  schemaVersion: typeof SCHEMA_VERSION;
  command: string;
  status: RunStatus;
  error?: ErrorJson;
  [field: string]: unknown;
}

export function envelope(command: string, status: RunStatus, data: object = {}, error?: ErrorJson): Envelope {
  const { status: _ignored, error: _ignoredToo, ...fields } = data as Record<string, unknown>;
  return { schemaVersion: SCHEMA_VERSION, command, status, ...fields, ...(error ? { error } : {}) };
}

/** The envelope of a thrown GhostwrightError, with whatever the command had done so far. */
export function failureEnvelope(command: string, err: GhostwrightError): Envelope {
  const json = err.toJSON();
  const error: ErrorJson = { ...json, message: redactUrlText(json.message), ...(json.hint ? { hint: redactUrlText(json.hint) } : {}) };
  return envelope(command, statusForExit(err.exitCode), err.partial ?? {}, error);
}

export function printEnvelope(e: Envelope): void {
  process.stdout.write(`${JSON.stringify(e, null, 2)}\n`);
}
