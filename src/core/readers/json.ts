import { lineAndColumn, setProblem } from '../problems.js';
import { ReadError, type RecordReader, type SourceRow, type SourceValue } from './types.js';

function toValues(record: unknown, file: string, line: number): Record<string, SourceValue> {
  if (!record || typeof record !== 'object' || Array.isArray(record)) {
    throw new ReadError(setProblem('json_malformed', 'each record must be a JSON object', { file, line, column: 1 }));
  }
  const values: Record<string, SourceValue> = {};
  for (const [key, value] of Object.entries(record as Record<string, unknown>)) {
    if (value === null || value === undefined) values[key] = '';
    else if (Array.isArray(value)) values[key] = value.map((v) => (v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v)));
    else if (typeof value === 'object') values[key] = JSON.stringify(value);
    else values[key] = String(value);
  }
  return values;
}

function parseAt(text: string, file: string, line: number, column: number): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const message = (error as Error).message;
    const lc = /line (\d+) column (\d+)/.exec(message);
    const pos = /position (\d+)/.exec(message);
    const where = lc ? { line: Number(lc[1]), column: Number(lc[2]) } : lineAndColumn(text, pos ? Number(pos[1]) : text.length);
    throw new ReadError(
      setProblem('json_malformed', `malformed JSON: ${message.replace(/ in JSON at position.*$/, '').replace(/ \(line \d+ column \d+\)$/, '')}`, {
        file,
        line: line + where.line - 1,
        column: where.line === 1 ? column + where.column - 1 : where.column,
      }),
    );
  }
}

/** A JSON array of objects, read element by element so the file is never held whole. */
export function readJsonArray(text: AsyncIterable<string>, file: string): RecordReader {
  let count = 0;
  const seen = new Set<string>();
  async function* rows(): AsyncGenerator<SourceRow> {
    let line = 1;
    let column = 0;
    let state: 'start' | 'between' | 'value' | 'end' = 'start';
    let depth = 0;
    let inString = false;
    let escaped = false;
    let buffer = '';
    let startLine = 0;
    let startColumn = 0;
    const fail = (message: string): never => {
      throw new ReadError(setProblem('json_malformed', message, { file, line, column }));
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
            else if (ch === '"') inString = false;
            continue;
          }
          if (ch === '"') inString = true;
          else if (ch === '{' || ch === '[') depth++;
          else if (ch === '}' || ch === ']') {
            depth--;
            if (depth === 0) {
              buffer += chunk.slice(valueFrom, i + 1);
              const values = toValues(parseAt(buffer, file, startLine, startColumn), file, startLine);
              for (const key of Object.keys(values)) seen.add(key);
              count++;
              yield { line: startLine, values };
              buffer = '';
              state = 'between';
              valueFrom = -1;
            } else if (depth < 0) fail('unexpected "]"');
          } else if (depth === 0 && (ch === ',' || ch === ']')) fail('each record must be a JSON object');
          continue;
        }
        if (ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n' || (ch === '\uFEFF' && state === 'start')) continue;
        if (state === 'start') {
          if (ch !== '[') fail('a "json" file must be an array of objects: [ {…}, {…} ]; use format "ndjson" for one object a line');
          state = 'between';
        } else if (state === 'between') {
          if (ch === ',') continue;
          if (ch === ']') {
            state = 'end';
            continue;
          }
          if (ch !== '{') fail(`each record must be a JSON object (found "${ch}")`);
          state = 'value';
          depth = 1;
          startLine = line;
          startColumn = column;
          valueFrom = i;
        } else fail('unexpected text after the closing "]"');
      }
      if (state === 'value' && valueFrom !== -1) buffer += chunk.slice(valueFrom);
    }
    if ((state as string) !== 'end') fail(state === 'start' ? 'the file is empty' : 'the array is never closed (a "]" or "}" is missing)');
  }
  return { columns: null, rows: rows(), problems: [], count: () => count, seenKeys: () => seen };
}

/** One JSON object a line; blank lines are skipped. */
export function readNdjson(text: AsyncIterable<string>, file: string): RecordReader {
  let count = 0;
  const seen = new Set<string>();
  async function* rows(): AsyncGenerator<SourceRow> {
    let line = 0;
    let pending = '';
    const handle = function* (raw: string) {
      line++;
      const trimmed = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      if (!trimmed.trim()) return;
      const values = toValues(parseAt(trimmed, file, line, 1), file, line);
      for (const key of Object.keys(values)) seen.add(key);
      count++;
      yield { line, values };
    };
    for await (const chunk of text) {
      pending += chunk;
      let from = 0;
      for (let nl = pending.indexOf('\n'); nl !== -1; nl = pending.indexOf('\n', from)) {
        yield* handle(pending.slice(from, nl));
        from = nl + 1;
      }
      pending = pending.slice(from);
    }
    if (pending) yield* handle(pending);
  }
  return { columns: null, rows: rows(), problems: [], count: () => count, seenKeys: () => seen };
}
