import { jobSchedule } from '../src/jobs/schedule.js';
import { runJob } from '../src/jobs/runJob.js';
import { runScheduledPulls } from '../src/pull/pullSchedule.js';

await runJob(jobSchedule.pullFeeds, (ctx) => runScheduledPulls(ctx));
