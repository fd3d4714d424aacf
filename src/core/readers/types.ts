import type { Problem } from '../problems.js';

export type SourceValue = string | string[];

/** One record of a data file, with the file line it starts on. */
export interface SourceRow {
  line: number;
  values: Record<string, SourceValue>;
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
