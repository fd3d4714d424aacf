import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../config.js';
import { openContext } from '../context.js';
import { CONTROL_FILE_NAME } from '../core/control/controlFile.js';
import { addFeed } from '../feeds/feeds.service.js';
import { runErrors, runEvents, type RunError } from '../runs/runs.service.js';
import { runFromFolder } from './intake.js';
import { validateRun } from './processRun.js';

export interface FolderValidation {
  ok: boolean;
  rows: number;
  errorRows: number;
  failure?: string;
  problems: RunError[];
  /** "users.csv: ignored columns: …", one line per file with columns the mapping does not use. */
  ignoredColumns: string[];
  /** What a server would do that validation alone does not show: holds that need no baseline. */
  holds: string[];
}

/**
 * Every check of a real run, offline: the same code validates the folder against a throw-away
 * embedded database, so a source system's developer sees exactly what Sluice will say.
 */
export async function validateFolder(folder: string, options: { feed?: string } = {}): Promise<FolderValidation> {
  const scratch = await mkdtemp(join(tmpdir(), 'sluice-validate-'));
  const { SLUICE_MAX_FIELD_KB, SLUICE_MAX_RECORD_KB } = process.env; // the same size limits as the service
  const ctx = await openContext(loadConfig({ DATABASE_URL: `sqlite:${join(scratch, 'validate.sqlite')}`, SLUICE_DATA_DIR: scratch, SLUICE_MAX_FIELD_KB, SLUICE_MAX_RECORD_KB }));
  try {
    const slug = options.feed ?? (await declaredFeed(folder)) ?? 'validate';
    const feed = await addFeed(ctx.database.knex, slug);
    const run = await runFromFolder(ctx, feed, folder, { keepSource: true });
    const outcome = await validateRun(ctx, run, feed);
    const problems = await runErrors(ctx.database.knex, run.id);
    const ignoredColumns = (await runEvents(ctx.database.knex, run.id)).map((e) => String(e.message)).filter((m) => m.includes(': ignored columns: '));
    // The one hold that needs no directory to judge: an empty full users file (PRODUCT §5).
    const holds =
      outcome.control?.mode === 'full' && !outcome.control.emptyOnPurpose
        ? outcome.emptyUsersFiles.map((file) => `${file} has no records: a full run would be held (emptyUsersFile) unless the control file says "emptyOnPurpose": true`)
        : [];
    return { ok: !outcome.failure, rows: outcome.rowCount, errorRows: outcome.errorRows, failure: outcome.failure, problems, ignoredColumns, holds };
  } finally {
    await ctx.database.close();
    await rm(scratch, { recursive: true, force: true });
  }
}

async function declaredFeed(folder: string): Promise<string | undefined> {
  try {
    const value = JSON.parse(await readFile(join(folder, CONTROL_FILE_NAME), 'utf8')) as { feed?: unknown };
    return typeof value.feed === 'string' && /^[a-z0-9][a-z0-9_-]{0,63}$/.test(value.feed) ? value.feed : undefined;
  } catch {
    return undefined;
  }
}
