import { describe, expect, it } from 'vitest';
import type { UsersSection } from '../../src/core/control/types.js';
import { formatProblem } from '../../src/core/problems.js';
import { columnValue, DelimitedRow, Header } from '../../src/core/readers/types.js';
import { sourcePolicy } from '../../src/core/records/sourceRecord.js';
import { mapUser, recordKey, rowFingerprint } from '../../src/core/records/users.js';

const section: UsersSection = {
  key: 'email',
  fields: {
    email: { column: 'MAIL' },
    firstName: { column: 'FIRST', transform: ['collapse-spaces'] },
    lastName: { column: 'LAST' },
    jobTitle: { column: 'ROLE', map: { RES: 'Researcher' }, default: 'Staff' },
    country: { column: 'C', transform: ['upper'] },
    badgeUrl: { column: 'BADGE' },
    groups: { column: 'G', split: ';' },
    'custom.tags': { column: 'TAGS', split: ',' },
  },
  delete: { column: 'STATUS', values: ['gone'] },
  groupRules: [{ if: { column: 'ROLE', in: ['RES'] }, add: 'researchers' }, { if: { column: 'C', notIn: ['nl'] }, add: 'abroad' }],
};
const columns = ['MAIL', 'FIRST', 'LAST', 'ROLE', 'C', 'BADGE', 'G', 'TAGS', 'STATUS'];
const columnOf = (c?: string) => (c === undefined ? undefined : columns.indexOf(c) + 1);
const row = (values: Record<string, string>, line = 2) => ({ line, values: { MAIL: 'Ada@Example.ORG', FIRST: ' Ada   Maria ', LAST: 'Lovelace', ROLE: 'RES', C: 'nl', BADGE: '', G: 'a; b;;', TAGS: 'x,y', STATUS: '', ...values } });

describe('mapping a user', () => {
  it('applies transforms, value maps, defaults, splits and group rules', () => {
    const { record, problems } = mapUser(section, row({}), 'p.csv', columnOf);
    expect(problems).toEqual([]);
    expect(record).toMatchObject({
      key: 'ada@example.org',
      deleteFlag: false,
      profile: { email: 'Ada@Example.ORG', first_name: 'Ada Maria', last_name: 'Lovelace', job_title: 'Researcher', country: 'NL', badge_url: null },
      custom: { tags: ['x', 'y'] },
      groups: ['a', 'b', 'researchers'],
    });
    expect(mapUser(section, row({ ROLE: '', C: 'de' }), 'p.csv', columnOf).record).toMatchObject({ profile: { job_title: 'Staff' }, groups: ['a', 'b', 'abroad'] });
  });

  it('gives equal records equal hashes and different records different ones', () => {
    const a = mapUser(section, row({}), 'p.csv', columnOf).record!;
    const b = mapUser(section, row({ FIRST: 'Ada Maria' }, 9), 'p.csv', columnOf).record!;
    const c = mapUser(section, row({ LAST: 'Byron' }), 'p.csv', columnOf).record!;
    expect(a.hash).toBe(b.hash);
    expect(a.hash).not.toBe(c.hash);
  });

  it('rejects the row-level problems of PRODUCT §4 with file, line and column', () => {
    const bad = mapUser(section, row({ MAIL: 'not mail', LAST: '', BADGE: 'https://x.org/badge.gif', FIRST: 'x'.repeat(300) }, 7), 'p.csv', columnOf);
    expect(bad.record).toBeNull();
    expect(bad.problems.map(formatProblem)).toEqual([
      'p.csv:7:2: firstName is 300 characters long; at most 255 are allowed',
      'p.csv:7:3: lastName is required but empty',
      'p.csv:7:1: "not mail" is not a valid email address',
      'p.csv:7:6: badgeUrl "https://x.org/badge.gif" must point to a JPG, PNG or PDF file',
    ]);
    expect(mapUser(section, row({ BADGE: 'ftp://x.org/b.png' }), 'p.csv', columnOf).problems.map(formatProblem)).toEqual([
      'p.csv:2:6: badgeUrl "ftp://x.org/b.png" is not an http(s) URL',
    ]);
  });

  it('needs only the key on a row with the delete flag', () => {
    const { record } = mapUser(section, row({ STATUS: 'gone', FIRST: '', LAST: '' }), 'p.csv', columnOf);
    expect(record).toMatchObject({ key: 'ada@example.org', deleteFlag: true });
  });
});

