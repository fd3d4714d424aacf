/**
 * A bounded loopback load on the built-in SFTP endpoint: N sessions upload M MB each at once
 * into one feed, through a real `sluice serve` child; its RSS is sampled from /proc while they
 * do. Usage: node dist/scripts/sftpLoad.js [sessions=20] [mb=50]
 */
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import SftpClient from 'ssh2-sftp-client';

const sessions = Number(process.argv[2] ?? 20);
const mb = Number(process.argv[3] ?? 50);
const bin = join(import.meta.dirname, '..', '..', 'bin', 'sluice.js');
const dir = await mkdtemp(join(tmpdir(), 'sluice-sftp-load-'));
const env = { ...process.env, SLUICE_DATA_DIR: join(dir, 'data'), PORT: '0', SFTP_PORT: '0', SLUICE_JOBS: 'off', SLUICE_MAX_UPLOAD_MB: String(mb + 1), SFTP_MAX_CONNECTIONS: String(sessions + 5), LOG_LEVEL: 'warn', SLUICE_LOG_LEVEL: 'warn' };
const password = 'load-test-password';
const added = spawnSync(process.execPath, [bin, 'sftp', 'add', 'demo', '--password-stdin', '--name', 'load'], { env, input: `${password}\n` });
if (added.status !== 0) {
  // The demo feed is made by the first `serve`; make it now the embedded way.
  spawnSync(process.execPath, [bin, 'feed', 'add', 'demo'], { env });
  const again = spawnSync(process.execPath, [bin, 'sftp', 'add', 'demo', '--password-stdin', '--name', 'load'], { env, input: `${password}\n` });
  if (again.status !== 0) throw new Error(again.stderr.toString());
}

const file = join(dir, 'upload.csv');
await new Promise<void>((resolve, reject) => {
  const out = createWriteStream(file);
  const line = Buffer.from('id,email,first,last\n'.padEnd(1024, 'x'));
  for (let i = 0; i < mb * 1024; i++) out.write(line);
  out.end(resolve);
  out.on('error', reject);
});

const server = spawn(process.execPath, [bin, 'serve'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
let banner = '';
server.stdout!.on('data', (d) => (banner += d));
while (!/SFTP on port (\d+)/.test(banner)) await sleep(100);
const port = Number(/SFTP on port (\d+)/.exec(banner)![1]);

const rssMb = async () => Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${server.pid}/status`, 'utf8'))![1]) / 1024;
const baseline = await rssMb();
let peak = baseline;
const samples: number[] = [];
const sampler = setInterval(() => {
  rssMb().then((v) => {
    samples.push(v);
    peak = Math.max(peak, v);
  }, () => undefined);
}, 250);

const started = Date.now();
await Promise.all(
  Array.from({ length: sessions }, async (_, i) => {
    const client = new SftpClient();
    await client.connect({ host: '127.0.0.1', port, username: 'load', password, readyTimeout: 60_000 });
    await client.fastPut(file, `/load-${i}.csv`);
    await client.end();
  }),
);
const seconds = (Date.now() - started) / 1000;
clearInterval(sampler);
const after = await rssMb();
server.kill('SIGTERM');
await new Promise((resolve) => server.on('close', resolve));
const total = sessions * mb;
const q = (p: number) => [...samples].sort((a, b) => a - b)[Math.floor((samples.length - 1) * p)]!.toFixed(0);
process.stdout.write(
  `${sessions} sessions × ${mb} MB = ${total} MB in ${seconds.toFixed(1)} s: ${(total / seconds).toFixed(1)} MB/s\n` +
    `server RSS: before ${baseline.toFixed(0)} MB, median ${q(0.5)} MB, p90 ${q(0.9)} MB, peak ${peak.toFixed(0)} MB, after ${after.toFixed(0)} MB (${samples.length} samples)\n`,
);
await rm(dir, { recursive: true, force: true });
