import { jobSchedule } from '../src/jobs/schedule.js';
import { runJob } from '../src/jobs/runJob.js';
import { purgeExpiredFiles } from '../src/archive/retention.js';
import { pruneJobTicks } from '../src/jobs/leases.js';

await runJob(jobSchedule.retention, async (ctx) => {
  await purgeExpiredFiles(ctx);
  await pruneJobTicks(ctx.database.knex);
});
