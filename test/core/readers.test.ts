import { describe, expect, it } from 'vitest';
import type { FileSpec } from '../../src/core/control/types.js';
import { formatProblem } from '../../src/core/problems.js';
import { openRecords, ReadError, type ReadLimits, type SourceRow } from '../../src/core/readers/index.js';

const spec = (over: Partial<FileSpec> = {}): FileSpec => ({ type: 'users', format: 'csv', delimiter: ',', encoding: 'utf-8', ignoreColumns: [], ...over });

async function* chunks(bytes: Buffer, size = 7): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function read(content: string | Buffer, over: Partial<FileSpec> = {}, chunkSize = 7, limits?: ReadLimits) {
  const reader = await openRecords(chunks(Buffer.isBuffer(content) ? content : Buffer.from(content), chunkSize), spec(over), 'f.csv', limits);
  const rows: SourceRow[] = [];
  const rejected: SourceRow[] = [];
  // A whole delimited record builds its values on first use; compared here as what it reads.
  for await (const row of reader.rows) row.rejected ? rejected.push(row) : rows.push({ line: row.line, values: row.values });
  return { columns: reader.columns, rows, rejected, problems: rejected.map((r) => formatProblem(r.rejected!)), count: reader.count() };
}

async function readError(content: string | Buffer, over: Partial<FileSpec> = {}, limits?: ReadLimits) {
  try {
    await read(content, over, 7, limits);
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

  it('reads the same records and lines however the file is split into chunks', async () => {
    // A chunk may end inside a quote pair, between a closing quote and its CR LF or its spaces.
    const text = '\uFEFFid,name,bio\r\n1,"Ada","line one\r\nline two"\r\n\r\n2,"Ben, Jr.","He said ""hi""" \n3,Cy,"x"\r\n4,"""q""",\n';
    const expected = [
      { line: 2, values: { id: '1', name: 'Ada', bio: 'line one\r\nline two' } },
      { line: 5, values: { id: '2', name: 'Ben, Jr.', bio: 'He said "hi"' } },
      { line: 6, values: { id: '3', name: 'Cy', bio: 'x' } },
      { line: 7, values: { id: '4', name: '"q"', bio: '' } },
    ];
    for (let size = 1; size <= Buffer.byteLength(text); size++) expect((await read(text, {}, size)).rows, `chunks of ${size} bytes`).toEqual(expected);
  });

  it('reads a file whose lines end in a lone CR, counting the CRs inside quotes as lines too', async () => {
    const text = 'id,name\r1,Ada\r2,"B\rC"\r3,Cy';
    const expected = [
      { line: 2, values: { id: '1', name: 'Ada' } },
      { line: 3, values: { id: '2', name: 'B\rC' } },
      { line: 5, values: { id: '3', name: 'Cy' } },
    ];
    for (let size = 1; size <= text.length; size++) expect((await read(text, {}, size)).rows, `chunks of ${size} bytes`).toEqual(expected);
  });

  it('drops spaces before an opening quote, and keeps them before other text and inside quotes', async () => {
    const { rows } = await read('id,name,bio\r\n1, "Ada, Jr.",  "say ""hi""" \r\n2, Ben," ""q"""\r\n');
    expect(rows).toEqual([
      { line: 2, values: { id: '1', name: 'Ada, Jr.', bio: 'say "hi"' } },
      { line: 3, values: { id: '2', name: ' Ben', bio: ' "q"' } },
    ]);
  });

  it('reports an unclosed quote with the line it starts on and the field it opens', async () => {
    expect(await readError('id,name\n1,Ada\n2,"Ben\n3,Cy\n')).toBe('f.csv:3:2: malformed CSV: a quoted field that starts in this record is never closed (a " is missing)');
  });

  it('reports a record with the wrong number of fields and reads on', async () => {
    const { rows, problems } = await read('id,name\n1,Ada,extra\n2,Ben\n');
    expect(problems).toEqual(['f.csv:2:3: has 3 fields but the header has 2; check for an unquoted "," or a missing value']);
    expect(rows.map((r) => r.line)).toEqual([3]);
  });

  it('reads TSV and a custom delimiter', async () => {
    expect((await read('a\tb\n1\t2\n', { delimiter: '\t' })).rows[0]?.values).toEqual({ a: '1', b: '2' });
    expect((await read('a;b\n1;2\n', { delimiter: ';' })).rows[0]?.values).toEqual({ a: '1', b: '2' });
    expect(await readError('a"b\n1"2\n', { delimiter: '"' })).toBe('f.csv: the delimiter "\\"" cannot separate fields: a quote, a line end or a byte-order mark');
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
      'f.csv:3:5: bytes that are not valid utf-8 (at character 5 of the line); save the file as utf-8 or declare its real "encoding" in the control file',
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
  });
});