describe('values arrive whole or are row errors', () => {
  const long: UsersSection = {
    key: 'username',
    fields: { username: { column: 'ID' }, email: { column: 'MAIL' }, firstName: { column: 'F' }, lastName: { column: 'L' }, country: { column: 'C' }, biography: { column: 'BIO' } },
    groupRules: [],
  };
  const cols = ['ID', 'MAIL', 'F', 'L', 'C', 'BIO', 'X'];
  const at = (c?: string) => (c === undefined ? undefined : cols.indexOf(c) + 1);
  const person = (values: Record<string, string> = {}) => ({ line: 7, values: { ID: 'u1', MAIL: 'a@example.org', F: 'A', L: 'B', C: '', BIO: '', ...values } });

  it('counts characters as the database does: 255 emoji fit a 255-character column, 256 do not', () => {
    expect(mapUser(long, person({ C: '🌍'.repeat(255) }), 'p.csv', at).problems).toEqual([]);
    expect(mapUser(long, person({ C: '🌍'.repeat(256) }), 'p.csv', at).problems.map(formatProblem)).toEqual([
      'p.csv:7:5: country is 256 characters long; at most 255 are allowed',
    ]);
    expect(mapUser(long, person({ BIO: 'é'.repeat(65_535) }), 'p.csv', at).problems).toEqual([]);
    expect(mapUser(long, person({ BIO: 'é'.repeat(65_536) }), 'p.csv', at).problems).toMatchObject([{ code: 'value_too_long', line: 7, column: 6 }]);
  });

  it('rejects half of a surrogate pair (a JSON escape) instead of storing U+FFFD', () => {
    expect(mapUser(long, person({ C: 'N\ud800Z' }), 'p.json', at).problems).toMatchObject([{ code: 'value_invalid', line: 7, column: 5 }]);
    const withCustom = { ...long, fields: { ...long.fields, 'custom.note': { column: 'X' } } };
    expect(mapUser(withCustom, person({ X: '\udc00' }), 'p.json', at).problems).toMatchObject([{ code: 'value_invalid', line: 7, column: 7 }]);
  });

  it('rejects custom fields that together are more than 1 MiB of JSON, at the longest one', () => {
    const wide: UsersSection = { ...long, fields: { ...long.fields, ...Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`custom.c${i}`, { column: `C${i}` }])) } };
    const values = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`C${i}`, '€'.repeat(i === 42 ? 4096 : 3600)]));
    const columnOfWide = (c?: string) => (c?.startsWith('C') && c.length > 1 ? 10 + Number(c.slice(1)) : undefined);
    expect(mapUser(wide, person(values), 'p.csv', columnOfWide).problems).toMatchObject([{ code: 'value_too_long', line: 7, column: 52 }]);
    const fewer = Object.fromEntries(Object.entries(values).slice(0, 90));
    expect(mapUser(wide, person(fewer), 'p.csv', columnOfWide).problems).toEqual([]);
  });
});

describe('keys', () => {
  const byEmail: UsersSection = { key: 'email', fields: { email: { column: 'MAIL' }, firstName: { column: 'F' }, lastName: { column: 'L' } }, groupRules: [] };
  const byName: UsersSection = { ...byEmail, key: 'username', fields: { ...byEmail.fields, username: { column: 'ID' } } };
  const cols = ['ID', 'MAIL', 'F', 'L'];
  const at = (c?: string) => (c === undefined ? undefined : cols.indexOf(c) + 1);
  const person = (values: Record<string, string>) => ({ line: 3, values: { ID: 'u1', F: 'A', L: 'B', ...values } });

  it('makes composed, decomposed and fullwidth spellings of one address one key', () => {
    const spellings = ['Zoë@Example.org', 'Zoe\u0308@example.org', 'Ｚｏë＠ｅｘａｍｐｌｅ．ｏｒｇ'];
    const keys = spellings.map((MAIL) => mapUser(byEmail, person({ MAIL }), 'p.csv', at).record?.key);
    expect(keys).toEqual(['zoë@example.org', 'zoë@example.org', 'zoë@example.org']);
    expect(spellings.map((MAIL) => recordKey(byEmail, person({ MAIL })))).toEqual(keys);
  });

  it('rejects a BOM or NUL inside a key or an email instead of making a new user', () => {
    expect(mapUser(byEmail, person({ MAIL: 'zoe\uFEFF@example.org' }), 'p.csv', at).problems).toMatchObject([{ code: 'key_invalid', line: 3, column: 2 }]);
    expect(mapUser(byName, person({ ID: 'u\u00001', MAIL: 'z@example.org' }), 'p.csv', at).problems.map(formatProblem)).toEqual([
      'p.csv:3:1: username contains the invisible character U+0000; it would name a different user',
    ]);
    expect(mapUser(byName, person({ MAIL: 'z\u0000@example.org' }), 'p.csv', at).problems).toMatchObject([{ code: 'email_invalid', column: 2 }]);
  });
});

