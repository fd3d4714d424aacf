import { describe, expect, it } from 'vitest';
import { parseControlFile } from '../../src/core/control/controlFile.js';
import { fileNameProblem, MAX_SET_FILES } from '../../src/core/fileNames.js';
import { formatProblem } from '../../src/core/problems.js';

const refused = ['', '.', '..', 'a/b.csv', 'a\\b.csv', 'a\u0000.csv', 'a\r\nb.csv', 'a\nb.csv', 'people\u202Evsc.exe', 'x\u2066.csv', 'a'.repeat(201), 'é'.repeat(101), ' people.csv', 'people.csv ', '.hidden.csv', '~lock.csv', 'people.csv.part', 'people.filepart', 'a.TMP', 'bad\uD800.csv'];
const accepted = ['people.csv', 'Mitarbeiter Übersicht 2026.csv', 'a'.repeat(200), 'é'.repeat(100), 'groups (1).tsv', 'données.ndjson'];

describe('file names of an upload set', () => {
  it.each(refused.map((n) => [JSON.stringify(n), n]))('refuses %s', (_label, name) => {
    expect(fileNameProblem(name)).toEqual(expect.any(String));
  });

  it.each(accepted.map((n) => [n.slice(0, 40), n]))('accepts %s', (_label, name) => {
    expect(fileNameProblem(name)).toBeNull();
  });

  it('is the rule the control file is checked with: it cannot name what no channel would take', () => {
    const control = (files: Record<string, unknown>) =>
      JSON.stringify({ version: 1, files, users: { key: 'username', fields: { username: 'ID', email: 'E', firstName: 'F', lastName: 'L' } } });
    const messages = (files: Record<string, unknown>) => parseControlFile(control(files)).problems.map(formatProblem);
    expect(messages({ 'people.csv': { type: 'users' } })).toEqual([]);
    expect(messages({ 'a\r\nb.csv': { type: 'users' } })).toEqual([expect.stringContaining('control character')]);
    expect(messages({ 'people\u202Evsc.csv': { type: 'users' } })).toEqual([expect.stringContaining('bidirectional')]);
    expect(messages({ [`${'a'.repeat(250)}.csv`]: { type: 'users' } })).toEqual([expect.stringContaining('longer than 200 bytes')]);
    expect(messages({ 'people.csv.part': { type: 'users' } })).toEqual([expect.stringContaining('still being written')]);
    const many = Object.fromEntries(Array.from({ length: MAX_SET_FILES + 1 }, (_, i) => [`u${i}.csv`, { type: 'users' }]));
    expect(messages(many)).toEqual([`control.json:1:14: /files: names ${MAX_SET_FILES + 1} files; an upload set holds at most ${MAX_SET_FILES}`]);
  });
});
