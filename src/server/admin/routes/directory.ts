import type Router from '@koa/router';
import type { Context as SluiceContext } from '../../../context.js';
import { getDirectoryUser, groupMembers, listGroups, lookUpUsers, searchUsers, userGroups, userHistory } from '../../../directory/directory.service.js';
import { getFeed, listFeeds } from '../../../feeds/feeds.service.js';
import { need, pageParams, pager, render } from '../http.js';

const GROUPS_PER_PAGE = 100;
const USERS_PER_PAGE = 50;

export function directoryRoutes(router: Router, sluice: SluiceContext) {
  const db = sluice.database.knex;

  router.get('/users', need('viewer'), async (ctx) => {
    const query = String(ctx.query.q ?? '').slice(0, 320);
    // `exact=1` (the run page's links): the user with this very key or e-mail address.
    const exact = ctx.query.exact === '1';
    const { page, limit, offset } = pageParams(ctx, USERS_PER_PAGE);
    const found = !query ? { total: 0, users: [] } : exact ? await lookUpUsers(db, query).then((users) => ({ total: users.length, users })) : await searchUsers(db, query, { limit, offset });
    const { users } = found;
    if (found.total === 1) return ctx.redirect(`/admin/feeds/${encodeURIComponent(users[0]!.feedSlug)}/users/${encodeURIComponent(users[0]!.key)}`);
    render(ctx, 'users', { title: 'User lookup', query, exact, users, total: found.total, searched: query !== '', pager: exact ? null : pager(ctx, page, USERS_PER_PAGE, found.total) });
  });

  router.get('/feeds/:feed/users/:key', need('viewer'), async (ctx) => {
    const feed = await getFeed(db, ctx.params.feed!);
    const key = ctx.params.key!;
    const [user, groups, history] = await Promise.all([getDirectoryUser(db, feed.id, key), userGroups(db, feed.id, key), userHistory(db, feed.id, key)]);
    render(ctx, 'user', {
      title: `User ${key}`,
      feed,
      user,
      groups,
      history,
      sourceRecord: user.sourceRecord === null ? null : JSON.stringify(user.sourceRecord, null, 2),
    });
  });

  router.get('/feeds/:feed/groups/:code', need('viewer'), async (ctx) => {
    const feed = await getFeed(db, ctx.params.feed!);
    const { page, limit, offset } = pageParams(ctx, USERS_PER_PAGE);
    const result = await groupMembers(db, feed.id, ctx.params.code!, { limit, offset });
    render(ctx, 'groupMembers', { title: `Group ${result.group.code} of ${feed.slug}`, feed, ...result, pager: pager(ctx, page, USERS_PER_PAGE, result.total) });
  });

  router.get('/groups', need('viewer'), async (ctx) => {
    const feeds = await listFeeds(db);
    // A feed asked for by name must exist: another feed's groups under its name would mislead.
    const feed = typeof ctx.query.feed === 'string' && ctx.query.feed !== '' ? await getFeed(db, ctx.query.feed) : feeds[0];
    const { page, limit, offset } = pageParams(ctx, GROUPS_PER_PAGE);
    const result = feed ? await listGroups(db, feed.id, { limit, offset }) : { total: 0, groups: [] };
    render(ctx, 'groups', {
      title: 'Groups',
      feed,
      feeds: feeds.map((f) => ({ slug: f.slug, selected: f.id === feed?.id })),
      groups: result.groups,
      pager: pager(ctx, page, GROUPS_PER_PAGE, result.total),
    });
  });
}
