import { describe, expect, it } from 'vitest';
import type { FileSpec } from '../../src/core/control/types.js';
import { formatProblem } from '../../src/core/problems.js';
import { openRecords, ReadError, type SourceRow } from '../../src/core/readers/index.js';

const spec = (over: Partial<FileSpec> = {}): FileSpec => ({ type: 'users', format: 'csv', delimiter: ',', encoding: 'utf-8', ignoreColumns: [], ...over });

async function* chunks(bytes: Buffer, size = 7): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function read(content: string | Buffer, over: Partial<FileSpec> = {}, chunkSize = 7) {
  const reader = await openRecords(chunks(Buffer.isBuffer(content) ? content : Buffer.from(content), chunkSize), spec(over), 'f.csv');
  const rows: SourceRow[] = [];
  for await (const row of reader.rows) rows.push(row);
  return { columns: reader.columns, rows, problems: reader.problems.map(formatProblem), count: reader.count() };
}

async function readError(content: string | Buffer, over: Partial<FileSpec> = {}) {
  try {
    await read(content, over);
  } catch (error) {
    if (error instanceof ReadError) return formatProblem(error.problem);
    throw error;
  }
  throw new Error('expected a read error');
}

describe('CSV reader', () => {
  it('strips the BOM, accepts CRLF and LF, and gives each record its real file line', async () => {
    const text = '\uFEFFid,name,bio\r\n1,Ada,"line one\r\nline two"\r\n\r\n2,"Ben, Jr.","He said ""hi"""\n3,Cy,\n';
    const { columns, rows } = await read(text);
    expect(columns).toEqual(['id', 'name', 'bio']);
    expect(rows).toEqual([
      { line: 2, values: { id: '1', name: 'Ada', bio: 'line one\r\nline two' } },
      { line: 5, values: { id: '2', name: 'Ben, Jr.', bio: 'He said "hi"' } },
      { line: 6, values: { id: '3', name: 'Cy', bio: '' } },
    ]);
  });

  it('reports an unclosed quote with the line it starts on', async () => {
    expect(await readError('id,name\n1,Ada\n2,"Ben\n3,Cy\n')).toBe('f.csv:3: malformed CSV: a quoted field that starts in this record is never closed (a " is missing)');
  });

  it('reports a record with the wrong number of fields and reads on', async () => {
    const { rows, problems } = await read('id,name\n1,Ada,extra\n2,Ben\n');
    expect(problems).toEqual(['f.csv:2:3: has 3 fields but the header has 2; check for an unquoted "," or a missing value']);
    expect(rows.map((r) => r.line)).toEqual([3]);
  });

  it('reads TSV and a custom delimiter', async () => {
    expect((await read('a\tb\n1\t2\n', { delimiter: '\t' })).rows[0]?.values).toEqual({ a: '1', b: '2' });
    expect((await read('a;b\n1;2\n', { delimiter: ';' })).rows[0]?.values).toEqual({ a: '1', b: '2' });
  });

  it('decodes windows-1252, latin1 and UTF-16LE', async () => {
    expect((await read(Buffer.from([0x6e, 0x0a, 0x43, 0x6c, 0x6f, 0xe9, 0x20, 0x80, 0x0a]), { encoding: 'windows-1252' })).rows[0]?.values).toEqual({ n: 'Cloé €' });
    expect((await read(Buffer.from('n\nJosé\n', 'latin1'), { encoding: 'latin1' })).rows[0]?.values).toEqual({ n: 'José' });
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('n\nZoë\n', 'utf16le')]);
    expect((await read(utf16, { encoding: 'utf-16le' })).rows[0]?.values).toEqual({ n: 'Zoë' });
  });

  it('stops at bytes that are not valid UTF-8, naming line and column', async () => {
    const bytes = Buffer.concat([Buffer.from('id,name\n1,Ada\n2,Cl'), Buffer.from([0xe9]), Buffer.from('o\n')]);
    expect(await readError(bytes)).toBe(
      'f.csv:3:5: bytes that are not valid utf-8; save the file as utf-8 or declare its real "encoding" in the control file',
    );
  });
});

describe('JSON readers', () => {
  it('streams a JSON array of objects with the line each record starts on', async () => {
    const text = '[\n  {"id": 1, "name": "Ada", "tags": ["a", "b"]},\n  {\n    "id": 2,\n    "name": "Brace } in \\"text\\"",\n    "x": null\n  }\n]\n';
    const { rows } = await read(text, { format: 'json' }, 5);
    expect(rows).toEqual([
      { line: 2, values: { id: '1', name: 'Ada', tags: ['a', 'b'] } },
      { line: 3, values: { id: '2', name: 'Brace } in "text"', x: '' } },
    ]);
  });

  it('reports malformed JSON with line and column', async () => {
    expect(await readError('[\n {"id": 1},\n {"id": 2,, "x": 1}\n]', { format: 'json' })).toMatch(/^f\.csv:3:\d+: malformed JSON/);
    expect(await readError('[{"id": 1}', { format: 'json' })).toMatch(/never closed/);
    expect(await readError('{"id": 1}', { format: 'json' })).toMatch(/must be an array of objects/);
  });

  it('reads NDJSON line by line, skipping blank lines', async () => {
    const { rows } = await read('{"id":"1"}\r\n\n{"id":"2"}', { format: 'ndjson' });
    expect(rows).toEqual([
      { line: 1, values: { id: '1' } },
      { line: 3, values: { id: '2' } },
    ]);
    expect(await readError('{"id":"1"}\n{"id": }\n', { format: 'ndjson' })).toMatch(/^f\.csv:2:\d+: malformed JSON/);
  });
});
