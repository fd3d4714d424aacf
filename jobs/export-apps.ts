import { runScheduledExports } from '../src/exports/exportSchedule.js';
import { jobSchedule } from '../src/jobs/schedule.js';
import { runJob } from '../src/jobs/runJob.js';

await runJob(jobSchedule.exportApps, (ctx) => runScheduledExports(ctx));
