import Papa from 'papaparse';
import { setProblem } from '../problems.js';
import { ReadError, type ReadLimits } from './types.js';

/** One record as split from the text: its fields, the line it starts on, and which fields overflowed. */
export interface RawRecord {
  fields: string[];
  line: number;
  /** Index of the first field longer than the field limit (kept cut short), or -1. */
  tooLong: number;
}

type Newline = '\n' | '\r';

/**
 * Splits CSV/TSV text into records with papaparse's parser (RFC 4180: `"` quotes, `""` escapes),
 * driven here on the decoded chunks rather than through its own streamer: that one parses the
 * unfinished record again with every chunk, which is quadratic in a long field. Here the
 * unfinished record is parsed again only once the text after it is as long as itself, so a
 * record costs time linear in its length, and a record that runs past the record limit
 * (typically an unclosed quote) stops the file at the line where it starts, after reading at
 * most the limit and one chunk. Papaparse gives neither lines nor error positions: the lines are
 * counted from the records and the position of a malformed field is found from where it starts.
 * Records come in batches, one per parse, so a million rows are not a million awaits here.
 */
export async function* csvRecords(text: AsyncIterable<string>, delimiter: string, file: string, limits: ReadLimits): AsyncGenerator<RawRecord[]> {
  // Papaparse would quietly split on "," instead.
  if (Papa.BAD_DELIMITERS.includes(delimiter)) {
    throw new ReadError(setProblem('control_schema', `the delimiter ${JSON.stringify(delimiter)} cannot separate fields: a quote, a line end or a byte-order mark`, { file }));
  }
  let newline: Newline | null = null;
  let parser: Papa.Parser | null = null;
  let carry = ''; // the unfinished record the last parse left
  let carryLine = 1; // the line it starts on
  let pending: string[] = [];
  let pendingLength = 0;

  const parse = (final: boolean): RawRecord[] => {
    let input = carry + pending.join('');
    pending = [];
    pendingLength = 0;
    newline ??= guessNewline(input, final);
    if (newline === null) {
      carry = input;
      tooLongRecord(carry);
      return [];
    }
    // The last row of a parse is always held back as possibly unfinished; at the end of the
    // text a line end closes it (unless the text already ends with one).
    if (final && input.length > 0 && !input.endsWith(newline)) input += newline;
    parser ??= new Papa.Parser({ delimiter, newline, quoteChar: '"', header: false, skipEmptyLines: false, dynamicTyping: false });
    const result = parser.parse(input, 0, true) as Papa.ParseResult<string[]>;
    const rows = result.data;
    const end = result.meta.cursor;
    const invalid = result.errors.find((e) => e.code === 'InvalidQuotes');
    if (invalid) {
      // Papaparse gives where the quoted field's text starts, after its opening quote.
      const open = (invalid.index ?? 1) - 1;
      const at = afterClosingQuote(input, open + 1, delimiter, newline);
      // A closing quote at the end of a chunk is judged once the next chunk has come.
      if (at < input.length) malformed(input, open, at, newline);
    }
    const records = toRecords(rows, carryLine, newline, delimiter, limits, input, end);
    if (records.oversized) {
      carryLine = records.oversized.line;
      overLimit(records.oversized.quoteLine, records.oversized.field);
    }
    carryLine = records.nextLine;
    carry = input.slice(end);
    if (final && carry.length > 0) {
      const { field } = unfinished(carry, delimiter, newline);
      throw new ReadError(setProblem('csv_malformed', 'malformed CSV: a quoted field that starts in this record is never closed (a " is missing)', { file, line: carryLine, column: field }));
    }
    tooLongRecord(carry);
    return records.out;
  };

  /** Fails on an unfinished `record` over the record limit. */
  const tooLongRecord = (record: string) => {
    if (record.length <= limits.maxRecordChars) return;
    const nl = newline;
    if (nl === null) return overLimit(-1, 1);
    const { quote, field } = unfinished(record, delimiter, nl);
    overLimit(quote === -1 ? -1 : carryLine + count(record, nl, 0, quote), field);
  };

  /** Fails on the record that starts at `carryLine` for being over the record limit, naming the field (and the line of a quote left open) where the limit was passed. */
  const overLimit = (quoteLine: number, field: number): never => {
    const quoted = quoteLine === -1 ? '' : `; a quoted field opened at line ${quoteLine} may never be closed (a " is missing)`;
    throw new ReadError(
      setProblem('csv_malformed', `malformed CSV: the record that starts here is longer than ${Math.round(limits.maxRecordChars / 1024)} KB (SLUICE_MAX_RECORD_KB)${quoted}`, {
        file,
        line: carryLine,
        column: field,
      }),
    );
  };

  /**
   * Fails on a character after the closing quote of the field whose opening quote is at `open`.
   * The column is the field's number, as in every other problem. When the quoted field ran over
   * lines, the likelier fault is a closing quote missing where it opened, with a later field's
   * quote taken for it: reported where it opened, naming where it was closed.
   */
  const malformed = (input: string, open: number, at: number, nl: Newline): never => {
    const openLine = carryLine + count(input, nl, 0, open);
    const atLine = openLine + count(input, nl, open, at);
    const lineStart = input.lastIndexOf(nl, open - 1) + 1;
    const field = unfinished(input.slice(lineStart, open), delimiter, nl).field;
    const found = JSON.stringify(input[at]);
    const fix = '(write a quote inside a quoted field as "")';
    const message =
      atLine === openLine
        ? `malformed CSV: ${found} follows the closing quote of field ${field} (character ${at - lineStart + 1} of the line); a field must end at its closing " ${fix}`
        : `malformed CSV: the quote that opens field ${field} here is first closed on line ${atLine}, where ${found} follows it; a closing " is probably missing in this field ${fix}`;
    throw new ReadError(setProblem('csv_malformed', message, { file, line: openLine, column: field }));
  };

  for await (const chunk of text) {
    pending.push(chunk);
    pendingLength += chunk.length;
    if (pendingLength < carry.length && carry.length + pendingLength <= limits.maxRecordChars) continue;
    const batch = parse(false);
    if (batch.length > 0) yield batch;
  }
  const batch = parse(true);
  if (batch.length > 0) yield batch;
}

