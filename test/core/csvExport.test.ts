import { describe, expect, it, vi } from 'vitest';
import { changeSetColumns, changeSetRows, spreadsheetCell } from '../../src/core/csvExport.js';
import { csvDownload, csvHead } from '../../src/runs/runExports.js';
import { fieldChanges } from '../../src/core/fieldChanges.js';
import { generatePassword, hashPassword, verifyPassword } from '../../src/admins/passwords.js';

describe('CSV downloads', () => {
  // Columns a, b, c… as many as the first row has.
  const download = async (rows: unknown[][]) => {
    let text = '';
    const columns = (rows[0] ?? [0, 0]).map((_, i) => String.fromCharCode(97 + i));
    for await (const chunk of csvDownload(columns, (async function* () { yield* rows; })())) text += chunk;
    return text;
  };

  it('neutralises cells a spreadsheet would run as formulas, and leaves numbers as numbers', () => {
    expect(['=1+1', '+31 20', '-x', '@SUM(A1)', '\tcmd', '\rcmd', '=HYPERLINK("x")'].map(spreadsheetCell)).toEqual(["'=1+1", "'+31 20", "'-x", "'@SUM(A1)", "'\tcmd", "'\rcmd", `'=HYPERLINK("x")`]);
    expect([null, undefined, 42, -3, true, { a: 1 }, ['x'], ' padded '].map(spreadsheetCell)).toEqual(['', '', '42', '-3', 'true', '{"a":1}', '["x"]', ' padded ']);
  });

  it('writes the header, CRLF after every line and quotes only what needs quoting', async () => {
    expect(await download([])).toBe('a,b\r\n');
    expect(await download([['plain', 'a,b', 'say "hi"', 'two\nlines', null, 42, -3, true]])).toBe('a,b,c,d,e,f,g,h\r\nplain,"a,b","say ""hi""","two\nlines",,42,-3,true\r\n');
    expect(await download([['=1+1', '+31 20', '-x', '@SUM(A1)', '\tcmd', '=HYPERLINK("x")'], [{ a: 1 }, ' padded ', null, null, null, null]])).toBe(
      `a,b,c,d,e,f\r\n'=1+1,'+31 20,'-x,'@SUM(A1),'\tcmd,"'=HYPERLINK(""x"")"\r\n"{""a"":1}", padded ,,,,\r\n`,
    );
  });

  it('fails the download when reading the rows fails', async () => {
    const failing = csvDownload(['a'], (async function* () { yield ['one']; throw new Error('database gone'); })());
    await expect(async () => { for await (const _ of failing) void _; }).rejects.toThrow('database gone');
  });

  it('takes the start of a download for an e-mail: whole lines within the limit, and says it cut', async () => {
    let read = 0;
    let stopped = false;
    const rows = (async function* () {
      try {
        for (; read < 100_000; read++) yield [`row ${read}`];
      } finally {
        stopped = true;
      }
    })();
    const head = await csvHead(csvDownload(['a'], rows), 100);
    await vi.waitFor(() => expect(stopped).toBe(true));
    // Read ahead: one 64 KB piece of the download (about 9 000 of these rows) and the streams' buffers.
    expect(read).toBeLessThan(20_000);
    // 3 + 10 × 7 + 3 × 8 = 97 bytes; a 14th line would pass 100.
    expect(head).toEqual({ cut: true, text: 'a\r\n' + Array.from({ length: 13 }, (_, i) => `row ${i}\r\n`).join('') });
    expect(await csvHead(csvDownload(['a'], (async function* () { yield ['x']; })()), 100)).toEqual({ cut: false, text: 'a\r\nx\r\n' });
  });

  it('has one change-set row per changed field, or one for a change without fields', () => {
    const person = { name: 'Ada Okafor', email: 'ada@example.org' };
    expect(changeSetColumns).toEqual(['entity', 'operation', 'key', 'name', 'email', 'group', 'field', 'before', 'after']);
    expect(changeSetRows({ entity: 'user', op: 'update', key: 'u1', groupCode: null, person, fields: [{ field: 'a', before: 1, after: 2 }, { field: 'b', before: null, after: 'x' }] })).toEqual([
      ['user', 'update', 'u1', 'Ada Okafor', 'ada@example.org', null, 'a', 1, 2],
      ['user', 'update', 'u1', 'Ada Okafor', 'ada@example.org', null, 'b', null, 'x'],
    ]);
    expect(changeSetRows({ entity: 'membership', op: 'add', key: 'u1', groupCode: 'g1', person: { name: '', email: null }, fields: [] })).toEqual([['membership', 'add', 'u1', null, null, 'g1', null, null, null]]);
  });
});

describe('field changes', () => {
  it('lists the fields whose values differ, treating absent as null', () => {
    expect(fieldChanges('{"firstName":"Lou","email":"a@x","state":"active"}', '{"firstName":"Louise","email":"a@x","state":"active"}')).toEqual([
      { field: 'firstName', before: 'Lou', after: 'Louise' },
    ]);
    expect(fieldChanges(null, '{"username":"u1","title":null}')).toEqual([{ field: 'username', before: null, after: 'u1' }]);
    expect(fieldChanges('{"custom.tags":["a"]}', '{"custom.tags":["a","b"]}')).toEqual([{ field: 'custom.tags', before: ['a'], after: ['a', 'b'] }]);
  });
});

describe('admin passwords', () => {
  it('verifies only the right password against its scrypt hash, and generates strong ones', async () => {
    const stored = await hashPassword('correct horse battery staple');
    expect(stored).toMatch(/^scrypt\$16384\$8\$1\$[\w-]+\$[\w-]+$/);
    expect(await verifyPassword('correct horse battery staple', stored)).toBe(true);
    expect(await verifyPassword('correct horse battery stapler', stored)).toBe(false);
    expect(await verifyPassword('anything', 'not a hash')).toBe(false);
    expect(await hashPassword('same')).not.toBe(await hashPassword('same'));
    expect(generatePassword()).toMatch(/^[a-km-zA-HJ-NP-Z2-9]{20}$/);
  });
});
