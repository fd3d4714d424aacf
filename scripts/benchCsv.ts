/**
 * `npx tsc -p . && node dist/scripts/benchCsv.js [--rows 1000000] [--repeat 3] [--engines a,b]`:
 * parse-only throughput of the CSV reader's splitter against papaparse's own streamer and udsv,
 * on the same generated file in the same run, each run in its own process so its peak RSS is its
 * own. Then the hostile cases: one 8 MB and one 50 MB quoted field (record limit raised so the
 * field is read whole) and a quote left open to the end of a 50 MB file (default limits: the
 * reader must stop after about the record limit). Engines without a record limit read all of it.
 * The machine may be shared: each figure is a range over the repeats.
 */
import { execFile } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import Papa from 'papaparse';
import { csvRecords } from '../src/core/readers/csvRecords.js';
import { defaultReadLimits, type ReadLimits } from '../src/core/readers/types.js';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    repeat: { type: 'string', default: '3' },
    engines: { type: 'string', default: 'records,papa-stream,udsv' },
    cases: { type: 'string', default: 'rows,field8,field50,unclosed50' },
    child: { type: 'string' },
    file: { type: 'string' },
    limits: { type: 'string', default: 'default' },
    timeout: { type: 'string', default: '120' },
  },
});

const CHUNK = 64 * 1024;
const bigLimits: ReadLimits = { maxFieldChars: 64 * 1024 * 1024, maxRecordChars: 64 * 1024 * 1024 };

type Engine = (path: string, limits: ReadLimits) => Promise<number>;

async function* textOf(path: string): AsyncGenerator<string> {
  for await (const chunk of createReadStream(path, { encoding: 'utf8', highWaterMark: CHUNK })) yield chunk as string;
}

/** The reader's splitter, as `csv.ts` uses it: records in batches. */
async function viaRecords(path: string, limits: ReadLimits): Promise<number> {
  let n = 0;
  for await (const batch of csvRecords(textOf(path), ',', path, limits)) n += batch.length;
  return n;
}

/** Papaparse as its documentation shows for Node: its own streamer over a file stream, rows a chunk at a time. */
function viaPapaStream(path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    let n = 0;
    Papa.parse(createReadStream(path, { encoding: 'utf8', highWaterMark: CHUNK }) as unknown as File, {
      chunk: (result: Papa.ParseResult<string[]>) => {
        n += result.data.length;
      },
      complete: () => resolve(n),
      error: reject,
    });
  });
}

interface Udsv {
  inferSchema(text: string, opts: object): unknown;
  initParser(schema: unknown): { chunk(text: string, parse: unknown, each: () => void): void; stringArrs: unknown; end(): void };
}

/** udsv's incremental API: a schema inferred from the first chunk, then `chunk()` per chunk. Not a dependency: install it to compare. */
async function viaUdsv(path: string): Promise<number> {
  const name = 'udsv';
  const { inferSchema, initParser } = (await import(name)) as Udsv;
  let n = 0;
  let parser: ReturnType<Udsv['initParser']> | null = null;
  const count = () => {
    n++;
  };
  for await (const chunk of textOf(path)) {
    parser ??= initParser(inferSchema(chunk, { col: ',', row: '\n', encl: '"' }));
    parser.chunk(chunk, parser.stringArrs, count);
  }
  parser?.end();
  return n;
}

async function engine(name: string): Promise<Engine> {
  if (name === 'records') return viaRecords;
  if (name === 'papa-stream') return viaPapaStream;
  if (name === 'udsv') return viaUdsv;
  if (name === 'tokenizer') {
    // The hand-written tokenizer this reader used before papaparse, one record per await (only on a commit that has it).
    const path = '../src/core/readers/csvTokens.js';
    const { csvRecords: tokens } = (await import(path)) as { csvRecords: (text: AsyncIterable<string>, delimiter: string, file: string, limits: ReadLimits) => AsyncIterable<unknown> };
    return async (file, limits) => {
      let n = 0;
      for await (const _ of tokens(textOf(file), ',', file, limits)) n++;
      return n;
    };
  }
  throw new Error(`unknown engine ${name}`);
}

async function child() {
  const run = await engine(values.child!);
  const limits = values.limits === 'big' ? bigLimits : defaultReadLimits;
  const started = performance.now();
  let outcome: string;
  try {
    outcome = `${await run(values.file!, limits)} records`;
  } catch (error) {
    outcome = `error: ${(error as Error).message.slice(0, 90)}`;
  }
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(JSON.stringify({ seconds, rssMb: process.resourceUsage().maxRSS / 1024, outcome }));
}

