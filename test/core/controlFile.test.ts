import { describe, expect, it } from 'vitest';
import { mappingFingerprint, parseControlFile } from '../../src/core/control/controlFile.js';
import { formatProblem } from '../../src/core/problems.js';
import { checkHeader, checkKeysSeen, unusedColumns } from '../../src/core/records/header.js';

const valid = {
  version: 1,
  feed: 'hr',
  files: { 'people.csv': { type: 'users' }, 'm.json': { type: 'memberships' } },
  users: { key: 'username', fields: { username: 'ID', email: 'EMAIL', firstName: 'FIRST', lastName: 'LAST', groups: { column: 'G', split: ';' } } },
  memberships: { fields: { user: 'ID', group: 'GROUP' } },
};
const messages = (text: string, feed = 'hr') => parseControlFile(text, { feed }).problems.map(formatProblem);

describe('control file', () => {
  it('accepts a valid file and fills in the defaults', () => {
    const { control, problems } = parseControlFile(JSON.stringify(valid), { feed: 'hr' });
    expect(problems).toEqual([]);
    expect(control?.mode).toBe('full');
    expect(control?.files['people.csv']).toMatchObject({ format: 'csv', delimiter: ',', encoding: 'utf-8' });
    expect(control?.files['m.json']).toMatchObject({ format: 'json' });
    expect(control?.users?.fields.email).toEqual({ column: 'EMAIL' });
  });

  it('names the line and column of a JSON syntax error', () => {
    expect(messages('{\n  "version": 1,\n  "files": {,}\n}')).toEqual([expect.stringMatching(/^control\.json:3:13: not valid JSON/)]);
    expect(messages('\uFEFF{"version": 1')).toEqual([expect.stringMatching(/^control\.json:1:\d+: not valid JSON/)]);
  });

  it('reports every schema violation with its JSON pointer and what to do', () => {
    const bad = {
      version: 2,
      mode: 'sometimes',
      files: { '../etc/passwd': { type: 'users' }, 'a.csv': { type: 'people', encoding: 'ebcdic', sha256: 'abc' } },
      users: { key: 'username', fields: { username: 'ID', email: 'E', firstName: 'F', nickname: 'N', country: { transform: ['shout'] } } },
      extra: true,
    };
    expect(messages(JSON.stringify(bad))).toEqual(
      expect.arrayContaining([
        'control.json:1:268: /: unknown property "extra" (known: version, feed, mode, files, users, groups, memberships)',
        'control.json:1:2: /version: must be 1',
        'control.json:1:14: /mode: must be one of "full", "delta"',
        'control.json:1:42: /files: "../etc/passwd" is not a plain file name (no paths, no "..")',
        'control.json:1:84: /files/a.csv/type: must be one of "users", "groups", "memberships"',
        'control.json:1:100: /files/a.csv/encoding: must be one of "utf-8", "utf-16le", "windows-1252", "latin1"',
        'control.json:1:120: /files/a.csv/sha256: must be 64 hexadecimal digits (the SHA-256 of the file)',
        'control.json:1:163: /users/fields: missing required property "lastName"',
        expect.stringMatching(/^control\.json:1:217: \/users\/fields: "nickname" is not a target field/),
        'control.json:1:232: /users/fields/country: a mapping object needs a "column" or a "default"',
        'control.json:1:243: /users/fields/country/transform/0: must be one of "trim", "lower", "upper", "collapse-spaces"',
      ]),
    );
  });

  it('refuses a control file that names another feed', () => {
    expect(messages(JSON.stringify(valid), 'sales')).toEqual([
      'control.json:1:14: /feed: names feed "hr" but arrived through feed "sales"; drop it in the inbox of "hr" or correct "feed"',
    ]);
  });

  it('checks what the schema cannot: sections for each file type, the key mapped, split fields', () => {
    const noSection = { ...valid, memberships: undefined };
    expect(messages(JSON.stringify(noSection))).toEqual([
      'control.json /: files of type "memberships" are listed, so a "memberships" section is required to map their columns',
    ]);
    const noKey = { ...valid, users: { ...valid.users, fields: { email: 'E', firstName: 'F', lastName: 'L', country: { column: 'C', split: ',' } } } };
    expect(messages(JSON.stringify(noKey))).toEqual([
      'control.json:1:124: /users/fields: the key field "username" must be mapped',
      'control.json:1:201: /users/fields/country/split: only "groups" and custom.<name> fields can be split into several values',
    ]);
  });

  it('fingerprints the mapping, not the file list', () => {
    const a = parseControlFile(JSON.stringify(valid)).control!;
    const b = parseControlFile(JSON.stringify({ ...valid, files: { ...valid.files, 'more.csv': { type: 'users', rows: 3 } } })).control!;
    const c = parseControlFile(JSON.stringify({ ...valid, users: { ...valid.users, fields: { ...valid.users.fields, lastName: 'SURNAME' } } })).control!;
    expect(mappingFingerprint(a)).toBe(mappingFingerprint(b));
    expect(mappingFingerprint(a)).not.toBe(mappingFingerprint(c));
  });
});

describe('reading a control file leniently to know when a set is complete', () => {
  it('awaits only plain file names', async () => {
    const { namedFiles } = await import('../../src/core/uploadSet.js');
    expect(namedFiles('{"files": {"a.csv": {}, "../etc/passwd": {}, "b/c.csv": {}}}')).toEqual(['a.csv']);
    expect(namedFiles('not json')).toBeNull();
  });
});

