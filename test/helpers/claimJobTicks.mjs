// One process of the job-lease race (test/server/serveJobs.test.ts): from a shared start time,
// tries every tick of one job as `sluice serve`'s runJob does (claim, record, release) and prints
// the ticks it won. The compiled code is what runs in production, so that is what is raced.
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '../../dist/src/config.js';
import { openContext } from '../../dist/src/context.js';
import { claimJobTick, recordJobTick, releaseJobLease } from '../../dist/src/jobs/leases.js';

const [owner, startAt, ticks, stepMs] = process.argv.slice(2);
const ctx = await openContext(loadConfig(), { migrate: false });
const db = ctx.database.knex;
const won = [];
try {
  for (let tick = 1; tick <= Number(ticks); tick++) {
    // Every process tries tick N at the same moment, as Bree's timers would.
    await sleep(Math.max(0, Number(startAt) + tick * Number(stepMs) - Date.now()));
    if (await claimJobTick(db, 'race', owner, tick, 60_000)) {
      await recordJobTick(db, 'race', owner, tick);
      await releaseJobLease(db, 'race', owner);
      won.push(tick);
    }
  }
} finally {
  await ctx.database.close();
}
process.stdout.write(JSON.stringify({ owner, won }) + '\n');
