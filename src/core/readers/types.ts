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
  /** Every record, rejected ones included (see `SourceRow.rejected`). */
  rows: AsyncIterable<SourceRow>;
  /** Number of data records read so far (complete once `rows` is exhausted). */
  count(): number;
  /** Keys seen in any record (JSON formats), for the "mapped column absent" check at the end. */
  seenKeys(): Set<string>;
}