/**
 * The record separator: a line end inside a record is kept as it is, and a CR before LF is
 * dropped from the last field, so CRLF and LF may be mixed. A file whose first line ends with a
 * lone CR is read as CR-separated throughout.
 */
function guessNewline(text: string, final: boolean): Newline | null {
  const lf = text.indexOf('\n');
  const cr = text.indexOf('\r');
  if (cr === -1 || (lf !== -1 && lf < cr)) return lf === -1 && !final ? null : '\n';
  if (cr + 1 < text.length) return text[cr + 1] === '\n' ? '\n' : '\r';
  return final ? '\r' : null;
}

/** The records of one parse, each with the line it starts on; the line after the last; a record over the record limit, if any. */
function toRecords(rows: string[][], firstLine: number, nl: Newline, delimiter: string, limits: ReadLimits, input: string, end: number) {
  const out: RawRecord[] = new Array(rows.length);
  // Only quoted fields hold line ends: when the text has no more line ends than records, every
  // record is one line and the fields need not be searched.
  const multiline = count(input, nl, 0, end) !== rows.length;
  const spaced = spacedQuoteLines(input, end, delimiter, nl, firstLine);
  let next = 0; // the first of `spaced` not before the current record
  let line = firstLine;
  for (let r = 0; r < rows.length; r++) {
    const fields = rows[r]!;
    const last = fields.length - 1;
    if (nl === '\n' && fields[last]!.endsWith('\r')) fields[last] = fields[last]!.slice(0, -1);
    let span = 1;
    if (multiline) for (const field of fields) span += count(field, nl, 0, field.length);
    while (next < spaced.length && spaced[next]! < line) next++;
    if (next < spaced.length && spaced[next]! < line + span) {
      for (let i = 0; i < fields.length; i++) if (fields[i]!.charCodeAt(0) === 32) unspaceQuote(fields, i, delimiter);
    }
    let tooLong = -1;
    let size = 0;
    for (let i = 0; i < fields.length; i++) {
      const field = fields[i]!;
      size += field.length;
      if (size > limits.maxRecordChars) return { out, nextLine: line, oversized: { line, quoteLine: openedAt(fields, i, line, nl), field: i + 1 } };
      if (field.length > limits.maxFieldChars) {
        if (tooLong === -1) tooLong = i;
        fields[i] = field.slice(0, limits.maxFieldChars);
      }
    }
    out[r] = { fields, line, tooLong };
    line += span;
  }
  return { out, nextLine: line, oversized: null };
}

