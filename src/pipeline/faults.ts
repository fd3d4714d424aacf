import { writeFileSync } from 'node:fs';

/**
 * Fault injection for the crash tests: with `SLUICE_FAULT=<point>` and `SLUICE_FAULT_FILE=<path>`
 * set, the process writes the file when it reaches the point and then waits forever, so a test
 * can kill it there; with `SLUICE_FAULT=throw:<point>` it throws there instead. Without those
 * variables this does nothing.
 */
export async function faultPoint(point: string): Promise<void> {
  if (process.env.SLUICE_FAULT === `throw:${point}`) throw new Error(`injected fault at ${point}`);
  if (process.env.SLUICE_FAULT !== point) return;
  writeFileSync(process.env.SLUICE_FAULT_FILE ?? 'sluice-fault', point);
  await new Promise(() => {});
}
