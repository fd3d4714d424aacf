import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import type { Knex } from 'knex';
import { SluiceError } from '../../errors.js';
import { log } from '../../log.js';
import { ChunkedWriter, type BulkWriter } from '../bulk.js';
import type { Dialect } from '../dialect.js';

interface RawMysql {
  query(options: { sql: string; infileStreamFactory?: () => NodeJS.ReadableStream }, callback: (error: Error | null, result?: unknown) => void): void;
}

interface Warning {
  Level: string;
  Code: number;
  Message: string;
}

const loadDataEnabled = new WeakMap<Knex, Promise<boolean>>();

/** `LOAD DATA LOCAL INFILE` needs the server's consent (`local_infile`); ask once per pool. */
function canLoadData(knex: Knex): Promise<boolean> {
  let answer = loadDataEnabled.get(knex);
  if (!answer) {
    answer = knex
      .raw('SELECT @@GLOBAL.local_infile AS enabled')
      .then(([rows]: [{ enabled: number | string }[]]) => Number(rows[0]?.enabled) === 1)
      .then((enabled: boolean) => {
        if (!enabled) log.warn('the MySQL server has local_infile off; staging uses multi-row INSERT, which is slower');
        return enabled;
      });
    loadDataEnabled.set(knex, answer);
  }
  return answer;
}

const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r', '\0': '\\0' };
function field(value: unknown): string {
  if (value === null || value === undefined) return '\\N';
  if (typeof value === 'boolean') return value ? '1' : '0';
  const text = String(value);
  return /[\\\t\n\r\0]/.test(text) ? text.replace(/[\\\t\n\r\0]/g, (c) => ESCAPES[c]!) : text;
}

/**
 * Streams rows as tab-separated text into `LOAD DATA LOCAL INFILE` on a connection of its own.
 * The statement starts with the first row, and the connection waits as long as the reader
 * needs: a writer may sit idle while another file of the set is read.
 */
class LoadDataWriter implements BulkWriter {
  private readonly stream = new PassThrough();
  private done: Promise<void> | null = null;
  private failure: unknown;
  private pending: string[] = [];
  private written = 0;

  constructor(
    private readonly knex: Knex,
    private readonly table: string,
    private readonly columns: string[],
  ) {}

  private start(): Promise<void> {
    const sql = `LOAD DATA LOCAL INFILE 'sluice-bulk' INTO TABLE ${this.table} CHARACTER SET utf8mb4
      FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' (${this.columns.join(', ')})`;
    return (async () => {
      const conn = (await this.knex.client.acquireConnection()) as RawMysql;
      const query = (options: Parameters<RawMysql['query']>[0]) =>
        new Promise<unknown>((resolve, reject) => conn.query(options, (e, result) => (e ? reject(e) : resolve(result))));
      try {
        await query({ sql: 'SET SESSION net_read_timeout = 86400' });
        const result = (await query({ sql, infileStreamFactory: () => this.stream })) as { warningStatus?: number };
        // LOAD DATA LOCAL turns what an INSERT refuses (a value too long, a bad number) into
        // warnings and stores the value cut: any warning fails the load instead.
        if (result?.warningStatus) {
          const warnings = (await query({ sql: 'SHOW WARNINGS LIMIT 5' })) as Warning[];
          throw new SluiceError(
            'database',
            `loading ${this.table} gave ${result.warningStatus} warning(s), so a value may have been stored cut or changed: ${warnings.map((w) => `${w.Level} ${w.Code}: ${w.Message}`).join('; ')}`,
            { table: this.table, warnings },
          );
        }
      } finally {
        await this.knex.client.releaseConnection(conn);
      }
    })().catch((error: unknown) => {
      this.failure = error;
      this.stream.destroy();
      throw error;
    });
  }

  async write(values: unknown[]) {
    if (this.failure) throw this.failure;
    this.done ??= this.start();
    this.pending.push(values.map(field).join('\t'));
    if (this.pending.length >= 1000) await this.flush();
  }

  private async flush() {
    if (this.pending.length === 0) return;
    const chunk = this.pending.join('\n') + '\n';
    this.written += this.pending.length;
    this.pending = [];
    if (!this.stream.write(chunk)) await Promise.race([once(this.stream, 'drain'), this.done]);
  }

