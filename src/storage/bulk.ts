/** Writes many rows of one table as fast as the database allows; see each dialect's `openBulkWriter`. */
export interface BulkWriter {
  write(values: unknown[]): Promise<void>;
  /** Flushes what is left; resolves with the number of rows written. */
  close(): Promise<number>;
}

/** Rows collected in memory and handed over a chunk at a time. */
export class ChunkedWriter implements BulkWriter {
  private rows: unknown[][] = [];
  private written = 0;

  constructor(
    private readonly chunkSize: number,
    private readonly flushChunk: (rows: unknown[][]) => Promise<void>,
  ) {}

  async write(values: unknown[]) {
    this.rows.push(values);
    if (this.rows.length >= this.chunkSize) await this.flush();
  }

  private async flush() {
    if (this.rows.length === 0) return;
    const rows = this.rows;
    this.rows = [];
    await this.flushChunk(rows);
    this.written += rows.length;
  }

  async close() {
    await this.flush();
    return this.written;
  }
}
