import { notFound, SluiceError, usageError } from '../errors.js';
import { parseFeedSetting, resolveFeedSettings, type FeedSettings } from '../core/feedSettings.js';
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

export async function addFeed(db: Db, slug: string, options: { name?: string; settings?: Partial<FeedSettings> } = {}): Promise<Feed> {
  if (!SLUG.test(slug)) throw usageError(`feed slug "${slug}" must be lower-case letters, digits, "-" and "_" (at most 64)`);
  if (await db('feeds').where({ slug }).first()) throw new SluiceError('conflict', `feed ${slug} already exists`);
  const now = toDbTime();
  await db('feeds').insert({
    slug,
    name: options.name ?? slug,
    settings: JSON.stringify(options.settings ?? {}),
    directory_version: 0,
    created_at: now,
    updated_at: now,
  });
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
export async function setFeedSetting(db: Db, slug: string, key: string, value: string): Promise<Feed> {
  const feed = await getFeed(db, slug);
  const row = (await db('feeds').where({ id: feed.id }).first('settings')) as { settings: string };
  const stored = { ...(JSON.parse(row.settings) as Partial<FeedSettings>), ...parseFeedSetting(key, value) };
  const update: Record<string, unknown> = { settings: JSON.stringify(stored), updated_at: toDbTime() };
  if (key === 'profileEditUrl') update.profile_edit_url = stored.profileEditUrl ?? null;
  await db('feeds').where({ id: feed.id }).update(update);
  return getFeed(db, slug);
}

export async function setFeedControlFile(db: Db, slug: string, controlFile: string): Promise<void> {
  const feed = await getFeed(db, slug);
  await db('feeds').where({ id: feed.id }).update({ control_file: controlFile, updated_at: toDbTime() });
}
