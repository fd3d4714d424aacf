import { pollAllS3Inboxes } from '../src/channels/s3Inbox.js';
import { jobSchedule } from '../src/jobs/schedule.js';
import { runJob } from '../src/jobs/runJob.js';

await runJob(jobSchedule.pollS3, (ctx) => pollAllS3Inboxes(ctx));
