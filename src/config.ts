import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { configInvalid } from './errors.js';

export interface Config {
  /** `sqlite:<path>` or `mysql://user:pass@host:port/db`. */
  databaseUrl: string;
  dataDir: string;
  port: number;
  publicUrl: string;
}

/**
 * Reads and validates the environment once, at start. Every problem is listed at once, so an
 * operator fixes the whole configuration in one go.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  loadDotEnv(env);
  const problems: string[] = [];
  const dataDir = resolve(env.SLUICE_DATA_DIR || './data');
  const databaseUrl = env.DATABASE_URL || `sqlite:${resolve(dataDir, 'sluice.sqlite')}`;
  if (!/^(sqlite:|mysql:\/\/)/.test(databaseUrl)) {
    problems.push(`DATABASE_URL must start with "mysql://" or "sqlite:" (got "${redact(databaseUrl)}")`);
  } else if (databaseUrl.startsWith('mysql://')) {
    try {
      const url = new URL(databaseUrl);
      if (!url.pathname || url.pathname === '/') problems.push('DATABASE_URL must name a database, e.g. mysql://user:pass@host:3306/sluice');
    } catch {
      problems.push(`DATABASE_URL is not a valid URL (got "${redact(databaseUrl)}")`);
    }
  }
  const port = Number(env.PORT ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) problems.push(`PORT must be a port number (got "${env.PORT}")`);
  const publicUrl = env.PUBLIC_URL || `http://localhost:${port}`;
  try {
    new URL(publicUrl);
  } catch {
    problems.push(`PUBLIC_URL must be an absolute URL (got "${publicUrl}")`);
  }
  if (problems.length) throw configInvalid(problems);
  return { databaseUrl, dataDir, port, publicUrl };
}

function loadDotEnv(env: NodeJS.ProcessEnv) {
  if (env !== process.env || !existsSync('.env')) return;
  process.loadEnvFile('.env');
}

export function redact(url: string): string {
  return url.replace(/\/\/([^:/@]+):([^@]*)@/, '//$1:***@');
}
