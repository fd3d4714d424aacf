import { existsSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Fault injection for the crash tests: with `SLUICE_FAULT=<point>` and `SLUICE_FAULT_FILE=<path>`
 * set, the process writes the file when it reaches the point and then waits forever, so a test
 * can kill it there; with `SLUICE_FAULT=throw:<point>` it throws there instead; with
 * `SLUICE_FAULT=pause:<point>` it writes the file and goes on once the test deletes it. Without those
 * variables this does nothing.
 */
export async function faultPoint(point: string): Promise<void> {
  if (process.env.SLUICE_FAULT === `throw:${point}`) throw new Error(`injected fault at ${point}`);
  if (process.env.SLUICE_FAULT === `pause:${point}`) return pauseUntilReleased(point);
  if (process.env.SLUICE_FAULT !== point) return;
  writeFileSync(process.env.SLUICE_FAULT_FILE ?? 'sluice-fault', point);
  await new Promise(() => {});
}

async function pauseUntilReleased(point: string): Promise<void> {
  const file = process.env.SLUICE_FAULT_FILE ?? 'sluice-fault';
  writeFileSync(file, point);
  while (existsSync(file)) await sleep(20);
}
