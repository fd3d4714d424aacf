/**
 * The yardsticks the bench divides by: the database's own bulk load of the same files into
 * same-shaped tables with the same unique keys — users unique on the key, memberships unique on
 * (user key, group code). MySQL/MariaDB: `LOAD DATA LOCAL INFILE`; SQLite: the `sqlite3` shell's
 * `.import`, timed as a child process.
 */
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import mysql from 'mysql2/promise';

export interface ReferenceTimes {
  users: number;
  memberships: number;
}

/** `rowId` is the surrogate key column, where the table needs one spelled out (SQLite has its rowid). */
const tableSql = (table: string, columns: string[], unique: string[], rowId: string | null) =>
  `CREATE TABLE ${table} (${rowId ? `${rowId}, ` : ''}${columns.map((c) => `${c} VARCHAR(255)`).join(', ')}, UNIQUE (${unique.join(', ')}))`;

/** LOAD DATA LOCAL INFILE of each file into a fresh table, dropped afterwards. */
export async function loadDataSeconds(url: string, files: { users: string; memberships: string }, usersColumns: string[], membershipColumns: string[]): Promise<ReferenceTimes> {
  const conn = await mysql.createConnection({ uri: url, infileStreamFactory: (path: string) => createReadStream(path) } as never);
  const load = async (table: string, file: string, columns: string[], unique: string[]) => {
    await conn.query(`DROP TABLE IF EXISTS ${table}`);
    await conn.query(`${tableSql(table, columns, unique, 'row_id INT UNSIGNED AUTO_INCREMENT PRIMARY KEY')} CHARACTER SET utf8mb4`);
    const started = performance.now();
    await conn.query({ sql: `LOAD DATA LOCAL INFILE ? INTO TABLE ${table} FIELDS TERMINATED BY ',' LINES TERMINATED BY '\\n' IGNORE 1 LINES (${columns.join(', ')})`, values: [file] });
    const seconds = (performance.now() - started) / 1000;
    await conn.query(`DROP TABLE ${table}`);
    return seconds;
  };
  try {
    return {
      users: await load('bench_ref_users', files.users, usersColumns, ['ID']),
      memberships: await load('bench_ref_memberships', files.memberships, membershipColumns, membershipColumns),
    };
  } finally {
    await conn.end();
  }
}

/** `sqlite3 <db>` with the table created and `.import --skip 1` of the file, the whole child timed. */
function sqliteImport(databaseFile: string, table: string, file: string, columns: string[], unique: string[]): Promise<number> {
  const script = `${tableSql(table, columns, unique, null)};\n.mode csv\n.import --skip 1 '${file}' ${table}\n`;
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn('sqlite3', ['-bail', databaseFile], { stdio: ['pipe', 'inherit', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0 && stderr === '') resolve((performance.now() - started) / 1000);
      else reject(new Error(`sqlite3 .import of ${file} failed (exit ${code}): ${stderr.slice(0, 300)}`));
    });
    child.stdin.end(script);
  });
}

/**
 * `.import` has no column list, so the table has the file's columns only; SQLite's implicit rowid
 * is the surrogate key LOAD DATA's table spells out as AUTO_INCREMENT.
 */
export async function sqliteImportSeconds(databaseFile: string, files: { users: string; memberships: string }, usersColumns: string[], membershipColumns: string[]): Promise<ReferenceTimes> {
  await rm(databaseFile, { force: true });
  try {
    return {
      users: await sqliteImport(databaseFile, 'bench_ref_users', files.users, usersColumns, ['ID']),
      memberships: await sqliteImport(databaseFile, 'bench_ref_memberships', files.memberships, membershipColumns, membershipColumns),
    };
  } finally {
    await rm(databaseFile, { force: true });
  }
}
