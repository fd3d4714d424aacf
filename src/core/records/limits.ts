/**
 * Lengths as the databases count them. JavaScript's `length` counts UTF-16 units, so an emoji
 * counts twice; MySQL counts characters (code points) in VARCHAR and bytes in TEXT types.
 */
export function charLength(value: string): number {
  let n = value.length;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = value.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

/** UTF-8 bytes, counted only when the text could be longer than `limit` at all. */
export function exceedsBytes(value: string, limit: number): boolean {
  return value.length * 3 > limit && Buffer.byteLength(value, 'utf8') > limit;
}

/** C0 controls, DEL and the byte-order mark: never part of an identifier, often a sign of a broken export. */
const INVISIBLE = /[\u0000-\u001f\u007f\ufeff]/;
export const hasInvisible = (value: string): boolean => INVISIBLE.test(value);
export const withoutInvisible = (value: string): string => value.replace(/[\u0000-\u001f\u007f\ufeff]/g, '');

/** `U+FEFF` for the first invisible character of a value, for messages. */
export function firstInvisible(value: string): string {
  const m = INVISIBLE.exec(value);
  return m ? `U+${m[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}` : '';
}

/** A value quoted in a message: a row error must never be too long to store itself. */
export function excerpt(value: string, max = 100): string {
  if (value.length <= max) return value;
  const points = Array.from(value.slice(0, max + 1));
  return points.slice(0, max - 1).join('') + '…';
}

/**
 * Whether a value is whole Unicode text. A JSON escape can make half a surrogate pair, which no
 * database stores as such: UTF-8 turns it into U+FFFD, so the value would not arrive whole.
 */
export const isWellFormed = (value: string): boolean => (value as unknown as { isWellFormed(): boolean }).isWellFormed();
