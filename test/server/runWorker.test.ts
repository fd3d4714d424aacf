import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { runWorker } from '../../src/runs/runs.presenter.js';
import type { Run } from '../../src/runs/runs.service.js';

const inProgress = (leaseOwner: string) =>
  ({ state: 'applying', leaseOwner, leaseExpiresAt: new Date(Date.now() + 60_000).toISOString(), heartbeatAt: new Date().toISOString() }) as unknown as Run;

describe('whether a live worker holds a run', () => {
  it('says a worker whose process on this host has exited is not alive, though its lease has not expired', async () => {
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    await once(child, 'spawn');
    const owner = `${hostname()}:${child.pid}:test`;
    expect(runWorker(inProgress(owner))?.alive).toBe(true);
    child.kill('SIGKILL');
    await once(child, 'exit');
    expect(runWorker(inProgress(owner))?.alive).toBe(false);
    // Another host's worker cannot be looked at: its lease decides.
    expect(runWorker(inProgress(`elsewhere.example:${child.pid}:test`))?.alive).toBe(true);
  });
});
