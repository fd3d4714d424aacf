import type { FieldMapping, Transform } from '../control/types.js';
import { columnValue, type SourceRow } from '../readers/types.js';

/**
 * `trim()` without dropping U+FEFF, which JavaScript counts as white space: a byte-order mark
 * in a value (a file pasted into another) must reach the invisible-character checks of keys
 * and e-mails rather than silently vanish.
 */
const trimSpaces = (v: string) => (v.includes('\uFEFF') ? v.replace(/^[^\S\uFEFF]+|[^\S\uFEFF]+$/g, '') : v.trim());

const transforms: Record<Transform, (v: string) => string> = {
  trim: trimSpaces,
  lower: (v) => v.toLowerCase(),
  upper: (v) => v.toUpperCase(),
  'collapse-spaces': (v) => v.replace(/\s+/g, ' '),
};

function convert(raw: string, mapping: FieldMapping): string {
  // Values are always trimmed: stray spaces around an export's values are never meaningful.
  let value = trimSpaces(raw);
  for (const t of mapping.transform ?? []) value = transforms[t](value);
  if (mapping.map && value !== '') {
    // A value the map does not know takes the default, if there is one (PRODUCT §3).
    if (Object.hasOwn(mapping.map, value)) value = mapping.map[value]!;
    else if (mapping.default !== undefined) value = mapping.default;
  }
  return value;
}

/** One field's value from a source record: transform, map, default. */
export function singleValue(row: SourceRow, mapping: FieldMapping): string {
  const raw = columnValue(row, mapping.column);
  const text = raw === undefined ? '' : Array.isArray(raw) ? raw.join(', ') : raw;
  const value = convert(text, mapping);
  return value === '' ? (mapping.default ?? '') : value;
}

/** A multi-valued field (`split`): each part transformed and mapped, empty parts dropped. */
export function multiValue(row: SourceRow, mapping: FieldMapping): string[] {
  const raw = columnValue(row, mapping.column);
  const parts = raw === undefined ? [] : Array.isArray(raw) ? raw : mapping.split ? raw.split(mapping.split) : [raw];
  const result = parts.map((p) => convert(p, mapping)).filter((p) => p !== '');
  if (result.length === 0 && mapping.default) return [mapping.default];
  return result;
}

export const mappedColumns = (mappings: (FieldMapping | undefined)[]) =>
  mappings.flatMap((m) => (m?.column === undefined ? [] : [m.column]));
