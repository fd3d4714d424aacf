import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import knexFactory from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, sluice } from '../helpers/cli.js';
import { startSmtpServer, type SmtpTestServer } from '../helpers/smtp.js';
import { samples } from '../helpers/uploads.js';
import { until } from '../helpers/wait.js';

describe('mail across a crash', () => {
  let smtp: SmtpTestServer;
  let dataDir: string;
  beforeAll(async () => {
    smtp = await startSmtpServer();
    dataDir = await mkdtemp(join(tmpdir(), 'sluice-mail-crash-'));
  });
  afterAll(async () => {
    await smtp?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('resends a message the server accepted before the process was killed with the same Message-ID, then marks it sent', async () => {
    const env = { SLUICE_DATA_DIR: dataDir, DATABASE_URL: '', PORT: '0', SMTP_URL: smtp.url, SLUICE_LEASE_SECONDS: '2', PUBLIC_URL: 'https://sluice.example.org' };
    expect((await runCli(['feed', 'add', 'hr'], env)).code).toBe(0);
    expect((await runCli(['feed', 'set', 'hr', 'reportEmails', 'ops@example.org'], env)).code).toBe(0);
    expect((await runCli(['import', join(samples, 'basic'), '--feed', 'hr', '--keep'], env)).code).toBe(3);

    const faultFile = join(dataDir, 'fault');
    const crashing = sluice(['serve'], { ...env, SLUICE_FAULT: 'mail:after-accept', SLUICE_FAULT_FILE: faultFile });
    await until('the server to accept the report', async () => existsSync(faultFile), 30_000);
    crashing.child.kill('SIGKILL');
    await crashing.done;
    expect(smtp.received).toHaveLength(1);

    const db = knexFactory({ client: 'better-sqlite3', connection: { filename: join(dataDir, 'sluice.sqlite') }, useNullAsDefault: true });
    const restarted = sluice(['serve'], env);
    try {
      expect((await db('mail_outbox').first('state')).state).toBe('pending');
      await until('the report to be marked sent', async () => (await db('mail_outbox').first('state')).state === 'sent', 40_000);
      const { message_id: messageId } = await db('mail_outbox').first('message_id');
      expect(smtp.received.map((m) => m.messageId)).toEqual([messageId, messageId]);
      expect(smtp.received[1]!.subject).toBe('[Sluice] hr: run 1 held — needs a decision');
    } finally {
      await db.destroy();
      restarted.child.kill('SIGTERM');
      await restarted.done;
    }
  });
});
