import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import knexFactory from 'knex';
import { runCli, sluice } from '../helpers/cli.js';

/** Peak resident memory of a process so far, from the kernel. */
async function peakRssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

function upload(url: string, key: string, path: string, size: number) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(url, { method: 'PUT', headers: { authorization: `Bearer ${key}`, 'content-length': size } }, async (res) => {
      let body = '';
      for await (const chunk of res) body += chunk;
      resolve({ status: res.statusCode!, body });
    });
    req.on('error', reject);
    createReadStream(path).pipe(req);
  });
}

describe('a large upload', () => {
  let dir: string;
  let server: ReturnType<typeof sluice>;
  let url: string;
  let key: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-big-'));
    const env = { SLUICE_DATA_DIR: dir, PORT: '0' };
    await runCli(['migrate'], env);
    await runCli(['feed', 'add', 'hr'], env);
    key = (await runCli(['key', 'create', 'hr'], env)).stdout.split('\n')[0]!;
    // Without the scheduled jobs: they run in worker threads with heaps of their own, which
    // would be measured along with the upload.
    server = sluice(['serve'], { ...env, PORT: '18391', SLUICE_JOBS: 'off' });
    url = 'http://127.0.0.1:18391';
    for (let i = 0; i < 100 && !(await fetch(`${url}/healthz`).then((r) => r.ok, () => false)); i++) await sleep(100);
  });
  afterAll(async () => {
    server?.child.kill('SIGTERM');
    await server?.done;
  });

  it('streams a 1 GB upload to the archive, growing the server by less than 50 MB', async () => {
    const size = 1024 * 1024 * 1024;
    const path = join(dir, 'big.csv');
    const out = createWriteStream(path);
    const hash = createHash('sha256');
    const chunk = Buffer.alloc(1024 * 1024, 'u1,a@example.org\n');
    for (let written = 0; written < size; written += chunk.length) {
      hash.update(chunk);
      if (!out.write(chunk)) await once(out, 'drain');
    }
    out.end();
    await once(out, 'finish');

    await upload(`${url}/api/v1/feeds/hr/files/warm-up.csv`, key, join(dir, 'sluice.sqlite'), (await readFile(join(dir, 'sluice.sqlite'))).length);
    const before = await peakRssMb(server.child.pid!);
    const response = await upload(`${url}/api/v1/feeds/hr/files/big.csv`, key, path, size);
    const after = await peakRssMb(server.child.pid!);
    expect(response.status).toBe(201);
    expect(JSON.parse(response.body)).toMatchObject({ file: { name: 'big.csv', size, sha256: hash.digest('hex') } });
    // Garbage from streamed chunks lifts the peak a little, the same for any size; holding the
    // file, or a part of it that grows with it, would lift it by up to a gigabyte.
    console.log(`1 GB upload: server peak RSS ${before.toFixed(0)} MB before, ${after.toFixed(0)} MB after (+${(after - before).toFixed(1)} MB)`);
    expect(after - before).toBeLessThan(50);

    const db = knexFactory({ client: 'better-sqlite3', connection: { filename: join(dir, 'sluice.sqlite') }, useNullAsDefault: true });
    try {
      expect(await db('run_files').where({ name: 'big.csv' }).first('size')).toEqual({ size });
    } finally {
      await db.destroy();
    }
  });
});
