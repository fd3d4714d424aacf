import type Router from '@koa/router';
import type { Context as SluiceContext } from '../../../context.js';
import { listFeeds, type Feed } from '../../../feeds/feeds.service.js';
import { listRuns, type Run } from '../../../runs/runs.service.js';
import { need, render } from '../http.js';
import { changeChart } from '../chart.js';

export function dashboardRoutes(router: Router, sluice: SluiceContext) {
  const db = sluice.database.knex;
  router.get('/', need('viewer'), async (ctx) => {
    const feeds = await listFeeds(db);
    const slugOf = new Map(feeds.map((f) => [f.id, f.slug]));
    const held = await listRuns(db, { states: ['held'], limit: 100 });
    const lastRunIds = (await db('runs').groupBy('feed_id').select('feed_id').max({ id: 'id' })) as { feed_id: number; id: number }[];
    const lastRuns = new Map<number, Run>();
    for (const run of await listRuns(db, { ids: lastRunIds.map((r) => Number(r.id)), limit: lastRunIds.length })) lastRuns.set(run.feedId, run);
    // Counted apart from the list above, which stops at 100.
    const heldCounts = (await db('runs').where({ state: 'held' }).groupBy('feed_id').select('feed_id').count({ n: '*' })) as { feed_id: number; n: number | string }[];
    const heldByFeed = new Map(heldCounts.map((r) => [Number(r.feed_id), Number(r.n)]));
    const recent = (await listRuns(db, { limit: 30 })).reverse();
    render(ctx, 'dashboard', {
      title: 'Dashboard',
      held: held.map((run) => ({ ...run, feed: slugOf.get(run.feedId) })),
      feeds: feeds
        .map((feed) => ({ ...feed, lastRun: lastRuns.get(feed.id) ?? null, held: heldByFeed.get(feed.id) ?? 0 }))
        .sort((a, b) => b.held - a.held || a.slug.localeCompare(b.slug)),
      silentFeeds: feeds.filter(notifiesNobodyOfHolds).map((f) => ({ slug: f.slug, notOnHeld: f.settings.reportEmails.length > 0 })),
      chart: changeChart(recent.map((run) => ({ ...run, feed: slugOf.get(run.feedId) ?? '' }))),
    });
  });
}

/** A held run waits for someone to look: without report addresses, nobody is told it waits. */
export const notifiesNobodyOfHolds = (feed: Feed) => feed.settings.reportEmails.length === 0 || !feed.settings.reportOn.includes('held');
