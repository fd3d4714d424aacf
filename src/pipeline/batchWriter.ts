import type { Db, Dialect } from '../storage/dialect.js';

/** Collects rows and inserts them in the largest chunks the database accepts. */
export class BatchWriter<Row extends Record<string, unknown>> {
  private rows: Row[] = [];
  private size = 0;
  written = 0;

  constructor(
    private readonly db: Db,
    private readonly dialect: Dialect,
    private readonly table: string,
  ) {}

  async add(row: Row): Promise<void> {
    if (this.size === 0) this.size = this.dialect.maxRowsPerInsert(Object.keys(row).length);
    this.rows.push(row);
    if (this.rows.length >= this.size) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.rows.length === 0) return;
    const rows = this.rows;
    this.rows = [];
    await this.db(this.table).insert(rows);
    this.written += rows.length;
  }
}
