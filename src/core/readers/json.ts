import { setProblem } from '../problems.js';
import { parseAt, quoteNumbers, recordTooLong, salvage, syntaxProblem, toRow } from './jsonText.js';
import { eachRow, inBatches, ReadError, type ReadLimits, type RecordReader, type SourceRow } from './types.js';

const isSpace = (ch: string) => ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n';

/**
 * A JSON array of objects, read element by element so the file is never held whole. An element
 * that is not an object is handed on rejected; a syntax error stops the file.
 */
export function readJsonArray(text: AsyncIterable<string>, file: string, limits: ReadLimits): RecordReader {
  let count = 0;
  const seen = new Set<string>();
  async function* rows(): AsyncGenerator<SourceRow> {
    let line = 1;
    let column = 0;
    let state: 'start' | 'between' | 'value' | 'end' = 'start';
    let depth = 0;
    let bare = false; // a number, true, false or null element
    let inString = false;
    let escaped = false;
    let buffer = '';
    let startLine = 0;
    let startColumn = 0;
    const fail = (message: string): never => {
      throw new ReadError(setProblem('json_malformed', message, { file, line, column }));
    };
    const element = (textOf: string): SourceRow => {
      if (textOf.length > limits.maxRecordChars) throw recordTooLong(file, startLine, limits);
      const row = toRow(parseAt(textOf, file, startLine, startColumn), file, startLine, limits, startColumn);
      for (const key of Object.keys(row.values)) seen.add(key);
      count++;
      return row;
    };
    for await (const chunk of text) {
      let valueFrom = state === 'value' ? 0 : -1;
      for (let i = 0; i < chunk.length; i++) {
        const ch = chunk[i]!;
        if (ch === '\n') {
          line++;
          column = 0;
        } else column++;
        if (state === 'value') {
          if (inString) {
            if (escaped) escaped = false;
            else if (ch === '\\') escaped = true;
            else if (ch === '"') {
              inString = false;
              if (depth === 0) {
                yield element(buffer + chunk.slice(valueFrom, i + 1));
                buffer = '';
                state = 'between';
                valueFrom = -1;
              }
            }
            continue;
          }
          if (bare) {
            if (ch !== ',' && ch !== ']' && !isSpace(ch)) continue;
            yield element(buffer + chunk.slice(valueFrom, i));
            buffer = '';
            state = 'between';
            valueFrom = -1;
            bare = false;
            if (ch === ']') state = 'end';
            continue;
          }
          if (ch === '"') inString = true;
          else if (ch === '{' || ch === '[') depth++;
          else if (ch === '}' || ch === ']') {
            depth--;
            if (depth === 0) {
              yield element(buffer + chunk.slice(valueFrom, i + 1));
              buffer = '';
              state = 'between';
              valueFrom = -1;
            } else if (depth < 0) fail('unexpected "]"');
          }
          continue;
        }
        if (isSpace(ch) || (ch === '\uFEFF' && state === 'start')) continue;
        if (state === 'start') {
          if (ch !== '[') fail('a "json" file must be an array of objects: [ {…}, {…} ]; use format "ndjson" for one object a line');
          state = 'between';
        } else if (state === 'between') {
          if (ch === ',') continue;
          if (ch === ']') {
            state = 'end';
            continue;
          }
          state = 'value';
          depth = ch === '{' || ch === '[' ? 1 : 0;
          inString = ch === '"';
          bare = depth === 0 && !inString;
          startLine = line;
          startColumn = column;
          valueFrom = i;
        } else fail('unexpected text after the closing "]"');
      }
      if (state === 'value' && valueFrom !== -1) {
        buffer += chunk.slice(valueFrom);
        if (buffer.length > limits.maxRecordChars) throw recordTooLong(file, startLine, limits);
      }
    }
    if (state === 'value' && bare) {
      yield element(buffer);
      state = 'between';
    }
    if ((state as string) !== 'end') fail(state === 'start' ? 'the file is empty' : 'the array is never closed (a "]" or "}" is missing)');
  }
  const all = inBatches(rows());
  return { columns: null, batches: all, rows: eachRow(all), count: () => count, seenKeys: () => seen };
}

/**
 * One JSON object a line; blank lines are skipped. A line that is not a JSON object is handed on
 * rejected, with the `"name": value` pairs that could be read from it.
 */
export function readNdjson(text: AsyncIterable<string>, file: string, limits: ReadLimits): RecordReader {
  let count = 0;
  const seen = new Set<string>();
  async function* rows(): AsyncGenerator<SourceRow> {
    let line = 0;
    let pending = '';
    const handle = (raw: string): SourceRow | null => {
      line++;
      const trimmed = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      if (!trimmed.trim()) return null;
      if (trimmed.length > limits.maxRecordChars) throw recordTooLong(file, line, limits);
      count++;
      let parsed: unknown;
      try {
        parsed = JSON.parse(quoteNumbers(trimmed));
      } catch {
        let problem;
        try {
          JSON.parse(trimmed);
          problem = syntaxProblem(new Error('not readable'), trimmed, file, line, 1);
        } catch (error) {
          problem = syntaxProblem(error as Error, trimmed, file, line, 1);
        }
        return { line, values: salvage(trimmed), rejected: { ...problem, level: 'row' } };
      }
      const row = toRow(parsed, file, line, limits);
      for (const key of Object.keys(row.values)) seen.add(key);
      return row;
    };
    for await (const chunk of text) {
      const scanned = pending.length; // a long line is searched for its end once, not on every chunk
      pending += chunk;
      let from = 0;
      for (let nl = pending.indexOf('\n', scanned); nl !== -1; nl = pending.indexOf('\n', from)) {
        const row = handle(pending.slice(from, nl));
        if (row) yield row;
        from = nl + 1;
      }
      pending = pending.slice(from);
      if (pending.length > limits.maxRecordChars) throw recordTooLong(file, line + 1, limits);
    }
    if (pending) {
      const row = handle(pending);
      if (row) yield row;
    }
  }
  const all = inBatches(rows());
  return { columns: null, batches: all, rows: eachRow(all), count: () => count, seenKeys: () => seen };
}
