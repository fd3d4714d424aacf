import type { Problem } from '../problems.js';

export type SourceValue = string | string[];

/** One record of a data file, with the file line it starts on. */
export interface SourceRow {
  line: number;
  /** Column → value. A delimited file's record builds it on first use (see `DelimitedRow`). */
  readonly values: Record<string, SourceValue>;
  /** A delimited file's fields by position, under `header`: what `values` is built from. */
  readonly fields?: readonly string[];
  readonly header?: Header;
  /**
   * Set when the reader could not read the record whole (wrong field count, a field over the
   * size limit, an element that is not an object, a line that is not JSON): the record is
   * rejected with this problem, but `values` still holds what could be read, so its key counts
   * as present.
   */
  rejected?: Problem;
  /** Other ways a rejected record may line up with the header (a delimiter too many or too few). */
  readings?: Record<string, SourceValue>[];
}

/** The columns of a delimited file, and the position each name is read from (the last of a repeated name). */
export class Header {
  readonly positions = new Map<string, number>();
  constructor(readonly columns: readonly string[]) {
    columns.forEach((column, i) => this.positions.set(column, i));
  }
}

/**
 * A whole record of a delimited file. Most records of a re-run are only looked up by key and
 * fingerprinted, both read from the fields by position: the column → value object, which costs
 * more than the parse itself in allocation and collection, is built only for a record that is
 * mapped.
 */
export class DelimitedRow implements SourceRow {
  #values: Record<string, SourceValue> | undefined;
  constructor(
    readonly line: number,
    readonly fields: readonly string[],
    readonly header: Header,
  ) {}
  get values(): Record<string, SourceValue> {
    return (this.#values ??= byPosition(this.header.columns, this.fields, 0));
  }
}

/** The columns read from the fields moved by `shift` places (missing ones left out). */
export function byPosition(columns: readonly string[], fields: readonly string[], shift: number): Record<string, string> {
  const values: Record<string, string> = Object.create(null); // a column may be called __proto__
  for (let i = 0; i < columns.length; i++) {
    const value = fields[i + shift];
    if (value !== undefined) values[columns[i]!] = value;
  }
  return values;
}

/**
 * A column's value, or undefined when the record has no such column. Own properties only: a
 * column called `toString` or `constructor` is a column like any other, never Object's.
 */
export function columnValue(row: SourceRow, column: string | undefined): SourceValue | undefined {
  if (column === undefined) return undefined;
  if (row.header) {
    const at = row.header.positions.get(column);
    return at === undefined ? undefined : row.fields![at];
  }
  return Object.hasOwn(row.values, column) ? row.values[column] : undefined;
}

/** Thrown by a reader when the file cannot be read on: the run fails with this problem. */
export class ReadError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.message);
  }
}

/** How large one field and one record may be, in characters (config `SLUICE_MAX_FIELD_KB`, `SLUICE_MAX_RECORD_KB`). */
export interface ReadLimits {
  maxFieldChars: number;
  maxRecordChars: number;
}

/** The largest profile column is a 65 535-byte TEXT; a record holds a few of those. */
export const defaultReadLimits: ReadLimits = { maxFieldChars: 64 * 1024, maxRecordChars: 1024 * 1024 };

export interface RecordReader {
  /** Header columns in file order (CSV/TSV), or `null` for JSON formats, whose keys vary. */
  columns: string[] | null;
  /**
   * Every record, rejected ones included (see `SourceRow.rejected`), a batch at a time: a
   * million records cost a thousand awaits, not a million. Read either `batches` or `rows`.
   */
  batches: AsyncIterable<SourceRow[]>;
  /** The same records one at a time. */
  rows: AsyncIterable<SourceRow>;
  /** Number of data records read so far (complete once `rows` is exhausted). */
  count(): number;
  /** Keys seen in any record (JSON formats), for the "mapped column absent" check at the end. */
  seenKeys(): Set<string>;
}

/** `batches` one record at a time. */
export async function* eachRow(batches: AsyncIterable<SourceRow[]>): AsyncGenerator<SourceRow> {
  for await (const batch of batches) yield* batch;
}

/** Records read one at a time (the JSON formats), handed on in batches. */
export async function* inBatches(rows: AsyncIterable<SourceRow>, size = 1000): AsyncGenerator<SourceRow[]> {
  let batch: SourceRow[] = [];
  for await (const row of rows) {
    batch.push(row);
    if (batch.length >= size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length) yield batch;
}