/** The line where field `at` of a record starting at `line` opened, if it spans lines (so it was quoted: the likely culprit of an oversized record), or -1. */
function openedAt(fields: string[], at: number, line: number, nl: Newline): number {
  if (!fields[at]!.includes(nl)) return -1;
  for (let i = 0; i < at; i++) line += count(fields[i]!, nl, 0, fields[i]!.length);
  return line;
}

/**
 * The lines, in order, where a field starts with spaces and a quote in the text itself (after a
 * delimiter or a line end), which papaparse reads as text. Found in the text, not in the fields,
 * because a quoted field may hold the same characters (`" ""b"""` is ` "b"`).
 */
function spacedQuoteLines(input: string, end: number, delimiter: string, nl: Newline, firstLine: number): number[] {
  const lines: number[] = [];
  if (delimiter === ' ') return lines;
  let line = firstLine;
  let counted = 0;
  for (let i = input.indexOf(' "'); i !== -1 && i < end; i = input.indexOf(' "', i + 2)) {
    let start = i;
    while (start > 0 && input[start - 1] === ' ') start--;
    const before = input[start - 1];
    if (start > 0 && before !== delimiter && before !== nl) continue;
    line += count(input, nl, counted, start);
    counted = start;
    if (lines[lines.length - 1] !== line) lines.push(line);
  }
  return lines;
}

/**
 * Papaparse reads a quote after spaces as text, as RFC 4180 has it; this reader has always read
 * such a field as quoted, dropping the spaces (`a, "b, c"` is `a` and `b, c`). So a field papaparse
 * read that way is joined with the ones after it up to its closing quote. A quote that stays open
 * to the end of the line, or is followed by more than spaces, is left as papaparse read it.
 */
function unspaceQuote(fields: string[], at: number, delimiter: string): void {
  const open = fields[at]!.search(/[^ ]/);
  if (open === -1 || fields[at]![open] !== '"') return;
  let text = fields[at]!.slice(open + 1);
  for (let last = at; ; ) {
    const end = closingQuote(text);
    if (end >= 0) {
      fields.splice(at, last - at + 1, text.slice(0, end).replaceAll('""', '"'));
      return;
    }
    if (end === -2 || last + 1 === fields.length) return;
    text += delimiter + fields[++last]!;
  }
}

/** In the text after an opening quote: where the closing quote is, if only spaces follow it; -1 while none is, -2 if more follows it. */
function closingQuote(text: string): number {
  for (let q = text.indexOf('"'); q !== -1; q = text.indexOf('"', q + 2)) {
    if (text[q + 1] === '"') continue;
    return /^[ \t]*$/.test(text.slice(q + 1)) ? q : -2;
  }
  return -1;
}

/** Occurrences of `nl` in `text` between `from` and `to`. */
function count(text: string, nl: Newline, from: number, to: number): number {
  let n = 0;
  for (let i = text.indexOf(nl, from); i !== -1 && i < to; i = text.indexOf(nl, i + 1)) n++;
  return n;
}

/** Where the character after the closing quote of the quoted field whose text starts at `start` is, past spaces. */
function afterClosingQuote(input: string, start: number, delimiter: string, nl: Newline): number {
  let q = input.indexOf('"', start);
  while (q !== -1 && input[q + 1] === '"') q = input.indexOf('"', q + 2);
  if (q === -1) return input.length;
  let at = q + 1;
  while (at < input.length && input[at] !== delimiter && input[at] !== nl && input[at]!.trim() === '') at++;
  return at;
}

/** Of an unfinished `record`: the offset of the opening quote of a field it leaves open (or -1), and the number of the field it ends in. */
function unfinished(record: string, delimiter: string, nl: Newline): { quote: number; field: number } {
  const result = new Papa.Parser({ delimiter, newline: nl, quoteChar: '"' }).parse(record, 0, false) as Papa.ParseResult<string[]>;
  const missing = result.errors.find((e) => e.code === 'MissingQuotes');
  return { quote: missing?.index === undefined ? -1 : missing.index - 1, field: result.data[result.data.length - 1]?.length ?? 1 };
}
