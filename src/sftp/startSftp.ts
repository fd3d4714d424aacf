import type { Context } from '../context.js';
import { log } from '../log.js';
import { defaultHostKeyPath, loadHostKey } from './hostKey.js';
import { SftpServer } from './sftpServer.js';

/** `serve`'s SFTP endpoint, when SFTP_PORT is set; its host key is made on first start. */
export async function startSftp(ctx: Context): Promise<SftpServer | null> {
  const { config } = ctx;
  if (config.sftp.port === null) return null;
  const hostKey = await loadHostKey(config.sftp.hostKeyPath ?? defaultHostKeyPath(config.dataDir), { create: !config.sftp.hostKeyPath });
  const server = new SftpServer(ctx, { port: config.sftp.port, hostKey, maxConnections: config.sftp.maxConnections, maxUploadBytes: config.maxUploadBytes });
  await server.start();
  log.info('SFTP is listening', { port: server.port, fingerprint: hostKey.fingerprint });
  return server;
}

/** The host key's fingerprint without starting anything (`sluice sftp info`, the feed page). */
export async function sftpFingerprint(ctx: Context): Promise<string | null> {
  const { config } = ctx;
  const path = config.sftp.hostKeyPath ?? defaultHostKeyPath(config.dataDir);
  try {
    return (await loadHostKey(path, { create: false })).fingerprint;
  } catch {
    return null;
  }
}
