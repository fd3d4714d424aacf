import { usageError } from '../../errors.js';
import { serve } from '../../server/serve.js';
import { EXIT } from '../output.js';
import type { Command } from './shared.js';

export const serveCommand: Command = {
  summary: 'serve [--sftp-port P]: the HTTP API, the folder inbox, SFTP and the scheduled jobs (what npm start runs)',
  // The port SFTP takes when SFTP_PORT is not set: npm start passes 2222, so the embedded
  // default takes uploads over SFTP out of the box; SFTP_PORT=off still turns it off.
  options: { 'sftp-port': { type: 'string' } },
  async run(input) {
    const config = input.loadConfig();
    // Read after the configuration, which has loaded .env: an SFTP_PORT set there wins too.
    const sftpDefault = input.options['sftp-port'];
    if (sftpDefault !== undefined && process.env.SFTP_PORT === undefined) {
      if (!/^\d{1,5}$/.test(String(sftpDefault)) || Number(sftpDefault) > 65535) throw usageError(`--sftp-port must be a port number (got "${sftpDefault}")`);
      config.sftp.port = Number(sftpDefault);
    }
    process.env.LOG_LEVEL = process.env.SLUICE_LOG_LEVEL ?? 'info';
    const server = await serve(config);
    const feeds = await server.ctx.database.knex('feeds').orderBy('slug').pluck('slug');
    process.stdout.write(
      [
        `Sluice is listening on ${server.url} (public URL ${config.publicUrl})`,
        `Admin page: ${config.publicUrl}/admin`,
        ...(server.firstAdmin
          ? [
              `  First admin account: ${server.firstAdmin.email}  password: ${server.firstAdmin.password}`,
              '  (shown this once; it is stored hashed — npx sluice admin reset-password admin@localhost makes a new one)',
            ]
          : []),
        `Drop upload sets into ${config.inboxDir}/<feed>/ — feeds: ${feeds.join(', ') || 'none yet (npx sluice feed add <slug>)'}`,
        ...(server.sftp
          ? [`SFTP on port ${server.sftp.port}, host key ${server.sftp.fingerprint} — logins: npx sluice sftp add <feed>`]
          : []),
        `Upload API: PUT ${config.publicUrl}/api/v1/feeds/<feed>/files/<name> with an API key (npx sluice key create <feed>)`,
        '',
      ].join('\n'),
    );
    await new Promise<void>((resolve) => {
      const shutdown = (signal: string) => {
        process.stdout.write(`\n${signal}: stopping intake, letting running work finish…\n`);
        server.stop().then(resolve, resolve);
      };
      process.once('SIGTERM', () => shutdown('SIGTERM'));
      process.once('SIGINT', () => shutdown('SIGINT'));
    });
    return EXIT.done;
  },
};
