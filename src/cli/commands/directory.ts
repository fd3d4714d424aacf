import { listAudit } from '../../audit/audit.service.js';
import { getDirectoryUser, groupMembers, listGroups, lookUpUsers, searchUsers, userGroups, userHistory } from '../../directory/directory.service.js';
import { listUsers } from '../../directory/directoryRead.service.js';
import { notFound, usageError } from '../../errors.js';
import { getFeed, type Feed } from '../../feeds/feeds.service.js';
import { getOutboxMail, listOutbox } from '../../mail/outbox.service.js';
import type { Db } from '../../storage/dialect.js';
import { EXIT, printJson } from '../output.js';
import { positional, withContext, type Command, type CommandInput } from './shared.js';

/** The states of `directory_users.state`. */
const userStates = ['active', 'suspended'];

/** Read-only views of what the admin page shows: user lookup, groups, the audit log, the outbox. */

const limitOf = (input: CommandInput, fallback: number) => {
  const text = input.options.limit as string | undefined;
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < 1) throw usageError(`--limit must be a whole number of at least 1 (got "${text}")`);
  return Number(text);
};
const out = (lines: string[]) => process.stdout.write(lines.join('\n') + (lines.length ? '\n' : ''));
const fieldText = (v: unknown) => (v !== null && typeof v === 'object' ? JSON.stringify(v) : String(v));
const nameOf = (fields: { name: string; value: unknown }[]) => {
  const get = (n: string) => fields.find((f) => f.name === n)?.value;
  return [get('firstName'), get('lastName')].filter(Boolean).join(' ');
};

export const usersCommand: Command = {
  summary: 'users <feed> [--search TEXT] [--state S] [--limit N]: the feed\'s users; --search matches part of a key, e-mail or name in any letter case',
  options: { search: { type: 'string' }, state: { type: 'string' }, limit: { type: 'string' } },
  async run(input) {
    const limit = limitOf(input, 50);
    const state = input.options.state as string | undefined;
    if (state !== undefined && !userStates.includes(state)) throw usageError(`--state must be one of ${userStates.join(', ')} (got "${state}")`);
    return withContext(input, async (ctx) => {
      const db = ctx.database.knex;
      const feed = await getFeed(db, positional(input, 0, 'feed'));
      const search = input.options.search as string | undefined;
      const users = search
        ? (await searchUsers(db, search, { limit, offset: 0 }, { feedId: feed.id, state })).users.map((u) => ({ key: u.key, state: u.state, name: nameOf(u.fields), email: u.fields.find((f) => f.name === 'email')?.value ?? null }))
        : (await listUsers(db, feed.id, { limit, state })).items.map((u) => ({ key: u.key, state: u.state, name: [u.fields.firstName, u.fields.lastName].filter(Boolean).join(' '), email: u.fields.email ?? null }));
      if (input.json) printJson(users);
      // On stderr: a script reading the list still gets nothing on stdout.
      else if (users.length === 0) process.stderr.write(`${search ? `no user of ${feed.slug} matches "${search}"${state ? ` (state ${state})` : ''}` : `${feed.slug} has no ${state ? `${state} ` : ''}users`}\n`);
      else out(users.map((u) => `${u.key}  ${u.state}  ${u.name}${u.email ? ` <${u.email}>` : ''}`));
      return EXIT.done;
    });
  },
};

export const userCommand: Command = {
  summary: 'user <feed> <key or email>: one user: fields (locked ones marked), groups, state, the source record, change history',
  async run(input) {
    return withContext(input, async (ctx) => {
      const db = ctx.database.knex;
      const feed = await getFeed(db, positional(input, 0, 'feed'));
      const wanted = positional(input, 1, 'key or email');
      // A key first; else the e-mail address, in any letter case, within this feed.
      const key = (await lookUpUsers(db, wanted)).find((u) => u.feedId === feed.id)?.key;
      if (!key) throw notFound('user', wanted);
      const [user, groups, history] = await Promise.all([getDirectoryUser(db, feed.id, key), userGroups(db, feed.id, key), userHistory(db, feed.id, key)]);
      if (input.json) {
        printJson({ ...user, groups, history });
        return EXIT.done;
      }
      out([
        `user ${user.key} (feed ${feed.slug}): ${user.state}${user.suspendedAt ? ` since ${user.suspendedAt}` : ''}; created ${user.createdAt} in run ${user.createdInRun}, last seen in run ${user.lastSeenInRun}`,
        '  fields:',
        ...user.fields.map((f) => `    ${f.name} = ${fieldText(f.value)}${f.locked ? '  (locked)' : ''}`),
        `  groups: ${groups.length ? groups.map((g) => `${g.code}${g.managed ? '' : ' (not managed)'}`).join(', ') : 'none'}`,
        `  source record: ${user.sourceRecord === null ? 'none' : JSON.stringify(user.sourceRecord)}`,
        '  history (newest first):',
        ...history.map((h) => `    #${h.seq} run ${h.runId} ${h.at} ${h.entity} ${h.operation}${h.groupCode ? ` ${h.groupCode}` : ''}${h.fields.length ? `: ${h.fields.map((f) => `${f.field} ${fieldText(f.before)} → ${fieldText(f.after)}`).join('; ')}` : ''}`),
      ]);
      return EXIT.done;
    });
  },
};

