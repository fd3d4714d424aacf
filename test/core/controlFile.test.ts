import { describe, expect, it } from 'vitest';
import { mappingFingerprint, parseControlFile } from '../../src/core/control/controlFile.js';
import { formatProblem } from '../../src/core/problems.js';

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
        'control.json /: unknown property "extra" (known: version, feed, mode, files, users, groups, memberships)',
        'control.json /version: must be 1',
        'control.json /mode: must be one of "full", "delta"',
        'control.json /files: "../etc/passwd" is not a plain file name (no paths, no "..")',
        'control.json /files/a.csv/type: must be one of "users", "groups", "memberships"',
        'control.json /files/a.csv/encoding: must be one of "utf-8", "utf-16le", "windows-1252", "latin1"',
        'control.json /files/a.csv/sha256: must be 64 hexadecimal digits (the SHA-256 of the file)',
        'control.json /users/fields: missing required property "lastName"',
        expect.stringMatching(/^control\.json \/users\/fields: "nickname" is not a target field/),
        'control.json /users/fields/country: a mapping object needs a "column" or a "default"',
        'control.json /users/fields/country/transform/0: must be one of "trim", "lower", "upper", "collapse-spaces"',
      ]),
    );
  });

  it('refuses a control file that names another feed', () => {
    expect(messages(JSON.stringify(valid), 'sales')).toEqual([
      'control.json /feed: names feed "hr" but arrived through feed "sales"; drop it in the inbox of "hr" or correct "feed"',
    ]);
  });

  it('checks what the schema cannot: sections for each file type, the key mapped, split fields', () => {
    const noSection = { ...valid, memberships: undefined };
    expect(messages(JSON.stringify(noSection))).toEqual([
      'control.json /: files of type "memberships" are listed, so a "memberships" section is required to map their columns',
    ]);
    const noKey = { ...valid, users: { ...valid.users, fields: { email: 'E', firstName: 'F', lastName: 'L', country: { column: 'C', split: ',' } } } };
    expect(messages(JSON.stringify(noKey))).toEqual([
      'control.json /users/fields: the key field "username" must be mapped',
      'control.json /users/fields/country/split: only "groups" and custom.<name> fields can be split into several values',
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
