import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../helpers/cli.js';

/**
 * A bounded corpus of hostile upload sets, each fed through the real `sluice validate --json`
 * (offline, as a source system's developer runs it). Each must be rejected (the set fails) or
 * reported (the row is skipped, every other row still counts) with the file and line — and
 * the column where one applies — and nothing may crash. Small sets live in
 * test/fixtures/hostile/<case>/; the large ones are written here into a temp dir.
 */
const corpus = join(import.meta.dirname, '..', 'fixtures', 'hostile');
/** Every data file of the corpus has this many records; the hostile one is the second. */
const ROWS = 40;

interface Where {
  file: string;
  line: number;
  /** A number: exactly that column (CSV columns count fields); 'any': some column must be given. */
  column?: number | 'any';
}

interface Case {
  name: string;
  /**
   * `set`: the set fails; `row`: that one record is skipped and the rest counts; `either`;
   * `accepted`: nothing is wrong with it once it is read exactly — every record counts, no error.
   */
  outcome: 'set' | 'row' | 'either' | 'accepted';
  /** Every place the problem(s) must be reported. */
  where: Where[];
  /** For `accepted`: how many records the set holds (ROWS unless said). */
  rows?: number;
  /** For `accepted`: columns that must be listed as ignored. */
  ignoredColumns?: string[];
  /** A generated set (too large to commit): folder → the set's files. */
  generate?: () => Record<string, string | Buffer>;
}

const usersControl = (fields: Record<string, string> = {}) =>
  JSON.stringify({
    version: 1,
    mode: 'full',
    files: { 'people.csv': { type: 'users' } },
    users: { key: 'username', fields: { username: 'ID', email: 'EMAIL', firstName: 'FIRST', lastName: 'LAST', ...fields } },
  });
const peopleCsv = (header: string, second: string, extra = () => '') =>
  [header, `u1,u1@example.org,First1,Last1${extra()}`, second, ...Array.from({ length: ROWS - 2 }, (_, i) => `u${i + 3},u${i + 3}@example.org,First${i + 3},Last${i + 3}${extra()}`)].join('\n') + '\n';

const cases: Case[] = [
  { name: 'unclosed-quote', outcome: 'set', where: [{ file: 'people.csv', line: 3, column: 2 }] },
  {
    name: 'huge-field',
    outcome: 'either',
    where: [{ file: 'people.csv', line: 3, column: 3 }],
    generate: () => ({ 'control.json': usersControl(), 'people.csv': peopleCsv('ID,EMAIL,FIRST,LAST', `u2,u2@example.org,${'x'.repeat(2 * 1024 * 1024)},Last2`) }),
  },
  { name: 'nul-in-key', outcome: 'either', where: [{ file: 'people.csv', line: 3, column: 1 }] },
  { name: 'bom-in-key', outcome: 'either', where: [{ file: 'people.csv', line: 3, column: 1 }] },
  // Character column of the bad byte: "u2,u2@example.org,First" is 23 characters.
  { name: 'invalid-utf8', outcome: 'set', where: [{ file: 'people.csv', line: 3, column: 24 }] },
  { name: 'control-not-json', outcome: 'set', where: [{ file: 'control.json', line: 4, column: 32 }] },
  { name: 'control-duplicate-file', outcome: 'set', where: [{ file: 'control.json', line: 5 }] },
  // Names like any other: files called __proto__ and constructor are read, columns so called ignored.
  { name: 'proto-file-names', outcome: 'accepted', where: [], rows: 3 },
  { name: 'proto-column-names', outcome: 'accepted', where: [], rows: 2 },
  {
    name: 'header-empty-duplicate',
    outcome: 'set',
    where: [
      { file: 'people.csv', line: 1, column: 3 },
      { file: 'people.csv', line: 1, column: 6 },
    ],
  },
  {
    name: 'control-name-controls',
    outcome: 'set',
    where: [
      { file: 'control.json', line: 5 },
      { file: 'control.json', line: 6 },
      { file: 'control.json', line: 7 },
    ],
  },
  { name: 'extra-field', outcome: 'row', where: [{ file: 'people.csv', line: 3, column: 5 }] },
  // A rejected element is a rejected record (PRODUCT §5), not a broken file.
  { name: 'json-number-element', outcome: 'row', where: [{ file: 'people.json', line: 3, column: 3 }] },
  { name: 'bad-ndjson-line', outcome: 'either', where: [{ file: 'people.ndjson', line: 2, column: 'any' }] },
  {
    // 40 000 characters of two UTF-8 bytes each: 80 000 bytes, more than a MySQL TEXT holds, but
    // within the biography's documented 65 535 characters: it must arrive whole, not be reported.
    name: 'long-biography',
    outcome: 'accepted',
    where: [],
    generate: () => ({
      'control.json': usersControl({ biography: 'BIO' }),
      'people.csv': peopleCsv('ID,EMAIL,FIRST,LAST,BIO', `u2,u2@example.org,First2,Last2,${'ü'.repeat(40_000)}`, () => ',short'),
    }),
  },
  // 12345678901234567891 and …890 are one double: read as numbers they would be one key, a duplicate.
  { name: 'big-number-key', outcome: 'accepted', where: [] },
  { name: 'dotdot-file-name', outcome: 'set', where: [{ file: 'control.json', line: 8 }] },
];

