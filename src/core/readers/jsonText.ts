import { lineAndColumn, rowProblem, setProblem, type Problem } from '../problems.js';
import { ReadError, type ReadLimits, type SourceRow, type SourceValue } from './types.js';

const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
const isNumberChar = (c: number) => (c >= 48 && c <= 57) || c === 45 || c === 43 || c === 46 || c === 69 || c === 101;

/**
 * Puts the numbers of a record's own properties (and of arrays directly under them) in quotes,
 * so `JSON.parse` hands them on as the source wrote them: `12345678901234567891` stays that,
 * `1e400` is not `Infinity`. Numbers deeper down stay numbers, as nested values are kept as JSON.
 * Text that is not a valid number is left alone for `JSON.parse` to report.
 */
export function quoteNumbers(text: string): string {
  const pieces: string[] = [];
  let from = 0;
  let depth = 0;
  let topArray = false; // inside an array that is a property of the record
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) {
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 92) i++;
        else if (d === 34) break;
      }
    } else if (c === 123 || c === 91) {
      depth++;
      if (depth === 2 && c === 91) topArray = true;
    } else if (c === 125 || c === 93) {
      if (depth === 2) topArray = false;
      depth--;
    } else if (c === 45 || (c >= 48 && c <= 57)) {
      let j = i + 1;
      while (j < text.length && isNumberChar(text.charCodeAt(j))) j++;
      const token = text.slice(i, j);
      if ((depth === 1 || (depth === 2 && topArray)) && NUMBER.test(token)) {
        pieces.push(text.slice(from, i), '"', token, '"');
        from = j;
      }
      i = j - 1;
    }
  }
  if (from === 0) return text;
  pieces.push(text.slice(from));
  return pieces.join('');
}

/** Parses one record's text; a syntax error names the file line and column. */
export function parseAt(text: string, file: string, line: number, column: number): unknown {
  try {
    return JSON.parse(quoteNumbers(text));
  } catch {
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new ReadError(syntaxProblem(error as Error, text, file, line, column));
    }
  }
}

export function syntaxProblem(error: Error, text: string, file: string, line: number, column: number): Problem {
  const message = error.message;
  const lc = /line (\d+) column (\d+)/.exec(message);
  const pos = /position (\d+)/.exec(message);
  const where = lc ? { line: Number(lc[1]), column: Number(lc[2]) } : lineAndColumn(text, pos ? Number(pos[1]) : text.length);
  return setProblem('json_malformed', `malformed JSON: ${message.replace(/ in JSON at position.*$/, '').replace(/ \(line \d+ column \d+\)$/, '')}`, {
    file,
    line: line + where.line - 1,
    column: where.line === 1 ? column + where.column - 1 : where.column,
  });
}

const kindOf = (value: unknown) => (value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value === 'string' ? 'a string' : `a ${typeof value}`);

/**
 * Turns a parsed record into a source row. An element that is not an object, or a value over
 * the field limit, gives a rejected row (with the values it has, so its key still counts).
 */
export function toRow(record: unknown, file: string, line: number, limits: ReadLimits, column = 1): SourceRow {
  if (!record || typeof record !== 'object' || Array.isArray(record)) {
    return { line, values: {}, rejected: rowProblem('json_malformed', `each record must be a JSON object (found ${kindOf(record)})`, { file, line, column }) };
  }
  const values: Record<string, SourceValue> = Object.create(null); // a key may be called __proto__
  let tooLong: string | undefined;
  for (const [key, value] of Object.entries(record as Record<string, unknown>)) {
    let text: SourceValue;
    if (value === null || value === undefined) text = '';
    else if (Array.isArray(value)) text = value.map((v) => (v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v)));
    else if (typeof value === 'object') text = JSON.stringify(value);
    else text = String(value);
    const length = Array.isArray(text) ? text.reduce((n, v) => n + v.length, 0) : text.length;
    if (length > limits.maxFieldChars) {
      tooLong ??= key;
      text = '';
    }
    values[key] = text;
  }
  if (tooLong === undefined) return { line, values };
  const rejected = rowProblem('field_too_long', `${tooLong} is longer than ${Math.round(limits.maxFieldChars / 1024)} KB (SLUICE_MAX_FIELD_KB)`, { file, line, column });
  return { line, values, rejected };
}

/**
 * What can be read of a line that is not valid JSON: its `"name": "text"` and `"name": number`
 * pairs, so that the user it was about still counts as present.
 */
export function salvage(text: string): Record<string, SourceValue> {
  const values: Record<string, SourceValue> = Object.create(null);
  const pair = /"((?:[^"\\]|\\.)*)"\s*:\s*("(?:[^"\\]|\\.)*"|-?\d[\d.eE+-]*)/g;
  for (let m = pair.exec(text); m; m = pair.exec(text)) {
    try {
      const name = JSON.parse(`"${m[1]}"`) as string;
      if (!(name in values)) values[name] = m[2]!.startsWith('"') ? (JSON.parse(m[2]!) as string) : m[2]!;
    } catch {
      /* an escape that is itself broken: nothing to read there */
    }
  }
  return values;
}

export function recordTooLong(file: string, line: number, limits: ReadLimits): ReadError {
  return new ReadError(
    setProblem('json_malformed', `malformed JSON: the record that starts here is longer than ${Math.round(limits.maxRecordChars / 1024)} KB (SLUICE_MAX_RECORD_KB); a "}" or a line break may be missing`, {
      file,
      line,
    }),
  );
}
