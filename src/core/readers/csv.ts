import { Readable } from 'node:stream';
import { parse } from 'fast-csv';
import { rowProblem, setProblem, type Problem } from '../problems.js';
import { ReadError, type RecordReader, type SourceRow } from './types.js';

const countNewlines = (value: string) => {
  let n = 0;
  for (let i = value.indexOf('\n'); i !== -1; i = value.indexOf('\n', i + 1)) n++;
  return n;
};

const HIGH_WATER = 2000;

/**
 * CSV and TSV through fast-csv. fast-csv numbers data rows, not file lines, so the line of each
 * record is tracked here: a record spans one line plus the newlines inside its quoted fields.
 * Rows are taken from 'data' events (not the async iterator, which drops the rows buffered
 * before an error) so a parse error is reported at the line where its record starts.
 */
export async function readDelimited(text: AsyncIterable<string>, delimiter: string, file: string): Promise<RecordReader> {
  const parser = parse({ headers: false, delimiter, ignoreEmpty: false, trim: false, quote: '"', escape: '"' });
  const source = Readable.from(text, { objectMode: false, encoding: 'utf8' });
  const queue: string[][] = [];
  let failure: unknown;
  let ended = false;
  let wake: (() => void) | null = null;
  const notify = () => {
    wake?.();
    wake = null;
  };
  source.on('error', (error) => {
    failure ??= error;
    notify();
  });
  parser.on('data', (row: string[]) => {
    queue.push(row);
    if (queue.length >= HIGH_WATER) parser.pause();
    notify();
  });
  parser.on('error', (error) => {
    failure ??= error;
    notify();
  });
  parser.on('end', () => {
    ended = true;
    notify();
  });
  source.pipe(parser);

  let nextLine = 1;
  const malformed = (error: unknown): never => {
    if (error instanceof ReadError) throw error;
    const message = String((error as Error)?.message ?? error);
    const what = message.includes('missing closing')
      ? 'a quoted field that starts in this record is never closed (a " is missing)'
      : message.replace(/^Parse Error: /, '').replace(/ at '[\s\S]*$/, '');
    throw new ReadError(setProblem('csv_malformed', `malformed CSV: ${what}`, { file, line: nextLine }));
  };
  const nextRow = async (): Promise<string[] | null> => {
    for (;;) {
      const row = queue.shift();
      if (row) {
        if (queue.length < HIGH_WATER / 2 && parser.isPaused()) parser.resume();
        return row;
      }
      if (failure) return malformed(failure);
      if (ended) return null;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  };
  const advance = (row: string[]) => {
    const line = nextLine;
    let span = 1;
    for (const value of row) if (value.includes('\n')) span += countNewlines(value);
    nextLine += span;
    return line;
  };
  const isBlank = (row: string[]) => row.length === 0 || (row.length === 1 && row[0] === '');

  // The header is the first non-blank line.
  let header: string[] | null = null;
  while (header === null) {
    const row = await nextRow();
    if (row === null) break;
    advance(row);
    if (!isBlank(row)) header = row.map((h) => h.trim());
  }
  const columns = header ?? [];
  const problems: Problem[] = [];
  let count = 0;

  async function* rows(): AsyncGenerator<SourceRow> {
    for (;;) {
      const row = await nextRow();
      if (row === null) return;
      const line = advance(row);
      if (isBlank(row) && columns.length !== 1) continue;
      count++;
      if (row.length !== columns.length) {
        problems.push(
          rowProblem('field_count', `has ${row.length} fields but the header has ${columns.length}; check for an unquoted "${delimiter === '\t' ? '\\t' : delimiter}" or a missing value`, {
            file,
            line,
            column: Math.min(row.length, columns.length) + 1,
          }),
        );
        continue;
      }
      const values: Record<string, string> = {};
      for (let i = 0; i < columns.length; i++) values[columns[i]!] = row[i]!;
      yield { line, values };
    }
  }
  return { columns: header, rows: rows(), problems, count: () => count, seenKeys: () => new Set(columns) };
}