describe('rejected records keep what can be read of them', () => {
  it('hands on a CSV row with a field too many or too few, with its values by position and the other alignments', async () => {
    const { rows, rejected, problems, count } = await read('id,email,first,last\nu6,u6@corp.example,Given6,Six\nu7,u7@corp.example,Given7,Family, Seven\n,u8@corp.example\n');
    expect(rows.map((r) => r.line)).toEqual([2]);
    expect(count).toBe(3);
    expect(problems).toEqual([
      'f.csv:3:5: has 5 fields but the header has 4; check for an unquoted "," or a missing value',
      'f.csv:4:3: has 2 fields but the header has 4; check for an unquoted "," or a missing value',
    ]);
    expect(rejected[0]).toMatchObject({
      line: 3,
      values: { id: 'u7', email: 'u7@corp.example', first: 'Given7', last: 'Family' },
      readings: [{ id: 'u7@corp.example', email: 'Given7', first: 'Family', last: ' Seven' }],
    });
    expect(rejected[1]).toMatchObject({ line: 4, values: { id: '', email: 'u8@corp.example' }, readings: [{ email: '', first: 'u8@corp.example' }, { first: '', last: 'u8@corp.example' }] });
  });

  it('hands on JSON elements that are not objects, and NDJSON lines that are not JSON, as rejected records', async () => {
    const json = await read('[\n{"id": "u1"},\n"u2",\n42,\n[1, 2],\nnull,\n{"id": "u3"}\n]', { format: 'json' });
    expect(json.rows.map((r) => r.values.id)).toEqual(['u1', 'u3']);
    expect(json.count).toBe(6);
    expect(json.problems).toEqual([
      'f.csv:3:1: each record must be a JSON object (found a string)',
      'f.csv:4:1: each record must be a JSON object (found a number)',
      'f.csv:5:1: each record must be a JSON object (found an array)',
      'f.csv:6:1: each record must be a JSON object (found null)',
    ]);
    const ndjson = await read('{"id":"u1"}\n{"id": "u7", "email": "u7@corp.example", "first": }\n"u9"\n{"id":"u2"}\n', { format: 'ndjson' });
    expect(ndjson.rows.map((r) => r.values.id)).toEqual(['u1', 'u2']);
    expect(ndjson.problems).toHaveLength(2);
    expect(ndjson.problems[0]).toMatch(/^f\.csv:2:\d+: malformed JSON/);
    expect(ndjson.rejected[0]).toMatchObject({ line: 2, values: { id: 'u7', email: 'u7@corp.example' }, rejected: { level: 'row' } });
    expect(ndjson.problems[1]).toBe('f.csv:3:1: each record must be a JSON object (found a string)');
  });
});

describe('malformed CSV is reported where it is', () => {
  it('names the line and column of a character after a closing quote, 1 000 lines into the file', async () => {
    const lines = ['id,name,email'];
    for (let i = 2; i < 1042; i++) lines.push(`u${i},"Name ${i}",u${i}@corp.example`);
    lines.push('u1042,"Bob"x,bob@corp.example', 'u1043,Cy,cy@corp.example');
    expect(await readError(lines.join('\n') + '\n')).toBe(
      'f.csv:1042:2: malformed CSV: "x" follows the closing quote of field 2 (character 12 of the line); a field must end at its closing " (write a quote inside a quoted field as "")',
    );
  });

  it('names the line where a quote was left open, not the later line whose quote closed it, however the file is split', async () => {
    // Line 3 lacks its closing quote; the notes field of line 4 is quoted, as exports often do.
    const text = 'id,name,notes\n1,Ada,x\n2,"Oops,no,x\n3,Ben,"said ""hi"" Sam"\n4,Cy,z\n';
    const expected = 'f.csv:3:2: malformed CSV: the quote that opens field 2 here is first closed on line 4, where "s" follows it; a closing " is probably missing in this field (write a quote inside a quoted field as "")';
    for (let size = 1; size <= text.length; size++) {
      const problem = await read(text, {}, size).then(
        () => 'read without an error',
        (e: unknown) => (e instanceof ReadError ? formatProblem(e.problem) : String(e)),
      );
      expect(problem, `chunks of ${size} bytes`).toBe(expected);
    }
  });

  it('counts the lines inside quoted fields and after CR line ends', async () => {
    const lines = ['id,bio'];
    for (let i = 0; i < 600; i++) lines.push(`u${i},"two\r\nlines"`);
    const text = lines.join('\r\n') + '\r\nu600,"x"y\r\n';
    expect(await readError(text)).toMatch(/^f\.csv:1202:2: malformed CSV: "y" follows the closing quote of field 2 \(character 9 of the line\)/);
  });
});

