/** One bench phase in its own process: `sluice import` of a folder, reporting time and peak RSS. */
import { loadConfig } from '../src/config.js';
import { openContext } from '../src/context.js';
import { getFeed } from '../src/feeds/feeds.service.js';
import { runFromFolder } from '../src/pipeline/intake.js';
import { processQueue } from '../src/pipeline/queue.js';
import { getRun, runEvents } from '../src/runs/runs.service.js';

const ctx = await openContext(loadConfig(), { migrate: false });
const started = performance.now();
const feed = await getFeed(ctx.database.knex, 'bench');
const run = await runFromFolder(ctx, feed, process.argv[2]!, { keepSource: true });
await processQueue(ctx, { feedId: feed.id });
const done = await getRun(ctx.database.knex, run.id);
const ms = performance.now() - started;
const timings = (await runEvents(ctx.database.knex, run.id)).find((e) => e.message.startsWith('processed'))?.message ?? '';
await ctx.database.close();
process.send!({ ms, maxRssMb: process.resourceUsage().maxRSS / 1024, state: done.state, counts: done.counts, timings });