describe('names in the control file', () => {
  it('refuses a file named twice in "files", naming the file and the line of the second entry', () => {
    const text = [
      '{',
      '  "version": 1,',
      '  "files": {',
      '    "people.csv": { "type": "users" },',
      '    "m.json": { "type": "memberships" },',
      '    "people.csv": { "type": "users", "rows": 3 }',
      '  },',
      `  "users": ${JSON.stringify(valid.users)},`,
      `  "memberships": ${JSON.stringify(valid.memberships)}`,
      '}',
    ].join('\n');
    const { control, problems } = parseControlFile(text, { feed: 'hr' });
    expect(control).toBeUndefined();
    expect(problems).toMatchObject([{ code: 'control_duplicate_key', line: 6, column: 5, pointer: '/files/people.csv' }]);
    expect(problems.map(formatProblem)).toEqual([
      'control.json:6:5: /files/people.csv: the file "people.csv" is named twice in "files" (first on line 4); JSON keeps only the last, so say it once',
    ]);
    // Any object: a field mapped twice is as ambiguous.
    const twice = '{"version": 1, "files": {"a.csv": {"type": "users"}}, "users": {"key": "username", "fields": {"username": "A", "username": "B"}}}';
    expect(messages(twice)).toEqual([expect.stringMatching(/^control\.json:1:\d+: \/users\/fields\/username: "username" appears twice in "\/users\/fields"/)]);
  });

  it('handles files named __proto__, constructor or toString like any other', () => {
    const odd = {
      ...valid,
      files: { __proto__: { type: 'users' }, constructor: { type: 'users' }, toString: { type: 'memberships' } },
    };
    // JSON.stringify drops an own "__proto__" set by a literal; write it into the text instead.
    const text = JSON.stringify(odd).replace('"files":{', '"files":{"__proto__":{"type":"users"},');
    const { control, problems } = parseControlFile(text, { feed: 'hr' });
    expect(problems).toEqual([]);
    expect(Object.keys(control!.files).sort()).toEqual(['__proto__', 'constructor', 'toString']);
    expect(control!.files['toString']).toMatchObject({ type: 'memberships', format: 'csv' });
    expect(Object.hasOwn(control!.files, 'hasOwnProperty')).toBe(false);
  });

  it('accepts "unmappedColumns" on a file entry and nothing but allow or error', () => {
    const strict = { ...valid, files: { ...valid.files, 'people.csv': { type: 'users', unmappedColumns: 'error' } } };
    expect(parseControlFile(JSON.stringify(strict), { feed: 'hr' }).control?.files['people.csv']?.unmappedColumns).toBe('error');
    expect(parseControlFile(JSON.stringify(valid), { feed: 'hr' }).control?.files['people.csv']?.unmappedColumns).toBe('allow');
    const wrong = { ...valid, files: { ...valid.files, 'people.csv': { type: 'users', unmappedColumns: 'warn' } } };
    expect(messages(JSON.stringify(wrong))).toEqual(['control.json:1:64: /files/people.csv/unmappedColumns: must be one of "allow", "error"']);
  });
});

describe('header of a real export', () => {
  const canvas = ['user_id', 'integration_id', 'login_id', 'password', 'first_name', 'last_name', 'full_name', 'sortable_name', 'short_name', 'email', 'status', 'pronouns'];
  const mapped = ['user_id', 'first_name', 'last_name', 'email', 'status'];

  it('allows columns the mapping does not use and lists them once', () => {
    expect(checkHeader(canvas, mapped, { ignoreColumns: [] }, 'users.csv')).toEqual([]);
    expect(unusedColumns(canvas, mapped)).toEqual(['integration_id', 'login_id', 'password', 'full_name', 'sortable_name', 'short_name', 'pronouns']);
  });

  it('says which delimiter an Excel export in a semicolon locale seems to use', () => {
    const problems = checkHeader(['user_id;first_name;last_name;email;status'], mapped, { ignoreColumns: [] }, 'users.csv');
    // One problem for the one cause, naming every mapped column it hides.
    expect(problems.map(formatProblem)).toEqual([
      'users.csv:1: the control file maps columns "user_id", "first_name", "last_name", "email", "status" but the header has none of them; the header seems to be split by ";": set "delimiter": ";" for this file in the control file',
    ]);
    expect(checkHeader(['user_id', 'first_name'], mapped, { ignoreColumns: [] }, 'users.csv')[0]!.message).not.toMatch(/delimiter/);
  });

  it('fails the set on an unmapped column when the file entry says "unmappedColumns": "error"', () => {
    const problems = checkHeader(canvas, mapped, { ignoreColumns: ['integration_id', 'login_id', 'password', 'full_name', 'sortable_name', 'short_name'], unmappedColumns: 'error' }, 'users.csv');
    expect(problems.map(formatProblem)).toEqual([
      'users.csv:1:12: column "pronouns" is not mapped and this file says "unmappedColumns": "error"; map it or list it in "ignoreColumns"',
    ]);
    expect(checkKeysSeen(new Set(['user_id', 'first_name', 'last_name', 'email', 'status', 'extra']), mapped, 'users.json', { ignoreColumns: [], unmappedColumns: 'error' })).toMatchObject([
      { code: 'header_unknown', file: 'users.json', message: expect.stringMatching(/"extra" is not mapped/) },
    ]);
  });
});
