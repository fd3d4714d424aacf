import type { Dialect } from '../dialect.js';

export const sqliteDialect: Dialect = {
  name: 'sqlite',
  // SQLite allows 32 766 bound variables; knex's multi-row insert becomes a compound SELECT,
  // which SQLite caps at 500 terms.
  maxRowsPerInsert: (columns) => Math.max(1, Math.min(500, Math.floor(32_000 / columns))),
  async updateFrom(db, spec) {
    const sets = Object.entries(spec.set).map(([column, expr]) => `${column} = ${expr}`);
    const sql = `UPDATE ${spec.target} AS t SET ${sets.join(', ')} FROM ${spec.sources.join(', ')} WHERE ${spec.where.join(' AND ')}`;
    const result = (await db.raw(sql, spec.bindings as never[])) as unknown as { changes?: number } | number;
    return typeof result === 'number' ? result : (result?.changes ?? 0);
  },
  jsonValue: (columnSql) => `json(${columnSql})`,
  forUpdate: (query) => query,
  isUniqueViolation: (error) => String((error as { code?: string })?.code ?? '').startsWith('SQLITE_CONSTRAINT'),
};