describe('names and the raw record', () => {
  const section: UsersSection = {
    key: 'username',
    fields: { username: { column: 'constructor' }, email: { column: 'toString' }, firstName: { column: 'F' }, lastName: { column: 'L' }, title: { column: 'hasOwnProperty' } },
    groupRules: [{ if: { column: 'valueOf', in: ['x'] }, add: 'g' }],
  };
  const at = () => 1;

  it('treats constructor, toString and friends as plain column names, present or not', () => {
    const full = mapUser(section, { line: 2, values: { constructor: 'u1', toString: 'a@example.org', F: 'A', L: 'B', hasOwnProperty: 'Dr', valueOf: 'x' } }, 'p.json', at);
    expect(full.record).toMatchObject({ key: 'u1', profile: { email: 'a@example.org', title: 'Dr' }, groups: ['g'] });
    // A JSON record without those keys: the field is empty, not Object.prototype.toString.
    const named = { ...section, fields: { ...section.fields, 'custom.__proto__': { column: 'F' }, 'custom.constructor': { column: 'L' } } };
    const custom = mapUser(named, { line: 2, values: { constructor: 'u1', toString: 'a@example.org', F: 'A', L: 'B' } }, 'p.json', at).record?.custom;
    expect(JSON.stringify(custom)).toBe('{"__proto__":"A","constructor":"B"}');
    const sparse = mapUser(section, { line: 3, values: { constructor: 'u2', F: 'A', L: 'B' } }, 'p.json', at);
    expect(sparse.problems).toMatchObject([{ code: 'required_missing', message: 'email is required but empty' }]);
  });

  it('keeps secret and ignored columns out of the stored record, and out of the fingerprint unless mapped', () => {
    const canvas: UsersSection = {
      key: 'username',
      fields: { username: { column: 'user_id' }, email: { column: 'email' }, firstName: { column: 'first_name' }, lastName: { column: 'last_name' }, 'custom.sso': { column: 'sso_token' } },
      groupRules: [],
    };
    const values = { user_id: 'u1', email: 'a@example.org', first_name: 'A', last_name: 'B', password: 'hunter2', Client_Secret: 's', sso_token: 't', SSN: '1', integration_id: 'i1', notes: 'n' };
    const policy = sourcePolicy(canvas, ['notes']);
    const { record } = mapUser(canvas, { line: 2, values }, 'users.csv', () => 1, policy);
    expect(record?.source).toEqual({ user_id: 'u1', email: 'a@example.org', first_name: 'A', last_name: 'B', integration_id: 'i1' });
    expect(record?.custom).toEqual({ sso: 't' });

    const fp = (v: Record<string, string>) => rowFingerprint('m', { line: 2, values: v }, policy);
    expect(fp({ ...values, password: 'changed', notes: 'changed' })).toBe(fp(values));
    expect(fp({ ...values, sso_token: 'changed' })).not.toBe(fp(values));
    expect(fp({ ...values, integration_id: 'changed' })).not.toBe(fp(values));
    // A record without such columns keeps the fingerprint it always had.
    const plain = { user_id: 'u1', email: 'a@example.org', first_name: 'A', last_name: 'B' };
    expect(fp(plain)).toBe(rowFingerprint('m', { line: 2, values: plain }));
  });

  it('fingerprints a delimited record from its fields by position, as its values would be', () => {
    const canvas: UsersSection = {
      key: 'username',
      fields: { username: { column: 'user_id' }, email: { column: 'email' }, firstName: { column: 'first_name' }, lastName: { column: 'last_name' }, 'custom.sso': { column: 'sso_token' } },
      groupRules: [],
    };
    const policy = sourcePolicy(canvas, ['notes']);
    const header = new Header(['user_id', 'email', 'first_name', 'last_name', 'password', 'sso_token', 'integration_id', 'notes']);
    const base = ['u1', 'a@example.org', 'A', 'B', 'hunter2', 't', 'i1', 'n'];
    const fp = (fields: string[], under = header) => rowFingerprint('m', new DelimitedRow(2, fields, under), policy);
    const changed = (at: number) => base.map((v, i) => (i === at ? `${v}-changed` : v));
    // Neither mapped nor stored: the password (a secret) and an ignored column.
    expect(fp(changed(4))).toBe(fp(base));
    expect(fp(changed(7))).toBe(fp(base));
    // Mapped (a secret, yet mapped), stored, or the key: each changes the fingerprint.
    for (const at of [0, 1, 5, 6]) expect(fp(changed(at)), header.columns[at]).not.toBe(fp(base));
    // The same values under a renamed column are another record.
    expect(fp(base, new Header(header.columns.map((c) => (c === 'integration_id' ? 'sis_id' : c))))).not.toBe(fp(base));
    // The mapping is part of it, as for every record.
    expect(rowFingerprint('other', new DelimitedRow(2, base, header), policy)).not.toBe(fp(base));
    // Keys and values are read by position, the last of a repeated column winning as in `values`.
    const repeated = new DelimitedRow(3, ['u2', 'first', 'second'], new Header(['user_id', 'x', 'x']));
    expect(repeated.values).toEqual({ user_id: 'u2', x: 'second' });
    expect(columnValue(repeated, 'x')).toBe('second');
    expect(columnValue(repeated, 'constructor')).toBeUndefined();
    expect(recordKey(canvas, repeated)).toBe('u2');
  });

  it('says which ignored columns of a users file are still kept in the source record', async () => {
    const { ignoredColumnsMessage } = await import('../../src/core/records/header.js');
    const { notStoredBecause } = await import('../../src/core/records/sourceRecord.js');
    const why = notStoredBecause(['notes']);
    expect(ignoredColumnsMessage('u.csv', ['office', 'notes', 'api_token'], why)).toBe(
      'u.csv: ignored columns: office, notes, api_token — kept in the source record for user lookup, except notes (in ignoreColumns), api_token (its name marks a secret)',
    );
    expect(ignoredColumnsMessage('u.csv', ['office'], why)).toBe('u.csv: ignored columns: office — kept in the source record for user lookup');
    expect(ignoredColumnsMessage('u.csv', ['notes', 'SSN'], why)).toBe('u.csv: ignored columns: notes, SSN — none kept in the source record: notes (in ignoreColumns), SSN (its name marks a secret)');
    // Groups and memberships files keep no raw record: their unused columns are only listed.
    expect(ignoredColumnsMessage('g.csv', ['colour'])).toBe('g.csv: ignored columns: colour');
  });

  it('takes ssn as a word for a secret, not as letters inside another word', async () => {
    const { isSecretColumn } = await import('../../src/core/records/sourceRecord.js');
    for (const name of ['SSN', 'ssn', 'employee_ssn', 'userSSN', 'SSN_last4', 'password', 'PasswordHash', 'api_token', 'Client_Secret']) expect(isSecretColumn(name), name).toBe(true);
    for (const name of ['classname', 'className', 'lessons', 'integration_id', 'Crossness']) expect(isSecretColumn(name), name).toBe(false);
  });

  it('uses the default for a value missing from the map, and passes it through without one', () => {
    const mapped: UsersSection = {
      key: 'username',
      fields: { username: { column: 'ID' }, email: { column: 'M' }, firstName: { column: 'F' }, lastName: { column: 'L' }, jobTitle: { column: 'R', map: { RES: 'Researcher' }, default: 'Staff' }, company: { column: 'R', map: { RES: 'Lab' } } },
      groupRules: [],
    };
    const map = (R: string) => mapUser(mapped, { line: 2, values: { ID: 'u', M: 'a@example.org', F: 'A', L: 'B', R } }, 'p.csv', () => 1).record?.profile;
    expect(map('RES')).toMatchObject({ job_title: 'Researcher', company: 'Lab' });
    expect(map('VISITOR')).toMatchObject({ job_title: 'Staff', company: 'VISITOR' });
    expect(map('')).toMatchObject({ job_title: 'Staff', company: null });
  });
});

describe('row errors stay storable', () => {
  it('quotes at most 100 characters of a value in a message', () => {
    const section: UsersSection = { key: 'username', fields: { username: { column: 'ID' }, email: { column: 'M' }, firstName: { column: 'F' }, lastName: { column: 'L' } }, groupRules: [] };
    const { problems } = mapUser(section, { line: 2, values: { ID: 'u', M: 'x'.repeat(70_000), F: 'A', L: 'B' } }, 'p.csv', () => 2);
    expect(problems.map((p) => p.code)).toEqual(['value_too_long', 'email_invalid']);
    expect(Math.max(...problems.map((p) => p.message.length))).toBeLessThan(150);
  });
});
