import { jobSchedule } from '../src/jobs/schedule.js';
import { runJob } from '../src/jobs/runJob.js';
import { processQueue } from '../src/pipeline/queue.js';

// Runs are claimed one by one in the database, so every process may work the queue at once.
await runJob(jobSchedule.processQueue, (ctx) => processQueue(ctx));
