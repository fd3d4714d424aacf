import { pipeline, Readable, Transform } from 'node:stream';
import { format } from 'fast-csv';
import { changeSetColumns, changeSetRows, errorColumns, errorRow, spreadsheetCell } from '../core/csvExport.js';
import type { Db, Dialect } from '../storage/dialect.js';
import { allRunChanges } from './runChanges.service.js';
import { runErrors } from './runs.service.js';

const ERRORS_PER_PAGE = 5000;

/**
 * A CSV download written by fast-csv's formatter: the header line even with no rows, CRLF after
 * every line (the last too), fields quoted where they must be, and every cell neutralised for
 * spreadsheets first. The rows are pulled as the reader takes them (pipeline passes the client's
 * backpressure back to the database pages) and the reading stops when the download does.
 */
export function csvDownload(columns: string[], rows: AsyncIterable<unknown[]>): Readable {
  const csv = format<unknown[], string[]>({
    headers: columns,
    alwaysWriteHeaders: true,
    rowDelimiter: '\r\n',
    includeEndRowDelimiter: true,
    transform: (row: unknown[]) => row.map(spreadsheetCell),
  });
  // An error reading the rows destroys `csv` with it, which is what its reader sees.
  return pipeline(Readable.from(rows), csv, inPieces(), () => {});
}

/**
 * fast-csv hands on one buffer per row; the response takes them in pieces of about 64 KB
 * rather than as one write (and one HTTP chunk) per row.
 */
function inPieces(size = 64 * 1024): Transform {
  let held: Buffer[] = [];
  let bytes = 0;
  const take = () => {
    const piece = Buffer.concat(held, bytes);
    held = [];
    bytes = 0;
    return piece;
  };
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      held.push(chunk);
      bytes += chunk.length;
      done(null, bytes >= size ? take() : undefined);
    },
    flush(done) {
      done(null, bytes > 0 ? take() : undefined);
    },
  });
}

/** A run's whole change set, one line per changed field, read a page at a time. */
export function runChangesCsv(db: Db, dialect: Dialect, runId: number): Readable {
  return csvDownload(changeSetColumns, changeSetLines(db, dialect, runId));
}

async function* changeSetLines(db: Db, dialect: Dialect, runId: number): AsyncGenerator<unknown[]> {
  for await (const change of allRunChanges(db, dialect, runId)) yield* changeSetRows(change);
}

/** Every error of a run, in the order of the run's page: for its download and the report email. */
export function runErrorsCsv(db: Db, runId: number): Readable {
  return csvDownload(errorColumns, errorLines(db, runId));
}

async function* errorLines(db: Db, runId: number): AsyncGenerator<unknown[]> {
  // By offset: a run's errors are few next to its changes, and their order has no unique key.
  for (let offset = 0; ; offset += ERRORS_PER_PAGE) {
    const page = await runErrors(db, runId, { limit: ERRORS_PER_PAGE, offset });
    yield* page.map(errorRow);
    if (page.length < ERRORS_PER_PAGE) return;
  }
}

/**
 * The start of a CSV download, at most `maxBytes`, cut after its last whole line, and whether
 * it was cut; the rest is never read.
 */
export async function csvHead(csv: Readable, maxBytes: number): Promise<{ text: string; cut: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of csv) {
    chunks.push(Buffer.from(chunk as Buffer));
    size += (chunk as Buffer).length;
    if (size > maxBytes) {
      csv.destroy();
      const head = Buffer.concat(chunks).subarray(0, maxBytes);
      return { text: head.subarray(0, head.lastIndexOf('\r\n') + 2).toString('utf8'), cut: true };
    }
  }
  return { text: Buffer.concat(chunks).toString('utf8'), cut: false };
}
