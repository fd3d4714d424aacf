import { buffer } from 'node:stream/consumers';
import type { Context } from '../context.js';
import { MAX_CONTROL_BYTES } from '../core/uploadSet.js';
import { log } from '../log.js';
import { runFiles, type RunChannel } from '../runs/runs.service.js';
import { writeLiveProgress } from '../storage/liveProgress.js';
import { expectedFiles, receivingSnapshot, type ExpectedFile } from './receivingProgress.js';

/**
 * The progress of open upload sets, written to their `receiving` run's row by the process the
 * bytes arrive at. Chunks are only counted in memory; the row is written once a second per set
 * while files stream in (and once after each file is recorded), never per chunk.
 *
 * A file streaming into a feed's set is shown on the set that is open on its channel. The set a
 * file joins is chosen only once it has arrived whole, and a broken upload leaves no run behind:
 * the first file of a set, before any set is open, has no run to show it on.
 */

/** Where a file goes: the open set of a feed on a channel, or a run already chosen (pulls). */
export type Destination = { feedId: number; channel: RunChannel } | { runId: number };

interface Incoming {
  name: string;
  bytes: number;
  size: number | null;
}

interface Group {
  ctx: Context;
  destination: Destination;
  files: Set<Incoming>;
  /** Bytes streamed since the first of these files started, for the rate. */
  streamed: number;
  since: number;
  busy: boolean;
  last: string;
}

const groups = new Map<string, Group>();
// A process may hold several contexts (databases) at once: tests do.
const contextIds = new WeakMap<Context, number>();
let contexts = 0;
let timer: NodeJS.Timeout | null = null;

const keyOf = (ctx: Context, d: Destination) => {
  if (!contextIds.has(ctx)) contextIds.set(ctx, ++contexts);
  return `${contextIds.get(ctx)}|${'runId' in d ? `run ${d.runId}` : `${d.feedId} ${d.channel}`}`;
};

/** Counts a file's bytes as they arrive; `end()` once it is recorded, refused or broken off. */
export function trackIncoming(ctx: Context, destination: Destination, name: string, size: number | null) {
  const key = keyOf(ctx, destination);
  let group = groups.get(key);
  if (!group) {
    group = { ctx, destination, files: new Set(), streamed: 0, since: Date.now(), busy: false, last: '' };
    groups.set(key, group);
  }
  if (group.files.size === 0) [group.streamed, group.since] = [0, Date.now()];
  const file: Incoming = { name, bytes: 0, size };
  group.files.add(file);
  timer ??= setInterval(() => void tick(), Number(process.env.SLUICE_PROGRESS_MS ?? 1000)).unref();
  const owner = group;
  return {
    /** The file holds `bytes` bytes so far (SFTP writes may come out of order: the furthest counts). */
    reached(bytes: number) {
      if (bytes <= file.bytes) return;
      owner.streamed += bytes - file.bytes;
      file.bytes = bytes;
    },
    /** The set's row is refreshed at the next tick, without this file. */
    end() {
      owner.files.delete(file);
    },
  };
}

/** Rewrites the progress of every set with files streaming in (and once more after the last ends). */
async function tick(): Promise<void> {
  for (const [key, group] of groups) {
    if (group.busy) continue;
    if (group.files.size === 0) groups.delete(key);
    group.busy = true;
    refresh(group)
      .catch((error: unknown) => log.warn('could not record the progress of an upload set', { error: String(error) }))
      .finally(() => (group.busy = false));
  }
  if (groups.size === 0 && timer) {
    clearInterval(timer);
    timer = null;
  }
}

async function refresh(group: Group): Promise<void> {
  const db = group.ctx.database.knex;
  const d = group.destination;
  const open = 'runId' in d ? { id: d.runId } : await db('runs').where({ feed_id: d.feedId, channel: d.channel, state: 'receiving' }).orderBy('id').first('id');
  if (!open) return;
  const key = await writeReceivingProgress(group.ctx, Number(open.id), group.last);
  if (key) group.last = key;
}

/**
 * Writes a receiving run's progress: its recorded files, what its control file names, and what
 * streams in to this process. Skipped when nothing but the time changed since `last`; returns
 * what was written (or `last`).
 */
export async function writeReceivingProgress(ctx: Context, runId: number, last = ''): Promise<string> {
  const db = ctx.database.knex;
  const run = (await db('runs').where({ id: runId }).first('feed_id', 'channel', 'state')) as { feed_id: number; channel: RunChannel; state: string } | undefined;
  if (run?.state !== 'receiving') return last;
  const recorded = await runFiles(db, runId);
  const control = recorded.find((f) => f.role === 'control');
  const expected = control ? await expectedOf(ctx, control) : null;
  const here = [...groups.values()].filter((g) => g.ctx === ctx && ('runId' in g.destination ? g.destination.runId === runId : g.destination.feedId === Number(run.feed_id) && g.destination.channel === run.channel));
  // A file recorded whole but not yet let go of by its channel is not counted twice.
  const incoming = here.flatMap((g) => [...g.files].filter((f) => !recorded.some((r) => r.name === f.name && r.size === f.bytes)).map((f) => ({ ...f })));
  const rate = here.filter((g) => g.files.size > 0).map((g) => ({ bytes: g.streamed, seconds: (Date.now() - g.since) / 1000 }));
  const seconds = Math.max(0, ...rate.map((r) => r.seconds));
  const bytesPerSecond = seconds >= 0.5 ? Math.round(rate.reduce((n, r) => n + r.bytes, 0) / seconds) : null;
  const snapshot = receivingSnapshot({ recorded, expected, incoming, bytesPerSecond });
  const { at: _at, ...shown } = snapshot;
  const key = JSON.stringify({ ...shown, received: { ...shown.received, bytesPerSecond: null } });
  if (key === last) return last;
  // On SQLite beside the database: a write to the row would wait for a run being applied, and
  // block the pages of this thread meanwhile.
  if (!writeLiveProgress(db, runId, snapshot)) await db('runs').where({ id: runId, state: 'receiving' }).update({ progress: JSON.stringify(snapshot) });
  return key;
}

/** What a control file names, read once per stored control file (sets take many files). */
const expectedCache = new Map<string, ExpectedFile[] | null>();
async function expectedOf(ctx: Context, control: { size: number; sha256: string; storageKey: string }): Promise<ExpectedFile[] | null> {
  if (control.size > MAX_CONTROL_BYTES) return null;
  const cacheKey = `${control.storageKey} ${control.sha256}`;
  if (!expectedCache.has(cacheKey)) {
    if (expectedCache.size > 100) expectedCache.clear();
    expectedCache.set(cacheKey, expectedFiles((await buffer(ctx.archive.read(control.storageKey))).toString('utf8')));
  }
  return expectedCache.get(cacheKey)!;
}
