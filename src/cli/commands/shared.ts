import { statSync } from 'node:fs';
import { userInfo } from 'node:os';
import type { ParseArgsConfig } from 'node:util';
import type { Config } from '../../config.js';
import { openContext, type Context } from '../../context.js';
import { usageError } from '../../errors.js';
import { getFeed } from '../../feeds/feeds.service.js';
import { presentRun } from '../../runs/runs.presenter.js';
import type { Run } from '../../runs/runs.service.js';

export interface CommandInput {
  args: string[];
  options: Record<string, unknown>;
  json: boolean;
  loadConfig: () => Config;
}

export interface Command {
  summary: string;
  options?: NonNullable<ParseArgsConfig['options']>;
  run(input: CommandInput): Promise<number>;
}

export async function withContext<T>(input: CommandInput, work: (ctx: Context) => Promise<T>): Promise<T> {
  const ctx = await openContext(input.loadConfig());
  try {
    return await work(ctx);
  } finally {
    await ctx.database.close();
  }
}

export async function present(ctx: Context, run: Run, firstErrors?: number) {
  return presentRun(ctx.database.knex, run, await getFeed(ctx.database.knex, run.feedId), firstErrors);
}

/**
 * How CLI actions appear in run timelines and the audit log: `SLUICE_ACTOR` (set it where a
 * shared account or cron runs the CLI, so the log names the person or job), else the OS account
 * running the process — from the system, not from `$USER`, which anyone can set. An account
 * without a name (a container's bare uid) is logged as exactly that.
 */
export function cliActor(): string {
  const named = process.env.SLUICE_ACTOR?.trim();
  if (named) return `cli:${named}`;
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return `cli:unnamed-os-user(uid ${process.getuid?.() ?? '?'})`;
  }
}

export function positional(input: CommandInput, index: number, name: string): string {
  const value = input.args[index];
  if (value === undefined) throw usageError(`missing <${name}>`);
  return value;
}

/** A <folder> argument that must be an existing folder: a typo is a usage error, not a stack trace. */
export function folderArgument(input: CommandInput, index: number): string {
  const folder = positional(input, index, 'folder');
  if (!statSync(folder, { throwIfNoEntry: false })?.isDirectory()) throw usageError(`"${folder}" is not a folder`);
  return folder;
}

/** `--limit N`: a whole number from 1, or the default. */
export function limitOption(input: CommandInput, fallback: number): number {
  const raw = input.options.limit;
  if (raw === undefined) return fallback;
  const limit = Number(raw);
  if (!Number.isInteger(limit) || limit < 1) throw usageError(`--limit must be a whole number from 1 (got "${String(raw)}")`);
  return limit;
}

export function runId(input: CommandInput, index: number): number {
  const text = positional(input, index, 'run id');
  if (!/^\d+$/.test(text)) throw usageError(`run id must be a number (got "${text}")`);
  return Number(text);
}
