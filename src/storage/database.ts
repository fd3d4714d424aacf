import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import knexFactory, { type Knex } from 'knex';
import type { Db, Dialect } from './dialect.js';
import { mysqlDialect } from './dialects/mysql.js';
import { sqliteDialect } from './dialects/sqlite.js';
import { migrationSource } from './migrations/index.js';
import { log } from '../log.js';

export interface Database {
  knex: Knex;
  dialect: Dialect;
  close(): Promise<void>;
}

/** Opens the database named by a `sqlite:<path>` or `mysql://…` URL. */
export function openDatabase(databaseUrl: string): Database {
  const database = connect(databaseUrl);
  logSlowQueries(database.knex);
  return database;
}

/** Statements slower than SLUICE_SLOW_QUERY_MS (default 2000) are logged with their duration. */
function logSlowQueries(knex: Knex) {
  const threshold = Number(process.env.SLUICE_SLOW_QUERY_MS ?? 2000);
  const started = new Map<string, number>();
  knex.on('query', (q: { __knexQueryUid: string }) => started.set(q.__knexQueryUid, performance.now()));
  const finish = (_: unknown, q: { __knexQueryUid: string; sql: string }) => {
    const begin = started.get(q.__knexQueryUid);
    started.delete(q.__knexQueryUid);
    if (begin !== undefined && performance.now() - begin > threshold) {
      log.warn('slow query', { ms: Math.round(performance.now() - begin), sql: q.sql.replace(/\s+/g, ' ').slice(0, 300) });
    }
  };
  knex.on('query-response', finish);
  knex.on('query-error', (error: unknown, q: { __knexQueryUid: string; sql: string }) => {
    finish(error, q);
    keepSqlOutOfMessage(error, q.sql);
  });
}

/**
 * Knex prefixes an error's message with the statement (`UPDATE … - database is locked`), and the
 * message ends up in a run's timeline and on pages. The statement moves to `error.sql`, for logs.
 */
function keepSqlOutOfMessage(error: unknown, sql: string) {
  const e = error as { message?: unknown; sql?: string };
  if (typeof e?.message !== 'string' || !e.message.startsWith(sql + ' - ')) return;
  e.message = e.message.slice(sql.length + 3);
  e.sql = sql;
}

function connect(databaseUrl: string): Database {
  if (databaseUrl.startsWith('sqlite:')) {
    const filename = databaseUrl.slice('sqlite:'.length);
    if (filename !== ':memory:') mkdirSync(dirname(filename), { recursive: true });
    const knex = knexFactory({
      client: 'better-sqlite3',
      connection: { filename },
      useNullAsDefault: true,
      compileSqlOnError: false,
      pool: {
        min: 1,
        max: 1,
        afterCreate(conn: { pragma(sql: string): unknown; prepare(sql: string): unknown }, done: (err: Error | null, conn: unknown) => void) {
          // The server's run executor writes through a connection of its own (a worker thread).
          // A deferred transaction that reads and then writes fails at once with "database is
          // locked" when the other connection wrote meanwhile — the busy timeout does not apply
          // to that upgrade. Taking the write lock at BEGIN makes it wait its turn instead.
          const prepare = conn.prepare.bind(conn);
          conn.prepare = (sql: string) => prepare(sql === 'BEGIN;' ? 'BEGIN IMMEDIATE;' : sql);
          // WAL lets the admin page read while a run applies; the busy timeout lets a CLI
          // command and the server share the file.
          conn.pragma('journal_mode = WAL');
          conn.pragma(`busy_timeout = ${Number(process.env.SLUICE_SQLITE_BUSY_MS ?? 30_000)}`);
          conn.pragma('foreign_keys = ON');
          conn.pragma('synchronous = NORMAL');
          done(null, conn);
        },
      },
    });
    return { knex, dialect: sqliteDialect, close: () => knex.destroy() };
  }
  const url = new URL(databaseUrl);
  const knex = knexFactory({
    client: 'mysql2',
    connection: {
      host: url.hostname,
      port: Number(url.port || 3306),
      user: decodeURIComponent(url.username),
      password: decodeURIComponent(url.password),
      database: url.pathname.slice(1),
      charset: 'utf8mb4',
      timezone: 'Z',
      dateStrings: true,
      supportBigNumbers: true,
      multipleStatements: false,
    },
    pool: { min: 0, max: 8 },
    compileSqlOnError: false,
  });
  return { knex, dialect: mysqlDialect, close: () => knex.destroy() };
}

export async function migrateLatest(db: Database): Promise<string[]> {
  // Looked at first, by reading only: `latest` takes the migration lock, a write, and on SQLite
  // a command started while another process applies a run would wait for its commit.
  const [, pending] = (await db.knex.migrate.list({ migrationSource })) as [unknown[], unknown[]];
  if (pending.length === 0) return [];
  const [, applied] = (await db.knex.migrate.latest({ migrationSource })) as [number, string[]];
  return applied;
}

/** Runs `work` in a transaction unless `db` already is one; callers decide the boundary. */
export async function inTransaction<T>(db: Db, work: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
  if ((db as Knex.Transaction).isTransaction) return work(db as Knex.Transaction);
  return (db as Knex).transaction(work);
}

/** Inserts many rows in chunks the database accepts. */
/** The dialect of a connection opened by `openDatabase` (for migrations, which get only the knex). */
export const dialectOf = (db: Knex): Dialect => ((db.client.config as { client?: unknown }).client === 'better-sqlite3' ? sqliteDialect : mysqlDialect);

export async function insertMany(db: Db, dialect: Dialect, table: string, rows: Record<string, unknown>[]): Promise<void> {
  if (rows.length === 0) return;
  const size = dialect.maxRowsPerInsert(Object.keys(rows[0]!).length);
  for (let i = 0; i < rows.length; i += size) await db(table).insert(rows.slice(i, i + size));
}

/** `SELECT COUNT(*)` of a query, as a number on both dialects (MySQL answers a string). */
export async function countRows(query: Knex.QueryBuilder): Promise<number> {
  const [row] = (await query.clone().clearSelect().clearOrder().count({ n: '*' })) as { n: number | string }[];
  return Number(row?.n ?? 0);
}
