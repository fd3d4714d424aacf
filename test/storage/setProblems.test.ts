import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addFeed } from '../../src/feeds/feeds.service.js';
import { countRows } from '../../src/storage/database.js';
import { runErrors } from '../../src/runs/runs.service.js';
import { openTestEnv, testDatabases, type TestEnv } from '../helpers/databases.js';
import { importFolder, uploadSet, usersControl, usersCsv } from '../helpers/uploads.js';

const csv = usersCsv([['u1', 'a@example.org', 'Ada', 'Lovelace', 'staff']]);
const control = usersControl();
const withFile = (over: Record<string, unknown>) => ({ ...control, files: { 'users.csv': { type: 'users', ...over } } });

/**
 * Each upload set fails as a whole with this first error — PRODUCT §4, set level. A set without
 * a control file is `refused` before any run exists (there is nothing to describe the files).
 */
const cases: [string, Record<string, string | Buffer | object>, string, 'refused'?][] = [
  ['a control file that is not JSON', { 'control.json': '{\n  "version": 1,\n  files: {}\n}', 'users.csv': csv }, 'control.json:3:3: not valid JSON'],
  ['a control file failing the schema', { 'control.json': { ...control, mode: 'all' }, 'users.csv': csv }, /^control\.json:\d+:\d+: \/mode: must be one of "full", "delta"$/],
  ['a control file naming another feed', { 'control.json': { ...control, feed: 'sales' }, 'users.csv': csv }, /^control\.json:\d+:\d+: \/feed: names feed "sales" but arrived through feed "hr"/],
  ['a named file missing', { 'control.json': control }, 'users.csv: the control file names this file but it was not uploaded'],
  ['an extra file', { 'control.json': control, 'users.csv': csv, 'notes.txt': 'hello' }, 'notes.txt: this file is not named in the control file'],
  ['an empty file', { 'control.json': control, 'users.csv': '' }, 'users.csv: the file is empty'],
  ['a wrong checksum', { 'control.json': withFile({ sha256: createHash('sha256').update('other').digest('hex') }), 'users.csv': csv }, 'users.csv: SHA-256 is'],
  ['a wrong row count', { 'control.json': withFile({ rows: 2 }), 'users.csv': csv }, 'users.csv: has 1 records; the control file says 2'],
  ['an unmapped header where the file entry forbids one', { 'control.json': withFile({ unmappedColumns: 'error' }), 'users.csv': csv.replace('groups', 'groups,phone').replace('staff', 'staff,123') }, 'users.csv:1:6: column "phone" is not mapped'],
  ['a duplicate header', { 'control.json': control, 'users.csv': 'id,email,first,last,groups,email\n' }, 'users.csv:1:6: column "email" appears twice in the header (columns 2 and 6)'],
  ['a mapped column absent', { 'control.json': control, 'users.csv': 'id,email,first,groups\nu1,a@example.org,Ada,\n' }, 'users.csv:1: the control file maps column "last" but the header has no such column'],
  ['undecodable bytes', { 'control.json': control, 'users.csv': Buffer.concat([Buffer.from('id,email,first,last,groups\nu1,a@example.org,Ad'), Buffer.from([0xff]), Buffer.from(',L,\n')]) }, 'users.csv:2:20: bytes that are not valid utf-8'],
  ['an unclosed quote', { 'control.json': control, 'users.csv': csv + 'u2,b@example.org,"Ben,Jones,\n' }, 'users.csv:3:3: malformed CSV: a quoted field that starts in this record is never closed'],
  ['no control file', { 'users.csv': csv }, 'has no control.json', 'refused'],
];

describe.each(testDatabases)('set-level problems on $name', (database) => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await openTestEnv(database);
    await addFeed(env.ctx.database.knex, 'hr');
  });
  afterAll(async () => env?.close());

  it.each(cases)('%s fails the run, names where, and writes nothing', async (_name, files, expected, refused) => {
    const db = env.ctx.database.knex;
    const folder = await uploadSet(files);
    const runsBefore = await countRows(db('runs'));
    const outcome = await importFolder(env.ctx, 'hr', folder).then(
      (run) => ({ run }),
      (error: Error) => ({ error }),
    );
    if (refused) {
      // Only a set that cannot become a run is refused outright, and it leaves no run behind.
      expect('error' in outcome && outcome.error.message).toContain(expected);
      expect(await countRows(db('runs'))).toBe(runsBefore);
    } else {
      if ('error' in outcome) throw outcome.error;
      expect(outcome.run.state).toBe('failed');
      const errors = await runErrors(db, outcome.run.id);
      expect(errors.filter((e) => e.level === 'set').map((e) => e.text)).toEqual(expect.arrayContaining([typeof expected === 'string' ? expect.stringContaining(expected) : expect.stringMatching(expected)]));
    }
    for (const table of ['directory_users', 'directory_groups', 'directory_memberships', 'directory_changes', 'staging_users', 'staging_groups', 'staging_memberships']) {
      expect(await countRows(db(table)), `${table} after ${_name}`).toBe(0);
    }
  });
});
