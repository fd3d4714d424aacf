import { join } from 'node:path';
import mysql from 'mysql2/promise';

/**
 * The database a benchmark runs against: a SQLite file in its data folder, or a MySQL database
 * made empty first (dropped and created again), so every run starts from the same state.
 */
export async function benchDatabaseUrl(db: string | undefined, mysqlUrl: string, dataDir: string, sqliteFile: string): Promise<string> {
  if (db !== 'mysql') return `sqlite:${join(dataDir, sqliteFile)}`;
  const url = new URL(mysqlUrl);
  const name = url.pathname.slice(1);
  const admin = await mysql.createConnection({ host: url.hostname, port: Number(url.port || 3306), user: url.username, password: url.password });
  await admin.query(`DROP DATABASE IF EXISTS \`${name}\``);
  await admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4`);
  await admin.end();
  return url.toString();
}
