import type { Knex } from 'knex';
import { ChunkedWriter } from '../bulk.js';
import type { Dialect } from '../dialect.js';

interface RawSqlite {
  prepare(sql: string): { run(...values: unknown[]): unknown };
  transaction<T extends (...args: never[]) => unknown>(fn: T): T;
}

const toSqlite = (v: unknown) => (typeof v === 'boolean' ? Number(v) : v);

export const sqliteDialect: Dialect = {
  name: 'sqlite',
  // One writer for the whole database: a second executor would only wait for the first.
  maxExecutors: 1,
  // SQLite allows 32 766 bound variables; knex's multi-row insert becomes a compound SELECT,
  // which SQLite caps at 500 terms.
  maxRowsPerInsert: (columns) => Math.max(1, Math.min(500, Math.floor(32_000 / columns))),
  async updateFrom(db, spec) {
    const sets = Object.entries(spec.set).map(([column, expr]) => `${column} = ${expr}`);
    const sql = `UPDATE ${spec.target} AS t SET ${sets.join(', ')} FROM ${spec.sources.join(', ')} WHERE ${spec.where.join(' AND ')}`;
    const result = (await db.raw(sql, spec.bindings as never[])) as unknown as { changes?: number } | number;
    return typeof result === 'number' ? result : (result?.changes ?? 0);
  },
  // SQLite has no DELETE with a join; it runs the IN list once, as a table of rowids.
  async deleteFrom(db, spec) {
    const sql = `DELETE FROM ${spec.target} WHERE rowid IN (SELECT t.rowid FROM ${spec.target} AS t, ${spec.sources.join(', ')} WHERE ${spec.where.join(' AND ')})`;
    const result = (await db.raw(sql, spec.bindings as never[])) as unknown as { changes?: number } | number;
    return typeof result === 'number' ? result : (result?.changes ?? 0);
  },
  // One writer at a time: a wider scan locks nothing more.
  withIndex: (table) => table,
  // NOT INDEXED leaves the rowid (the integer primary key) as the only way in.
  inIdOrder: (tableAndAlias) => `${tableAndAlias} NOT INDEXED`,
  // SQLite never reorders the tables of a CROSS JOIN (its documented planner control).
  leftFirstJoin: 'CROSS JOIN',
  // SQLite indexes the expression itself and uses the index for a query spelt the same way.
  lowerEmail: (alias) => `lower(${alias}.email)`,
  emailLookupIndex: {
    async create(db) {
      await db.raw('CREATE INDEX directory_users_email_lookup_index ON directory_users (lower(email))');
    },
    async drop(db) {
      await db.raw('DROP INDEX directory_users_email_lookup_index');
    },
  },
  jsonValue: (columnSql) => `json(${columnSql})`,
  jsonEntries: (afterSql, beforeSql) => ({
    from: `json_each(${afterSql}) AS je`,
    field: 'je.key',
    afterIsNull: `je.type = 'null'`,
    beforeIsNull: `COALESCE(json_type(${beforeSql}, '$.' || json_quote(je.key)), 'null') = 'null'`,
  }),
  forUpdate: (query) => query,
  isUniqueViolation: (error) => String((error as { code?: string })?.code ?? '').startsWith('SQLITE_CONSTRAINT'),
  // One writer at a time: SQLite has no deadlocks to break.
  isDeadlock: () => false,
  // One prepared statement in one transaction per chunk; the connection is borrowed only while
  // a chunk is written, since the pool has just the one.
  async openBulkWriter(knex: Knex, table: string, columns: string[]) {
    const sql = `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`;
    return new ChunkedWriter(10_000, async (rows) => {
      const conn = (await knex.client.acquireConnection()) as RawSqlite;
      try {
        const statement = conn.prepare(sql);
        conn.transaction(() => {
          for (const row of rows) statement.run(...row.map(toSqlite));
        })();
      } finally {
        await knex.client.releaseConnection(conn);
      }
    });
  },
};

/** The file of an SQLite database `db` works on; null for any other database or `:memory:`. */
export function sqliteFileOf(db: Knex): string | null {
  const config = db.client.config as { client?: unknown; connection?: { filename?: unknown } };
  const filename = config.client === 'better-sqlite3' ? config.connection?.filename : undefined;
  return typeof filename === 'string' && filename !== ':memory:' ? filename : null;
}
