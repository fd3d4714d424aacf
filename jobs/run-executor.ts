import { jobSchedule } from '../src/jobs/schedule.js';
import { runLongJob } from '../src/jobs/runJob.js';
import { RunExecutors } from '../src/pipeline/executor.js';

// Started once, lives as long as the server; the server wakes it when a run is queued.
await runLongJob(jobSchedule.runExecutor, (ctx) => new RunExecutors(ctx));
