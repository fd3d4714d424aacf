import { jobSchedule } from '../src/jobs/schedule.js';
import { runJob } from '../src/jobs/runJob.js';
import { runMailTick } from '../src/mail/mailJob.js';

await runJob(jobSchedule.sendMail, (ctx) => runMailTick(ctx));
