import { describe, expect, it } from 'vitest';
import type { UsersSection } from '../../src/core/control/types.js';
import { formatProblem } from '../../src/core/problems.js';
import { mapUser } from '../../src/core/records/users.js';

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
