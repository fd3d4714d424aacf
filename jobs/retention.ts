import { jobSchedule } from '../src/jobs/schedule.js';
import { runJob } from '../src/jobs/runJob.js';
import { purgeExpiredFiles } from '../src/archive/retention.js';

await runJob(jobSchedule.retention, (ctx) => purgeExpiredFiles(ctx));
