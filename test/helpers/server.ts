import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.js';
import { serve, type RunningServer } from '../../src/server/serve.js';

/** A real `serve` on a free port with its own SQLite database, jobs off unless asked. */
export async function startTestServer(env: Record<string, string> = {}, options: { jobs?: boolean; rescanMs?: number } = {}): Promise<RunningServer & { dataDir: string }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'sluice-serve-'));
  const config = loadConfig({ SLUICE_DATA_DIR: dataDir, PORT: '0', SLUICE_SETTLE_SECONDS: '0', ...env });
  const server = await serve(config, { jobs: false, ...options });
  return Object.assign(server, { dataDir });
}