  async close() {
    if (!this.done) return 0;
    await this.flush();
    this.stream.end();
    await this.done;
    return this.written;
  }
}

export const mysqlDialect: Dialect = {
  name: 'mysql',
  // Row locks let runs of different feeds write at once; each executor may hold a transaction and
  // a bulk writer's connection, so half the pool (8) leaves room for the rest.
  maxExecutors: 4,
  // Statements stay well under max_allowed_packet (16 MB by default) and 65 535 placeholders.
  maxRowsPerInsert: (columns) => Math.max(1, Math.min(2000, Math.floor(60_000 / columns))),
  async updateFrom(db, spec) {
    const sets = Object.entries(spec.set).map(([column, expr]) => `t.${column} = ${expr}`);
    const sql = `UPDATE ${spec.target} AS t, ${spec.sources.join(', ')} SET ${sets.join(', ')} WHERE ${spec.where.join(' AND ')}`;
    const [result] = (await db.raw(sql, spec.bindings as never[])) as unknown as [{ affectedRows: number }];
    return result.affectedRows;
  },
  async deleteFrom(db, spec) {
    const sql = `DELETE t FROM ${spec.target} AS t, ${spec.sources.join(', ')} WHERE ${spec.where.join(' AND ')}`;
    const [result] = (await db.raw(sql, spec.bindings as never[])) as unknown as [{ affectedRows: number }];
    return result.affectedRows;
  },
  // A statement that scans the primary key locks every row it passes, other feeds' too, until
  // the apply commits; MySQL picks that scan once a feed holds a good share of the table.
  withIndex: (table, index) => `${table} FORCE INDEX (${index})`,
  // MySQL takes the primary key for keyset pages by itself; forced so that no estimate changes it.
  inIdOrder: (tableAndAlias) => `${tableAndAlias} FORCE INDEX (PRIMARY)`,
  leftFirstJoin: 'STRAIGHT_JOIN',
  lowerEmail: (alias) => `${alias}.email_lookup`,
  // VIRTUAL: computed when read, stored only in the index (MySQL 8 and MariaDB alike).
  emailLookupIndex: {
    async create(db) {
      await db.raw('ALTER TABLE directory_users ADD COLUMN email_lookup VARCHAR(320) GENERATED ALWAYS AS (lower(email)) VIRTUAL, ADD INDEX directory_users_email_lookup_index (email_lookup)');
    },
    async drop(db) {
      await db.raw('ALTER TABLE directory_users DROP INDEX directory_users_email_lookup_index, DROP COLUMN email_lookup');
    },
  },
  jsonValue: (columnSql) => `JSON_EXTRACT(${columnSql}, '$')`,
  // JSON_TABLE walks arrays, not objects: the object's keys become an array first.
  jsonEntries: (afterSql, beforeSql) => ({
    from: `JSON_TABLE(JSON_KEYS(${afterSql}), '$[*]' COLUMNS (field VARCHAR(512) PATH '$')) AS je`,
    field: 'je.field',
    afterIsNull: `COALESCE(JSON_TYPE(JSON_EXTRACT(${afterSql}, CONCAT('$.', JSON_QUOTE(je.field)))), 'NULL') = 'NULL'`,
    beforeIsNull: `COALESCE(JSON_TYPE(JSON_EXTRACT(${beforeSql}, CONCAT('$.', JSON_QUOTE(je.field)))), 'NULL') = 'NULL'`,
  }),
  forUpdate: (query) => query.forUpdate() as typeof query,
  isUniqueViolation: (error) => (error as { code?: string })?.code === 'ER_DUP_ENTRY',
  isDeadlock: (error) => (error as { code?: string })?.code === 'ER_LOCK_DEADLOCK',
  async openBulkWriter(knex, table, columns) {
    if (await canLoadData(knex)) return new LoadDataWriter(knex, table, columns);
    const size = mysqlDialect.maxRowsPerInsert(columns.length);
    return new ChunkedWriter(size, async (rows) => {
      await knex(table).insert(rows.map((row) => Object.fromEntries(columns.map((c, i) => [c, row[i]]))));
    });
  },
};
