import type { JobSpec } from './runJob.js';

/**
 * Every background job. Bree starts the long-lived ones (`jobs/<name>.ts`) once with the server;
 * the housekeeping thread runs the others at their interval.
 */
export const jobSchedule = {
  // Started once with the server and woken when a run is queued: no thread per tick, and a run's
  // CPU work stays off the HTTP server's event loop. It also sends mail (when queued, and on a
  // slow sweep). Runs are claimed one by one in the database, so every process has one.
  runExecutor: { name: 'run-executor', intervalMs: 0, everyProcess: true, longLived: true },
  housekeeping: { name: 'housekeeping', intervalMs: 0, everyProcess: true, longLived: true },
  pollS3: { name: 'poll-s3', intervalMs: 15_000 },
  failIncomplete: { name: 'fail-incomplete', intervalMs: 60_000 },
  retention: { name: 'retention', intervalMs: 3_600_000 },
  pullFeeds: { name: 'pull-feeds', intervalMs: 30_000 },
  exportApps: { name: 'export-apps', intervalMs: 30_000 },
} satisfies Record<string, JobSpec>;
