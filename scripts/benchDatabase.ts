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

/** The administrator the benchmarks sign in as. */
export const BENCH_ADMIN = { email: 'bench@example.org', password: 'benchmark password' };

/** Signs in to the admin pages of the server at `base`; returns the session's cookie header. */
export async function signIn(base: string, admin = BENCH_ADMIN): Promise<string> {
  const cookies: string[] = [];
  const form = await fetch(`${base}/admin/sign-in`);
  cookies.push(...form.headers.getSetCookie().map((c) => c.split(';')[0]!));
  const token = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1]!;
  const signed = await fetch(`${base}/admin/sign-in`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: cookies.join('; ') },
    body: new URLSearchParams({ _csrf: token, email: admin.email, password: admin.password }).toString(),
  });
  cookies.push(...signed.headers.getSetCookie().map((c) => c.split(';')[0]!));
  return cookies.join('; ');
}
