import { rowProblem } from '../problems.js';
import { csvRecords, type RawRecord } from './csvRecords.js';
import { byPosition, DelimitedRow, eachRow, Header, type ReadLimits, type RecordReader, type SourceRow, type SourceValue } from './types.js';

/** Alternative alignments tried for a record with the wrong field count. */
const MAX_SHIFTS = 8;

/**
 * CSV and TSV. Each record carries the file line it starts on. A record with the wrong number
 * of fields, or with a field over the size limit, is handed on rejected, with the values it
 * has by position, so the user it names still counts as present.
 */
export async function readDelimited(text: AsyncIterable<string>, delimiter: string, file: string, limits: ReadLimits): Promise<RecordReader> {
  const records = csvRecords(text, delimiter, file, limits)[Symbol.asyncIterator]();
  const isBlank = (fields: string[]) => fields.length === 1 && fields[0] === '';

  // The header is the first non-blank line.
  let header: string[] | null = null;
  let first: RawRecord[] = [];
  while (header === null) {
    const next = await records.next();
    if (next.done) break;
    const at = next.value.findIndex((record) => !isBlank(record.fields));
    if (at !== -1) {
      header = next.value[at]!.fields.map((h) => h.trim());
      first = next.value.slice(at + 1);
    }
  }
  const columns = header ?? [];
  const shared = new Header(columns);
  let count = 0;
  const shown = delimiter === '\t' ? '\\t' : delimiter;

  async function* batches(): AsyncGenerator<SourceRow[]> {
    for (let batch = first; ; ) {
      const out: SourceRow[] = [];
      for (const { fields, line, tooLong } of batch) {
        if (isBlank(fields) && columns.length !== 1) continue;
        count++;
        if (fields.length === columns.length && tooLong === -1) {
          out.push(new DelimitedRow(line, fields, shared));
          continue;
        }
        const values = byPosition(columns, fields, 0);
        if (fields.length !== columns.length) {
          const extra = fields.length - columns.length;
          const readings: Record<string, SourceValue>[] = [];
          for (let shift = 1; shift <= Math.min(Math.abs(extra), MAX_SHIFTS); shift++) readings.push(byPosition(columns, fields, extra > 0 ? shift : -shift));
          const rejected = rowProblem('field_count', `has ${fields.length} fields but the header has ${columns.length}; check for an unquoted "${shown}" or a missing value`, {
            file,
            line,
            column: Math.min(fields.length, columns.length) + 1,
          });
          out.push({ line, values, rejected, readings });
          continue;
        }
        if (tooLong !== -1) {
          const rejected = rowProblem('field_too_long', `${columns[tooLong] ?? 'a field'} is longer than ${Math.round(limits.maxFieldChars / 1024)} KB (SLUICE_MAX_FIELD_KB)`, {
            file,
            line,
            column: tooLong + 1,
          });
          values[columns[tooLong]!] = '';
          out.push({ line, values, rejected });
        }
      }
      if (out.length) yield out;
      const next = await records.next();
      if (next.done) return;
      batch = next.value;
    }
  }
  const all = batches();
  return { columns: header, batches: all, rows: eachRow(all), count: () => count, seenKeys: () => new Set(columns) };
}
