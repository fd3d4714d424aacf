import { describe, expect, it } from 'vitest';
import { csvLine } from '../../src/core/csvExport.js';
import { fieldChanges } from '../../src/core/fieldChanges.js';
import { generatePassword, hashPassword, verifyPassword } from '../../src/admins/passwords.js';

describe('CSV downloads', () => {
  it('quotes what needs quoting and neutralises cells a spreadsheet would run as formulas', () => {
    expect(csvLine(['plain', 'a,b', 'say "hi"', 'two\nlines', null, 42, -3, true])).toBe('plain,"a,b","say ""hi""","two\nlines",,42,-3,true\r\n');
    expect(csvLine(['=1+1', '+31 20', '-x', '@SUM(A1)', '\tcmd', '=HYPERLINK("x")'])).toBe(`'=1+1,'+31 20,'-x,'@SUM(A1),'\tcmd,"'=HYPERLINK(""x"")"\r\n`);
    expect(csvLine([{ a: 1 }, ' padded '])).toBe('"{""a"":1}"," padded "\r\n');
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
