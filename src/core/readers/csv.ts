import { Readable } from 'node:stream';
import { parse } from 'fast-csv';
import { rowProblem, setProblem, type Problem } from '../problems.js';
import { ReadError, type RecordReader, type SourceRow } from './types.js';

const countNewlines = (value: string) => {
  let n = 0;
  for (let i = value.indexOf('\n'); i !== -1; i = value.indexOf('\n', i + 1)) n++;
  return n;
};

/**
 * CSV and TSV through fast-csv. fast-csv numbers data rows, not file lines, so the line of each
 * record is tracked here: a record spans one line plus the newlines inside its quoted fields.
 */
export async function readDelimited(text: AsyncIterable<string>, delimiter: string, file: string): Promise<RecordReader> {
  const parser = parse({ headers: false, delimiter, ignoreEmpty: false, trim: false, quote: '"', escape: '"' });
  const source = Readable.from(text, { objectMode: false, encoding: 'utf8' });
  let sourceError: unknown;
  source.on('error', (error) => {
    sourceError = error;
    parser.destroy(error);
  });
  source.pipe(parser);
  const iterator = (parser as AsyncIterable<string[]>)[Symbol.asyncIterator]();

  let nextLine = 1;
  const malformed = (error: unknown): never => {
    if (sourceError instanceof ReadError) throw sourceError;
    if (error instanceof ReadError) throw error;
    const message = String((error as Error)?.message ?? error);
    const rest = /at '([\s\S]*)'$/.exec(message)?.[1] ?? '';
    const quote = rest.indexOf('"');
    const what = message.includes('missing closing') ? 'a quoted field is never closed (a " is missing)' : message.replace(/^Parse Error: /, '').replace(/ at '[\s\S]*$/, '');
    throw new ReadError(setProblem('csv_malformed', `malformed CSV: ${what}`, { file, line: nextLine, column: quote >= 0 ? quote + 1 : 1 }));
  };
  const nextRow = async (): Promise<string[] | null> => {
    try {
      const result = await iterator.next();
      return result.done ? null : result.value;
    } catch (error) {
      return malformed(error);
    }
  };

  // The header: the first non-empty line.
  let header: string[] | null = null;
  while (header === null) {
    const row = await nextRow();
    if (row === null) break;
    const line = nextLine;
    nextLine += 1 + row.reduce((n, v) => n + countNewlines(v), 0);
    if (row.length === 0 || (row.length === 1 && row[0] === '')) continue;
    header = row.map((h) => h.trim());
    void line;
  }
  const columns = header ?? [];
  const problems: Problem[] = [];
  let count = 0;

  async function* rows(): AsyncGenerator<SourceRow> {
    for (;;) {
      const row = await nextRow();
      if (row === null) return;
      const line = nextLine;
      let span = 1;
      for (const value of row) if (value.includes('\n')) span += countNewlines(value);
      nextLine += span;
      if (row.length === 0 || (row.length === 1 && row[0] === '' && columns.length > 1)) continue;
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
