import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, sluice } from '../helpers/cli.js';

const peakRssMb = async (pid: number) => Number(/VmHWM:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

const CLIENTS = 24;
const UPLOADS_PER_CLIENT = 4;
const FILE_MB = 8;

describe('the upload endpoint under concurrent load', () => {
  let server: ReturnType<typeof sluice>;
  const url = 'http://127.0.0.1:18393';
  const keys: string[] = [];
  beforeAll(async () => {
    const env = { SLUICE_DATA_DIR: await mkdtemp(join(tmpdir(), 'sluice-load-')), PORT: '0' };
    await runCli(['migrate'], env);
    for (let f = 0; f < 4; f++) {
      await runCli(['feed', 'add', `load${f}`], env);
      keys.push((await runCli(['key', 'create', `load${f}`], env)).stdout.split('\n')[0]!);
    }
    server = sluice(['serve'], { ...env, PORT: '18393', SLUICE_JOBS: 'off' });
    for (let i = 0; i < 100 && !(await fetch(`${url}/healthz`).then((r) => r.ok, () => false)); i++) await sleep(100);
  });
  afterAll(async () => {
    server?.child.kill('SIGTERM');
    await server?.done;
  });

  it(`takes ${CLIENTS} clients × ${UPLOADS_PER_CLIENT} uploads of ${FILE_MB} MB at once, stays up, and keeps memory bounded`, async () => {
    const body = Buffer.alloc(FILE_MB * 1024 * 1024, 'u1,a@example.org,Ann,Lee\n');
    const warm = await fetch(`${url}/api/v1/feeds/load0/files/warm.csv`, { method: 'PUT', body: 'x', headers: { authorization: `Bearer ${keys[0]}` } });
    expect(warm.status).toBe(201);
    const before = await peakRssMb(server.child.pid!);

    let healthChecks = 0;
    let loading = true;
    const health = (async () => {
      while (loading) {
        expect((await fetch(`${url}/healthz`)).status).toBe(200);
        healthChecks++;
        await sleep(200);
      }
    })();
    const started = performance.now();
    const statuses = await Promise.all(
      Array.from({ length: CLIENTS }, async (_, client) => {
        const results: number[] = [];
        for (let i = 0; i < UPLOADS_PER_CLIENT; i++) {
          const feed = client % 4;
          const response = await fetch(`${url}/api/v1/feeds/load${feed}/files/c${client}-${i}.csv`, { method: 'PUT', body, headers: { authorization: `Bearer ${keys[feed]}` } });
          await response.arrayBuffer();
          results.push(response.status);
        }
        return results;
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    loading = false;
    await health;
    const after = await peakRssMb(server.child.pid!);
    const megabytes = CLIENTS * UPLOADS_PER_CLIENT * FILE_MB;
    console.log(`${CLIENTS * UPLOADS_PER_CLIENT} uploads (${megabytes} MB) in ${seconds.toFixed(1)} s (${(megabytes / seconds).toFixed(0)} MB/s), ${healthChecks} health checks answered, server peak RSS +${(after - before).toFixed(1)} MB`);
    expect(statuses.flat()).toEqual(Array(CLIENTS * UPLOADS_PER_CLIENT).fill(201));
    expect(healthChecks).toBeGreaterThan(0);
    // A body held in memory would cost 8 MB each; 24 at once, 192 MB.
    expect(after - before).toBeLessThan(100);
  });
});
