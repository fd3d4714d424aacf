import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import knexFactory from 'knex';
import { loadConfig } from '../../src/config.js';
import { openContext, type Context } from '../../src/context.js';

/**
 * The storage suite runs on both databases. MariaDB is required: set SLUICE_TEST_MYSQL=skip to
 * leave it out on a machine without one (CI never does).
 */
export const mysqlServerUrl = process.env.SLUICE_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';
const skipMysql = process.env.SLUICE_TEST_MYSQL === 'skip';

export interface TestDatabase {
  name: 'sqlite' | 'mysql';
  /** A fresh, empty database; `drop` removes it. */
  create(): Promise<{ url: string; drop(): Promise<void> }>;
}

const sqlite: TestDatabase = {
  name: 'sqlite',
  async create() {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-sqlite-'));
    return { url: `sqlite:${join(dir, 'test.sqlite')}`, drop: () => rm(dir, { recursive: true, force: true }) };
  },
};

const mysql: TestDatabase = {
  name: 'mysql',
  async create() {
    const server = new URL(mysqlServerUrl);
    const name = `sluice_t_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
    const admin = knexFactory({
      client: 'mysql2',
      connection: { host: server.hostname, port: Number(server.port || 3306), user: decodeURIComponent(server.username), password: decodeURIComponent(server.password) },
    });
    try {
      await admin.raw(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
    } catch (error) {
      await admin.destroy();
      throw new Error(`MariaDB/MySQL is required for the storage suite at ${mysqlServerUrl} (${(error as Error).message}); start it, or set SLUICE_TEST_MYSQL=skip`);
    }
    const url = new URL(server);
    url.pathname = `/${name}`;
    return {
      url: url.toString(),
      async drop() {
        await admin.raw(`DROP DATABASE IF EXISTS \`${name}\``);
        await admin.destroy();
      },
    };
  },
};

export const testDatabases: TestDatabase[] = skipMysql ? [sqlite] : [sqlite, mysql];

export interface TestEnv {
  ctx: Context;
  dataDir: string;
  url: string;
  close(): Promise<void>;
}

/** A migrated database and a data folder of its own. */
export async function openTestEnv(database: TestDatabase, env: Record<string, string> = {}): Promise<TestEnv> {
  const db = await database.create();
  const dataDir = await mkdtemp(join(tmpdir(), 'sluice-data-'));
  const ctx = await openContext(loadConfig({ DATABASE_URL: db.url, SLUICE_DATA_DIR: dataDir, SLUICE_SETTLE_SECONDS: '0', ...env }));
  return {
    ctx,
    dataDir,
    url: db.url,
    async close() {
      await ctx.database.close();
      await db.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
