/**
 * Flyway's checksum of a SQL migration: CRC32 over the file read line by
 * line (BufferedReader.readLine: `\n`, `\r` and `\r\n` all end a line), each
 * line's UTF-8 bytes without its terminator, a leading BOM dropped, returned
 * as Java's `(int) crc32.getValue()` (a signed 32-bit number). Feeding the
 * lines one after another equals one CRC over their concatenation, so the
 * checksum is the CRC32 of the text with every CR and LF removed. The same
 * file gives the same number in Flyway and here, which lets a project move
 * between the two tools without `repair`.
 */
import { crc32 as zlibCrc32 } from 'node:zlib';

/** Unsigned CRC32 (IEEE 802.3, as java.util.zip.CRC32): Node's own zlib.crc32 (Node >= 20.15). */
export function crc32(bytes: Uint8Array, seed = 0): number {
  return zlibCrc32(bytes, seed);
}

/** Removes a leading UTF-8 byte order mark (U+FEFF). */
export function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** Flyway-compatible checksum of a migration's text (as decoded from UTF-8). */
export function flywayChecksum(text: string): number {
  const joined = stripBom(text).replace(/[\r\n]/g, '');
  return crc32(Buffer.from(joined, 'utf8')) | 0;
}
