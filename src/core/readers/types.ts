import type { Problem } from '../problems.js';

export type SourceValue = string | string[];

/** One record of a data file, with the file line it starts on. */
export interface SourceRow {
  line: number;
  values: Record<string, SourceValue>;
}

/** Thrown by a reader when the file cannot be read on: the run fails with this problem. */
export class ReadError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.message);
  }
}

export interface RecordReader {
  /** Header columns in file order (CSV/TSV), or `null` for JSON formats, whose keys vary. */
  columns: string[] | null;
  rows: AsyncIterable<SourceRow>;
  /** Row-level problems the reader found (a row with the wrong number of fields). */
  problems: Problem[];
  /** Number of data records read so far (complete once `rows` is exhausted). */
  count(): number;
  /** Keys seen in any record (JSON formats), for the "mapped column absent" check at the end. */
  seenKeys(): Set<string>;
}
