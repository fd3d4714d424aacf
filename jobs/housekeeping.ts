import { Housekeeping } from '../src/jobs/housekeeping.js';
import { jobSchedule } from '../src/jobs/schedule.js';
import { runLongJob } from '../src/jobs/runJob.js';

await runLongJob(jobSchedule.housekeeping, (ctx) => new Housekeeping(ctx));
