import { setProblem } from '../problems.js';
import { ReadError, type ReadLimits } from './types.js';

/** One record as split from the text: its fields, the line it starts on, and which fields overflowed. */
export interface RawRecord {
  fields: string[];
  line: number;
  /** Index of the first field longer than the field limit (kept cut short), or -1. */
  tooLong: number;
}

const enum State {
  Start,
  Unquoted,
  Quoted,
  QuoteSeen,
  AfterClose,
}

/**
 * Splits CSV/TSV text into records (RFC 4180: `"` quotes, `""` escapes, CRLF, LF or CR ends a
 * record). One pass over each chunk, never over what came before: a field is gathered in
 * pieces and stops growing at the field limit, and a record that runs past the record limit
 * (typically an unclosed quote) stops the file, naming the line where it started. So the time
 * is linear in the file and the memory bounded by one record.
 */
export async function* csvRecords(text: AsyncIterable<string>, delimiter: string, file: string, limits: ReadLimits): AsyncGenerator<RawRecord> {
  let state = State.Start;
  let line = 1;
  let lineStart = 0; // offset of the current line's first character, for columns
  let base = 0; // offset of the current chunk's first character
  let skipLf = false;
  let fields: string[] = [];
  let field = '';
  let tooLong = -1;
  let begun = false;
  let recordLine = 1;
  let recordStart = 0;
  let quoteLine = 1;

  const append = (piece: string) => {
    if (tooLong === -1 || tooLong !== fields.length) {
      if (field.length + piece.length > limits.maxFieldChars) {
        if (tooLong === -1) tooLong = fields.length;
        field += piece.slice(0, Math.max(0, limits.maxFieldChars - field.length));
      } else field += piece;
    }
  };
  const checkRecord = (offset: number) => {
    if (offset - recordStart > limits.maxRecordChars) {
      const quoted = state === State.Quoted ? `; a quoted field opened at line ${quoteLine} may never be closed (a " is missing)` : '';
      throw new ReadError(
        setProblem('csv_malformed', `malformed CSV: the record that starts here is longer than ${Math.round(limits.maxRecordChars / 1024)} KB (SLUICE_MAX_RECORD_KB)${quoted}`, {
          file,
          line: recordLine,
        }),
      );
    }
  };
  const endField = () => {
    fields.push(field);
    field = '';
  };
  const endRecord = (out: RawRecord[]) => {
    endField();
    out.push({ fields, line: recordLine, tooLong });
    fields = [];
    tooLong = -1;
    begun = false;
  };
  const newline = (offset: number) => {
    line++;
    lineStart = offset + 1;
  };
  const countNewlines = (chunk: string, from: number, to: number) => {
    for (let n = chunk.indexOf('\n', from); n !== -1 && n < to; n = chunk.indexOf('\n', n + 1)) newline(base + n);
  };

  for await (const chunk of text) {
    const out: RawRecord[] = [];
    let i = 0;
    while (i < chunk.length) {
      const ch = chunk[i]!;
      if (skipLf) {
        skipLf = false;
        if (ch === '\n') {
          lineStart = base + i + 1;
          i++;
          continue;
        }
      }
      if (!begun) {
        begun = true;
        recordLine = line;
        recordStart = base + i;
      }
      switch (state) {
        case State.Start:
          if (ch === '"') {
            state = State.Quoted;
            quoteLine = line;
            field = '';
            i++;
            continue;
          }
          if (ch === ' ' && delimiter !== ' ') {
            append(' '); // spaces before an opening quote are dropped, as fast-csv did
            i++;
            continue;
          }
          state = State.Unquoted;
          continue;
        case State.Unquoted: {
          let j = i;
          while (j < chunk.length) {
            const c = chunk[j]!;
            if (c === delimiter || c === '\n' || c === '\r') break;
            j++;
          }
          append(chunk.slice(i, j));
          i = j;
          if (j === chunk.length) continue;
          const c = chunk[j]!;
          i++;
          if (c === delimiter) {
            endField();
            state = State.Start;
          } else {
            endRecord(out);
            state = State.Start;
            newline(base + j);
            if (c === '\r') skipLf = true;
          }
          continue;
        }
        case State.Quoted: {
          const q = chunk.indexOf('"', i);
          const to = q === -1 ? chunk.length : q;
          append(chunk.slice(i, to));
          countNewlines(chunk, i, to);
          checkRecord(base + to);
          i = to;
          if (q !== -1) {
            state = State.QuoteSeen;
            i++;
          }
          continue;
        }
        case State.QuoteSeen:
          if (ch === '"') {
            append('"');
            state = State.Quoted;
            i++;
          } else state = State.AfterClose;
          continue;
        case State.AfterClose:
          i++;
          if (ch === delimiter) {
            endField();
            state = State.Start;
          } else if (ch === '\n' || ch === '\r') {
            endRecord(out);
            state = State.Start;
            newline(base + i - 1);
            if (ch === '\r') skipLf = true;
          } else if (ch !== ' ' && ch !== '\t') {
            const shown = JSON.stringify(ch);
            throw new ReadError(
              setProblem('csv_malformed', `malformed CSV: ${shown} follows the closing quote of a field; a field must end at its closing " (write a quote inside a quoted field as "")`, {
                file,
                line,
                column: base + i - lineStart,
              }),
            );
          }
          continue;
      }
    }
    base += chunk.length;
    if (begun) checkRecord(base);
    for (const record of out) yield record;
  }
  if (state === State.Quoted) {
    throw new ReadError(setProblem('csv_malformed', 'malformed CSV: a quoted field that starts in this record is never closed (a " is missing)', { file, line: recordLine }));
  }
  if (begun) {
    endField();
    yield { fields, line: recordLine, tooLong };
  }
}
