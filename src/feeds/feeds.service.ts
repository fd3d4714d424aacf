import { createHash } from 'node:crypto';
import { notFound, SluiceError, usageError } from '../errors.js';
import { crossSettingProblems, parseFeedSetting, resolveFeedSettings, type FeedSettings } from '../core/feedSettings.js';
import { recordAudit } from '../audit/audit.service.js';
import { toDbTime, type Db } from '../storage/dialect.js';

export interface Feed {
  id: number;
  slug: string;
  name: string;
  settings: FeedSettings;
  controlFile: string | null;
  directoryVersion: number;
}

interface FeedRow {
  id: number;
  slug: string;
  name: string;
  settings: string;
  control_file: string | null;
  directory_version: number;
}

const SLUG = /^[a-z0-9][a-z0-9_-]{0,63}$/;

const fromRow = (row: FeedRow): Feed => ({
  id: Number(row.id),
  slug: row.slug,
  name: row.name,
  settings: resolveFeedSettings(JSON.parse(row.settings) as Partial<FeedSettings>),
  controlFile: row.control_file,
  directoryVersion: Number(row.directory_version),
});

export async function addFeed(db: Db, slug: string, options: { name?: string; settings?: Partial<FeedSettings>; actor?: string } = {}): Promise<Feed> {
  if (!SLUG.test(slug)) throw usageError(`feed slug "${slug}" must be lower-case letters, digits, "-" and "_" (at most 64)`);
  if (await db('feeds').where({ slug }).first()) throw new SluiceError('conflict', `feed ${slug} already exists`);
  const now = toDbTime();
  await db('feeds').insert({
    slug,
    name: options.name ?? slug,
    settings: JSON.stringify(options.settings ?? {}),
    // Applications read it from this column (README, "The directory tables").
    profile_edit_url: options.settings?.profileEditUrl ?? null,
    directory_version: 0,
    created_at: now,
    updated_at: now,
  });
  if (options.actor) await recordAudit(db, { actor: options.actor, action: 'feed.add', target: `feed ${slug}`, details: { name: options.name ?? slug } });
  return getFeed(db, slug);
}

export async function findFeed(db: Db, slugOrId: string | number): Promise<Feed | null> {
  const row = (await db<FeedRow>('feeds')
    .where(typeof slugOrId === 'number' ? { id: slugOrId } : { slug: slugOrId })
    .first()) as FeedRow | undefined;
  return row ? fromRow(row) : null;
}

export async function getFeed(db: Db, slugOrId: string | number): Promise<Feed> {
  const feed = await findFeed(db, slugOrId);
  if (!feed) throw notFound('feed', slugOrId);
  return feed;
}

export async function listFeeds(db: Db): Promise<Feed[]> {
  return ((await db<FeedRow>('feeds').orderBy('slug')) as FeedRow[]).map(fromRow);
}

/** Sets one setting from its text form; returns the new settings. */
export async function setFeedSetting(db: Db, slug: string, key: string, value: string, actor?: string): Promise<Feed> {
  return updateFeedSettings(db, slug, { [key]: value }, actor);
}

/**
 * Sets several settings from their text forms, all or none: every invalid value is reported at
 * once (`details.fields`), and nothing is stored unless all are valid. Changes are audited.
 */
export async function updateFeedSettings(db: Db, slug: string, texts: Record<string, string>, actor?: string): Promise<Feed> {
  const feed = await getFeed(db, slug);
  const parsed: Partial<FeedSettings> = {};
  const fields: Record<string, string> = {};
  for (const [key, text] of Object.entries(texts)) {
    try {
      Object.assign(parsed, parseFeedSetting(key, text));
    } catch (error) {
      if (!(error instanceof SluiceError)) throw error;
      fields[key] = error.message;
    }
  }
  const row = (await db('feeds').where({ id: feed.id }).first('settings')) as { settings: string };
  const stored = { ...(JSON.parse(row.settings) as Partial<FeedSettings>), ...parsed };
  if (Object.keys(fields).length === 0) Object.assign(fields, crossSettingProblems(resolveFeedSettings(stored)));
  const problems = Object.values(fields);
  if (problems.length) throw new SluiceError('invalid_setting', problems.join('; '), { fields });

  const changed = Object.fromEntries(
    Object.entries(parsed)
      .filter(([key, value]) => JSON.stringify(feed.settings[key as keyof FeedSettings]) !== JSON.stringify(value))
      .map(([key, value]) => [key, { before: feed.settings[key as keyof FeedSettings], after: value }]),
  );
  const update: Record<string, unknown> = { settings: JSON.stringify(stored), updated_at: toDbTime() };
  if ('profileEditUrl' in parsed) update.profile_edit_url = stored.profileEditUrl ?? null;
  await db('feeds').where({ id: feed.id }).update(update);
  if (Object.keys(changed).length) await recordAudit(db, { actor: actor ?? 'unknown', action: 'feed.settings', target: `feed ${feed.slug}`, details: changed });
  return getFeed(db, slug);
}

/** Stores the control file that maps pulled records; `actor` is audited with the file's digest. */
export async function setFeedControlFile(db: Db, slug: string, controlFile: string, actor?: string): Promise<void> {
  const feed = await getFeed(db, slug);
  await db('feeds').where({ id: feed.id }).update({ control_file: controlFile, updated_at: toDbTime() });
  const digest = (text: string | null) => (text === null ? null : createHash('sha256').update(text).digest('hex'));
  if (actor) await recordAudit(db, { actor, action: 'feed.control', target: `feed ${feed.slug}`, details: { before: digest(feed.controlFile), after: digest(controlFile) } });
}
