import type { JobSpec } from './runJob.js';

/** Every scheduled job; `jobs/<name>.ts` runs it. */
export const jobSchedule = {
  processQueue: { name: 'process-queue', intervalMs: 2_000, everyProcess: true },
  pollS3: { name: 'poll-s3', intervalMs: 15_000 },
  failIncomplete: { name: 'fail-incomplete', intervalMs: 60_000 },
  retention: { name: 'retention', intervalMs: 3_600_000 },
} satisfies Record<string, JobSpec>;
