import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, redact } from '../../src/config.js';

describe('configuration', () => {
  it('defaults to the embedded database under ./data', () => {
    expect(loadConfig({})).toEqual({
      databaseUrl: `sqlite:${resolve('data', 'sluice.sqlite')}`,
      dataDir: resolve('data'),
      port: 8080,
      publicUrl: 'http://localhost:8080',
      inboxDir: resolve('data', 'inbox'),
      settleMs: 5000,
      incompleteTimeoutMs: 24 * 3_600_000,
      maxUploadBytes: 2048 * 1024 * 1024,
      s3InboxUrl: null,
      archiveUrl: null,
      s3: { endpoint: undefined, region: 'us-east-1', forcePathStyle: false },
      mail: { smtpUrl: null, from: 'Sluice <sluice@localhost>', digestAtMinutes: 480, digestHeldMs: 24 * 3_600_000 },
      secretKey: null,
      runJobs: true,
      trustProxy: false,
      readLimits: { maxFieldChars: 64 * 1024, maxRecordChars: 1024 * 1024 },
      sftp: { port: null, hostKeyPath: null, maxConnections: 50 },
      executors: 2,
    });
    expect(loadConfig({ SLUICE_MAX_FIELD_KB: '128', SLUICE_MAX_RECORD_KB: '4096' }).readLimits).toEqual({ maxFieldChars: 128 * 1024, maxRecordChars: 4096 * 1024 });
    expect(() => loadConfig({ SLUICE_MAX_FIELD_KB: '512', SLUICE_MAX_RECORD_KB: '256' })).toThrow('SLUICE_MAX_RECORD_KB (256) must be at least SLUICE_MAX_FIELD_KB (512)');
  });

  it('lists every problem at once, without printing passwords', () => {
    expect(() => loadConfig({ DATABASE_URL: 'postgres://u:secret@h/db', PORT: 'eighty', PUBLIC_URL: 'not a url' })).toThrow(
      'Invalid configuration:\n' +
        '  - DATABASE_URL must start with "mysql://" or "sqlite:" (got "postgres://u:***@h/db")\n' +
        '  - PORT must be a port number (got "eighty")\n' +
        '  - PUBLIC_URL must be an absolute URL (got "not a url")',
    );
    expect(() => loadConfig({ DATABASE_URL: 'mysql://root@localhost' })).toThrow(/must name a database/);
    expect(() => loadConfig({ SFTP_PORT: '22x', SFTP_HOST_KEY: '/nonexistent/key', SFTP_MAX_CONNECTIONS: '0' })).toThrow(
      'Invalid configuration:\n' +
        '  - SFTP_PORT must be a port number, or "off" (got "22x")\n' +
        '  - SFTP_HOST_KEY names /nonexistent/key, which does not exist (leave it unset to have a key generated into the data folder)\n' +
        '  - SFTP_MAX_CONNECTIONS must be a number ≥ 1 (got "0")',
    );
    expect(loadConfig({ SFTP_PORT: 'off' }).sftp.port).toBeNull();
    expect(loadConfig({ SFTP_PORT: '2222' }).sftp.port).toBe(2222);
    expect(redact('mysql://root:pw@db:3306/sluice')).toBe('mysql://root:***@db:3306/sluice');
  });
});
