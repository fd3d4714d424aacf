import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const freePort = () =>
  new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });

/** s3rver in its own process, with the given buckets; the credentials are S3RVER/S3RVER. */
export async function startS3rver(buckets: string[]) {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const dir = await mkdtemp(join(tmpdir(), 's3rver-'));
  // s3rver's paged listing needs the legacy OpenSSL provider in its own process.
  const child = spawn(
    process.execPath,
    ['--openssl-legacy-provider', join('node_modules', 's3rver', 'bin', 's3rver.js'), '-d', dir, '-a', '127.0.0.1', '-p', String(port), '-s', ...buckets.flatMap((b) => ['--configure-bucket', b])],
    { stdio: 'ignore' },
  );
  for (let i = 0; i < 100; i++) {
    if (await fetch(endpoint).then(() => true, () => false)) break;
    await sleep(100);
  }
  return {
    endpoint,
    env: { S3_ENDPOINT: endpoint, S3_FORCE_PATH_STYLE: 'true', AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' },
    async stop() {
      child.kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
