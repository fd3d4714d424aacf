import { jobSchedule } from '../src/jobs/schedule.js';
import { runJob } from '../src/jobs/runJob.js';
import { failIncompleteRuns } from '../src/pipeline/receiving.js';

await runJob(jobSchedule.failIncomplete, (ctx) => failIncompleteRuns(ctx, ctx.config.incompleteTimeoutMs));
