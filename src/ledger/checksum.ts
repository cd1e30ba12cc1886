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
const TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

/** Unsigned CRC32 (IEEE 802.3, as java.util.zip.CRC32). */
export function crc32(bytes: Uint8Array, seed = 0): number {
  let crc = ~seed;
  for (let i = 0; i < bytes.length; i++) crc = TABLE[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return ~crc >>> 0;
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