describe('size limits keep a hostile file from stalling the reader', () => {
  const limits: ReadLimits = { maxFieldChars: 1024, maxRecordChars: 4096 };

  it('rejects a field over the limit as a row error naming line and column, and reads on', async () => {
    const { rows, rejected, problems } = await read(`id,bio\nu1,"${'b'.repeat(2000)}"\nu2,short\n`, {}, 512, limits);
    expect(problems).toEqual(['f.csv:2:2: bio is longer than 1 KB (SLUICE_MAX_FIELD_KB)']);
    expect(rejected[0]?.values).toEqual({ id: 'u1', bio: '' });
    expect(rows.map((r) => r.values)).toEqual([{ id: 'u2', bio: 'short' }]);
    const json = await read(`{"id":"u1","bio":"${'b'.repeat(2000)}"}\n{"id":"u2"}\n`, { format: 'ndjson' }, 512, limits);
    expect(json.problems).toEqual(['f.csv:1:1: bio is longer than 1 KB (SLUICE_MAX_FIELD_KB)']);
    expect(json.rejected[0]?.values.id).toBe('u1');
  });

  it('stops at a record that cannot be delimited within the limit, at the line it starts, without reading the rest', async () => {
    let served = 0;
    async function* endless(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('id,bio\nu1,ok\nu2,"never closed\n');
      for (;;) {
        served += 65536;
        yield Buffer.alloc(65536, 0x61);
      }
    }
    const reader = await openRecords(endless(), spec(), 'f.csv', { maxFieldChars: 64 * 1024, maxRecordChars: 1024 * 1024 });
    const error = await (async () => {
      try {
        for await (const _ of reader.rows);
      } catch (e) {
        return e as ReadError;
      }
    })();
    expect(formatProblem(error!.problem)).toBe(
      'f.csv:3:2: malformed CSV: the record that starts here is longer than 1024 KB (SLUICE_MAX_RECORD_KB); a quoted field opened at line 3 may never be closed (a " is missing)',
    );
    expect(served).toBeLessThan(2 * 1024 * 1024);
    expect(await readError('[{"id": "u1", "bio": "' + 'x'.repeat(5000) + '"}]', { format: 'json' }, limits)).toMatch(/^f\.csv:1: malformed JSON: the record that starts here is longer than 4 KB/);
  });

  it('reads a large field in time linear in its size', async () => {
    const big = 'x'.repeat(8 * 1024 * 1024);
    const started = performance.now();
    const { rows } = await read(`id,bio\nu1,"${big}"\nu2,"${big}"\n`, {}, 4096, { maxFieldChars: 16 * 1024 * 1024, maxRecordChars: 32 * 1024 * 1024 });
    expect(rows.map((r) => (r.values.bio as string).length)).toEqual([big.length, big.length]);
    // fast-csv took 25 s for one such field; parsing the unfinished record again with every 4 KB
    // chunk, as papaparse's own streamer does, 11 s; linear reading takes well under a second.
    expect(performance.now() - started).toBeLessThan(5000);
  });
});

describe('JSON numbers are read as written', () => {
  it('keeps the source text of numbers used as keys and values, in JSON and NDJSON', async () => {
    const record = '{"id": 12345678901234567891, "big": 1e400, "price": 1.50, "neg": -0.0, "tags": [1.0, 2], "nested": {"a": 1}, "s": "7"}';
    const expected = { id: '12345678901234567891', big: '1e400', price: '1.50', neg: '-0.0', tags: ['1.0', '2'], nested: '{"a":1}', s: '7' };
    expect((await read(`[${record}]`, { format: 'json' })).rows[0]?.values).toEqual(expected);
    expect((await read(record, { format: 'ndjson' })).rows[0]?.values).toEqual(expected);
    expect(await readError('[{"id": 01}]', { format: 'json' })).toMatch(/^f\.csv:1:\d+: malformed JSON/);
  });
});
