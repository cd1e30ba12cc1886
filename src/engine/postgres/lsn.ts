/**
 * Log sequence numbers as the server prints them, 'X/Y' (two hex numbers, the
 * high and low 32 bits): ordered by value, not as text ('0/10' > '0/9').
 */
const lsnValue = (l: string): bigint => {
  const [hi, lo] = l.split('/');
  return (BigInt(`0x${hi ?? '0'}`) << 32n) + BigInt(`0x${lo ?? '0'}`);
};

/** Order of LSNs printed as 'X/Y' (hex): < 0, 0, > 0. */
export function compareLsn(a: string, b: string): number {
  const d = lsnValue(a) - lsnValue(b);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}

/** a > b for LSNs printed as 'X/Y' (hex). */
export function lsnAfter(a: string, b: string): boolean {
  return compareLsn(a, b) > 0;
}

/** The LSN one byte before `l` ('0/0' stays): the library confirms what it is given plus one. */
export function lsnBefore(l: string): string {
  const v = lsnValue(l);
  const p = v > 0n ? v - 1n : 0n;
  return `${(p >> 32n).toString(16).toUpperCase()}/${(p & 0xffffffffn).toString(16).toUpperCase()}`;
}