/**
 * A view of one feed's groups with `--limit N` (1000 unless given), the feed named by the first
 * argument. The limit is checked before the database is opened, so a bad one is a usage error.
 */
const groupView = (summary: string, show: (db: Db, feed: Feed, input: CommandInput, limit: number) => Promise<void>): Command => ({
  summary,
  options: { limit: { type: 'string' } },
  async run(input) {
    const limit = limitOf(input, 1000);
    return withContext(input, async (ctx) => {
      const db = ctx.database.knex;
      await show(db, await getFeed(db, positional(input, 0, 'feed')), input, limit);
      return EXIT.done;
    });
  },
});

export const groupsCommand: Command = groupView('groups <feed> [--limit N]: the feed\'s groups with their member counts', async (db, feed, input, limit) => {
  const { groups, total } = await listGroups(db, feed.id, { limit, offset: 0 });
  if (input.json) printJson({ total, groups });
  else out([...groups.map((g) => `${g.code}  ${g.name}  ${g.members} member(s)`), ...(total > groups.length ? [`(${groups.length} of ${total}; --limit shows more)`] : [])]);
});

export const groupCommand: Command = groupView('group <feed> <code> [--limit N]: one group\'s members with names and e-mail addresses', async (db, feed, input, limit) => {
  const result = await groupMembers(db, feed.id, positional(input, 1, 'code'), { limit, offset: 0 });
  if (input.json) printJson(result);
  else
    out([
      `group ${result.group.code} (${result.group.name}) of ${feed.slug}: ${result.total} member(s)`,
      ...result.members.map((m) => `  ${m.key}  ${m.state}  ${m.name}${m.email ? ` <${m.email}>` : ''}${m.managed ? '' : '  (not managed)'}`),
    ]);
});

export const auditCommand: Command = {
  summary: 'audit [--actor A] [--action X] [--feed F] [--limit N]: the audit log, newest first',
  options: { actor: { type: 'string' }, action: { type: 'string' }, feed: { type: 'string' }, limit: { type: 'string' } },
  async run(input) {
    const limit = limitOf(input, 50);
    return withContext(input, async (ctx) => {
      const db = ctx.database.knex;
      const feed = input.options.feed ? await getFeed(db, input.options.feed as string) : undefined;
      const { entries, total } = await listAudit(db, { limit, offset: 0 }, { actor: input.options.actor as string | undefined, action: input.options.action as string | undefined, feed });
      if (input.json) printJson({ total, entries });
      else out(entries.map((e) => `${e.at}  ${e.actor}  ${e.action}  ${e.target}${e.details ? `  ${JSON.stringify(e.details)}` : ''}`));
      return EXIT.done;
    });
  },
};

export const mailCommand: Command = {
  summary: 'mail [--limit N] | mail show <id>: the outbox, newest first, or one message as sent',
  options: { limit: { type: 'string' } },
  async run(input) {
    const limit = limitOf(input, 50);
    return withContext(input, async (ctx) => {
      const db = ctx.database.knex;
      if (input.args[0] === 'show') {
        const id = positional(input, 1, 'id');
        if (!/^\d+$/.test(id)) throw usageError(`message id must be a number (got "${id}")`);
        const mail = await getOutboxMail(db, Number(id));
        if (!mail) throw notFound('message', id);
        if (input.json) printJson(mail);
        else
          out([
            `message ${mail.id} (${mail.kind}, ${mail.state}${mail.sentAt ? ` ${mail.sentAt}` : ''}${mail.lastError ? `, last error: ${mail.lastError}` : ''})`,
            `To: ${mail.to.join(', ')}`,
            `Subject: ${mail.subject}`,
            ...mail.attachments.map((a) => `Attachment: ${a.filename} (${Buffer.byteLength(a.content)} bytes)`),
            '',
            mail.text,
          ]);
        return EXIT.done;
      }
      const mails = await listOutbox(db, { limit });
      if (input.json) printJson(mails.map(({ html: _html, text: _text, attachments, ...m }) => ({ ...m, attachments: attachments.map((a) => a.filename) })));
      else out(mails.map((m) => `${m.id}  ${m.createdAt}  ${m.state}  ${m.kind}  ${m.to.join(', ')}  ${m.subject}`));
      return EXIT.done;
    });
  },
};
