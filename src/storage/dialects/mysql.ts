import type { Dialect } from '../dialect.js';

export const mysqlDialect: Dialect = {
  name: 'mysql',
  // Statements stay well under max_allowed_packet (16 MB by default) and 65 535 placeholders.
  maxRowsPerInsert: (columns) => Math.max(1, Math.min(2000, Math.floor(60_000 / columns))),
  async updateFrom(db, spec) {
    const sets = Object.entries(spec.set).map(([column, expr]) => `t.${column} = ${expr}`);
    const sql = `UPDATE ${spec.target} AS t, ${spec.sources.join(', ')} SET ${sets.join(', ')} WHERE ${spec.where.join(' AND ')}`;
    const [result] = (await db.raw(sql, spec.bindings as never[])) as unknown as [{ affectedRows: number }];
    return result.affectedRows;
  },
  jsonValue: (columnSql) => `JSON_EXTRACT(${columnSql}, '$')`,
  forUpdate: (query) => query.forUpdate() as typeof query,
  isUniqueViolation: (error) => (error as { code?: string })?.code === 'ER_DUP_ENTRY',
};