async function writeLines(path: string, lines: (i: number) => string, count: number) {
  const out = createWriteStream(path);
  for (let i = 0; i < count; i++) if (!out.write(lines(i))) await once(out, 'drain');
  out.end();
  await once(out, 'finish');
}

/** ~100 MB for 1 M rows: 10 columns, every 10th row with a quoted comma, every 50th with quotes, every 100th with a line break. */
async function rowsFile(rows: number): Promise<string> {
  const path = join(tmpdir(), `sluice-benchcsv-${rows}.csv`);
  if (existsSync(path)) return path;
  const header = 'ID,EMAIL,FIRST,LAST,TITLE,JOB,COMPANY,COUNTRY,DEPT,BIO\n';
  await writeLines(
    path,
    (i) => {
      const company = i % 10 === 0 ? `"Company ${i % 113}, Inc."` : `Company ${i % 113}`;
      const bio = i % 100 === 0 ? `"Joined in ${2000 + (i % 25)}\r\nworks on ""things"", mostly"` : i % 50 === 0 ? `"says ""hi"" a lot"` : `Plain biography text number ${i} of some length`;
      return (i === 0 ? header : '') + `u${i},user${i}@example.org,First${i % 997},Last${i % 1009},Dr,Engineer ${i % 7},${company},NL,Department ${i % 17},${bio}\n`;
    },
    rows,
  );
  return path;
}

async function hostileFile(name: string, body: string): Promise<string> {
  const path = join(tmpdir(), `sluice-benchcsv-${name}.csv`);
  if (!existsSync(path)) await writeFile(path, body);
  return path;
}

function runChild(name: string, file: string, limits: string): Promise<{ seconds: number; rssMb: number; outcome: string }> {
  const timeout = Number(values.timeout) * 1000;
  return new Promise((resolve) => {
    execFile(process.execPath, [process.argv[1]!, '--child', name, '--file', file, '--limits', limits], { timeout, maxBuffer: 1 << 20 }, (error, stdout) => {
      if (error) resolve({ seconds: Number.NaN, rssMb: Number.NaN, outcome: error.killed ? `stopped after ${values.timeout} s` : `crashed: ${error.message.slice(0, 80)}` });
      else resolve(JSON.parse(stdout));
    });
  });
}

const range = (xs: number[], digits: number) => {
  const ok = xs.filter((x) => !Number.isNaN(x));
  if (ok.length === 0) return '—';
  const lo = Math.min(...ok).toFixed(digits);
  const hi = Math.max(...ok).toFixed(digits);
  return lo === hi ? lo : `${lo}–${hi}`;
};

async function main() {
  const rows = Number(values.rows);
  const repeat = Number(values.repeat);
  const engines = values.engines.split(',');
  const x = (mb: number) => 'x'.repeat(mb * 1024 * 1024);
  const cases: Record<string, { file: () => Promise<string>; limits: string; mb?: number }> = {
    rows: { file: () => rowsFile(rows), limits: 'default' },
    field8: { file: () => hostileFile('field8', `id,bio\nu1,"${x(8)}"\nu2,ok\n`), limits: 'big' },
    field50: { file: () => hostileFile('field50', `id,bio\nu1,"${x(50)}"\nu2,ok\n`), limits: 'big' },
    unclosed50: { file: () => hostileFile('unclosed50', `id,bio\nu1,ok\nu2,"never closed\n${x(50)}`), limits: 'default' },
  };
  console.log('| case | engine | s | MB/s | peak RSS MB | outcome |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const name of values.cases.split(',')) {
    const c = cases[name]!;
    const file = await c.file();
    const { size } = await import('node:fs').then((fs) => fs.statSync(file));
    // Engines interleaved per repeat, so a burst of load on the shared machine hits them alike.
    const results = new Map<string, Awaited<ReturnType<typeof runChild>>[]>(engines.map((e) => [e, []]));
    for (let r = 0; r < repeat; r++) for (const e of engines) results.get(e)!.push(await runChild(e, file, c.limits));
    for (const e of engines) {
      const rs = results.get(e)!;
      const seconds = rs.map((r) => r.seconds);
      const mbs = seconds.map((s) => size / 1024 / 1024 / s);
      console.log(`| ${name} (${(size / 1024 / 1024).toFixed(0)} MB) | ${e} | ${range(seconds, 2)} | ${range(mbs, 0)} | ${range(rs.map((r) => r.rssMb), 0)} | ${[...new Set(rs.map((r) => r.outcome))].join('; ')} |`);
    }
  }
}

if (values.child) await child();
else await main();