interface Validation {
  ok: boolean;
  rows: number;
  errorRows: number;
  /** "people.csv: ignored columns: …", one line a file. */
  ignoredColumns?: string[];
  failure: string | null;
  errors: { level: 'set' | 'row'; code: string; message: string; file?: string; line?: number; column?: number }[];
}

describe('the hostile-input corpus through sluice validate', () => {
  let scratch: string;
  const results = new Map<string, Promise<CliResult>>();

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'sluice-hostile-'));
    // Each set is validated from a copy, so nothing can change the committed corpus.
    for (const c of cases) {
      const folder = join(scratch, c.name);
      if (c.generate) {
        await mkdir(folder);
        for (const [name, content] of Object.entries(c.generate())) await writeFile(join(folder, name), content);
      } else {
        await cp(join(corpus, c.name), folder, { recursive: true });
      }
    }
    // Four at a time: each validation is a whole process that spends most of its time waiting.
    const queue = [...cases];
    const worker = async () => {
      for (let c = queue.shift(); c; c = queue.shift()) {
        const run = runCli(['validate', join(scratch, c.name), '--json']);
        results.set(c.name, run);
        await run;
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
  }, 60_000);
  afterAll(async () => {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it.each(cases)('$name: $outcome, reported where it is, without a crash', async (c) => {
    const result = await results.get(c.name)!;
    // No crash: an answer on stdout, exit 0 (valid, rows reported) or 1 (failed), nothing on stderr.
    expect(result.signal).toBeNull();
    expect(result.stderr).toBe('');
    expect([0, 1]).toContain(result.code);
    const validation = JSON.parse(result.stdout) as Validation;
    expect(result.code).toBe(validation.ok ? 0 : 1);

    for (const where of c.where) {
      const found = validation.errors.filter(
        (e) => e.file === where.file && e.line === where.line && (where.column === undefined || (where.column === 'any' ? typeof e.column === 'number' : e.column === where.column)),
      );
      expect(found, `a problem at ${where.file}:${where.line}${where.column ? `:${where.column}` : ''} in ${JSON.stringify(validation.errors)}`).not.toEqual([]);
      if (c.outcome !== 'either') expect(found.some((e) => e.level === c.outcome)).toBe(true);
    }
    if (c.outcome === 'set') expect(validation.ok).toBe(false);
    if (c.outcome === 'accepted') {
      expect({ ok: validation.ok, rows: validation.rows, errorRows: validation.errorRows, errors: validation.errors }).toEqual({ ok: true, rows: c.rows ?? ROWS, errorRows: 0, errors: [] });
      for (const name of c.ignoredColumns ?? []) expect((validation.ignoredColumns ?? []).join('\n')).toContain(name);
    }
    if (c.outcome === 'row' || (c.outcome === 'either' && validation.ok)) {
      // Reported, and nothing else changes: the one record is skipped, every other one counts.
      expect({ ok: validation.ok, rows: validation.rows, errorRows: validation.errorRows }).toEqual({ ok: true, rows: ROWS, errorRows: 1 });
    }
    // A name or value is never echoed with characters that rewrite a terminal or a log line.
    for (const e of validation.errors) expect(`${e.file ?? ''} ${e.message}`).not.toMatch(/[\r\n\u202e\u0000]/);
  });
});

