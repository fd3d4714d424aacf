import type { Knex } from 'knex';
import type { BulkWriter } from './bulk.js';

export type Db = Knex | Knex.Transaction;

/**
 * Everything that differs between MySQL and SQLite, in one place. Services never ask which
 * database they are on; they ask the dialect.
 */
export interface Dialect {
  readonly name: 'mysql' | 'sqlite';
  /**
   * How many run executors one process may run at once: each writes its run through its own
   * connection, which only a database with concurrent writers lets go on side by side.
   */
  readonly maxExecutors: number;
  /** Largest number of rows one multi-row INSERT may carry for a row of `columns` columns. */
  maxRowsPerInsert(columns: number): number;
  /** `UPDATE target JOIN source SET … WHERE …`, spelt the way this database wants it. */
  updateFrom(db: Db, spec: UpdateFromSpec): Promise<number>;
  /**
   * Deletes the target rows (aliased `t`) that join the sources, spelt so that the database
   * drives the join from the sources: MySQL runs `DELETE … WHERE id IN (SELECT …)` as a scan of
   * the target with a dependent subquery per row.
   */
  deleteFrom(db: Db, spec: DeleteFromSpec): Promise<number>;
  /** `table` (with its alias, if any) read through `index` only, where the database may otherwise pick a worse way. */
  withIndex(table: string, index: string): string;
  /**
   * `table` (with its alias) read along its primary key, for keyset pages by id: SQLite would
   * otherwise take the run_id index and sort all of a run's rows again for every page.
   */
  inIdOrder(tableAndAlias: string): string;
  /**
   * A join keyword that reads the table on its left first: for a join driven by a run's few
   * staged rows into a large directory table, which SQLite otherwise may read whole.
   */
  leftFirstJoin: string;
  /**
   * The lower-cased e-mail address of a `directory_users` row (by its alias), spelt as the
   * lookup index covers it: MariaDB indexes an expression only through a generated column.
   */
  lowerEmail(alias: string): string;
  /** Creates (or drops) that index: `migrations/20261128Q`. */
  emailLookupIndex: { create(db: Knex): Promise<void>; drop(db: Knex): Promise<void> };
  /** SQL that turns a JSON text column into a JSON value inside json_object(). */
  jsonValue(columnSql: string): string;
  /**
   * One row per key of the JSON object in `afterSql` (a flat object): `from` is appended to a
   * FROM clause, `field` names the key, and the two tests say whether its value is JSON null
   * (or absent) after and before.
   */
  jsonEntries(afterSql: string, beforeSql: string): { from: string; field: string; afterIsNull: string; beforeIsNull: string };
  /** Lock a row for the rest of the transaction (no-op where the whole database is locked). */
  forUpdate<T extends Knex.QueryBuilder>(query: T): T;
  /** Whether an error says a unique key was violated. */
  isUniqueViolation(error: unknown): boolean;
  /** Whether an error says the database rolled the transaction back to break a deadlock. */
  isDeadlock(error: unknown): boolean;
  /** A writer for many rows of one table, outside any transaction (staging, change sets). */
  openBulkWriter(knex: Knex, table: string, columns: string[]): Promise<BulkWriter>;
}

export interface UpdateFromSpec {
  /** e.g. `directory_users`, aliased as `t`. */
  target: string;
  /** FROM/JOIN part listing the source tables with aliases, as comma-joined tables. */
  sources: string[];
  /** Assignments `column = expression` on the target (unqualified column names). */
  set: Record<string, string>;
  /** Join and filter conditions (ANDed), referring to `t` and the source aliases. */
  where: string[];
  bindings: unknown[];
}

export type DeleteFromSpec = Omit<UpdateFromSpec, 'set'>;

/** Timestamps are stored as UTC `YYYY-MM-DD HH:MM:SS.mmm` text on both databases. */
export function toDbTime(date: Date = new Date()): string {
  return date.toISOString().replace('T', ' ').replace('Z', '');
}

export function fromDbTime(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value.toISOString();
  const text = String(value);
  return text.includes('T') ? text : text.replace(' ', 'T') + (text.endsWith('Z') ? '' : 'Z');
}
