import type { JobSpec } from './runJob.js';

/** Every scheduled job; `jobs/<name>.ts` runs it. */
export const jobSchedule = {
  processQueue: { name: 'process-queue', intervalMs: 2_000, everyProcess: true },
  pollS3: { name: 'poll-s3', intervalMs: 15_000 },
  failIncomplete: { name: 'fail-incomplete', intervalMs: 60_000 },
  retention: { name: 'retention', intervalMs: 3_600_000 },
  pullFeeds: { name: 'pull-feeds', intervalMs: 30_000 },
  exportApps: { name: 'export-apps', intervalMs: 30_000 },
  // Every process: enqueueing is idempotent (one outbox row per key) and each message is claimed
  // before it is sent, so a process that dies mid-send holds up nothing beyond its claim.
  sendMail: { name: 'send-mail', intervalMs: 5_000, everyProcess: true },
} satisfies Record<string, JobSpec>;
