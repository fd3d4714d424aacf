import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import ssh2, { type Connection } from 'ssh2';
import type { Context } from '../context.js';
import { getFeed, type Feed } from '../feeds/feeds.service.js';
import { log } from '../log.js';
import { checkSftpLogin, type SftpAccount } from './accounts.service.js';
import type { HostKey } from './hostKey.js';
import { serveSftp } from './session.js';

export interface SftpServerOptions {
  port: number;
  host?: string;
  hostKey: HostKey;
  /** Connections at once, over all accounts; more are closed at once. */
  maxConnections: number;
  maxUploadBytes: number;
}

/** A connection that has not logged in by then is closed: it holds a slot for nothing. */
const LOGIN_TIMEOUT_MS = 30_000;
const MAX_SFTP_CHANNELS = 4;
/** Partial uploads older than this were left by a process that stopped; others may be live. */
const STALE_UPLOAD_MS = 3_600_000;

/** Uploads still arriving live here, beside the feed folders but never scanned as one. */
export const uploadsDirOf = (inboxDir: string) => join(inboxDir, '.sftp-uploads');

/**
 * The built-in SFTP endpoint (`SFTP_PORT`): accounts log in with a password or a key, each
 * session sees its feed's inbox as `/` (see session.ts). Only the sftp subsystem is served:
 * shells, commands, other subsystems and every kind of forwarding are refused.
 */
export class SftpServer {
  private readonly server: ssh2.Server;
  private readonly connections = new Set<Connection>();
  private readonly cleanups = new Set<Promise<void>>();
  readonly uploadsDir: string;

  constructor(
    private readonly ctx: Context,
    private readonly options: SftpServerOptions,
  ) {
    this.uploadsDir = uploadsDirOf(ctx.config.inboxDir);
    this.server = new ssh2.Server({ hostKeys: [options.hostKey.key], ident: 'Sluice' }, (client, info) => this.accept(client, info.ip));
  }

  get fingerprint(): string {
    return this.options.hostKey.fingerprint;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  async start(): Promise<void> {
    await mkdir(this.uploadsDir, { recursive: true, mode: 0o700 });
    await this.sweep();
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.host ?? '0.0.0.0', () => resolve());
    });
  }

  /** Stops taking connections and ends the open ones; their unfinished uploads are dropped. */
  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const client of this.connections) client.end();
    await closed;
    await Promise.allSettled(this.cleanups);
  }

  private async sweep() {
    for (const name of await readdir(this.uploadsDir)) {
      const path = join(this.uploadsDir, name);
      const info = await stat(path).catch(() => null);
      if (info && Date.now() - info.mtimeMs > STALE_UPLOAD_MS) await rm(path, { force: true });
    }
  }

  private accept(client: Connection, address: string) {
    if (this.connections.size >= this.options.maxConnections) {
      log.warn('SFTP connection refused: too many at once', { address, limit: this.options.maxConnections });
      client.on('error', () => undefined);
      client.end();
      return;
    }
    this.connections.add(client);
    let account: SftpAccount | null = null;
    let feed: Feed | null = null;
    const loginTimer = setTimeout(() => client.end(), LOGIN_TIMEOUT_MS);
    const closers: (() => Promise<void>)[] = [];

    client.on('authentication', (auth) => {
      const proof =
        auth.method === 'password'
          ? { method: 'password' as const, password: auth.password }
          : auth.method === 'publickey'
            ? { method: 'publickey' as const, algo: auth.key.algo, key: auth.key.data, signature: auth.signature, blob: auth.blob, hashAlgo: auth.hashAlgo }
            : null;
      if (!proof) return auth.reject(['publickey', 'password']);
      const db = this.ctx.database.knex;
      const login = async () => {
        const outcome = await checkSftpLogin(db, auth.username, address, proof);
        if (outcome.ok) {
          // The feed is read before the login completes, so the session's first request
          // already finds its handlers in place.
          feed = await getFeed(db, outcome.feedId);
          account = outcome.account;
          return auth.accept();
        }
        if (outcome.reason === 'key_acceptable') return auth.accept();
        if (outcome.reason === 'too_many_attempts') log.warn('SFTP login refused: too many failed attempts', { username: auth.username, address });
        auth.reject(['publickey', 'password']);
      };
      login().catch((error: unknown) => {
        log.error('SFTP login check failed', { error: String(error) });
        auth.reject();
      });
    });

    client.on('ready', () => {
      clearTimeout(loginTimer);
      log.info('SFTP login', { account: account?.username, address });
      let channels = 0;
      client.on('session', (acceptSession) => {
        const session = acceptSession();
        for (const request of ['exec', 'shell', 'subsystem', 'pty', 'x11', 'env', 'auth-agent', 'signal', 'window-change'] as const) {
          session.on(request as 'exec', (_accept: unknown, reject?: () => void) => reject?.());
        }
        session.on('sftp', (acceptSftp, reject) => {
          if (!account || !feed || ++channels > MAX_SFTP_CHANNELS) return reject();
          const current = account;
          closers.push(
            serveSftp(acceptSftp(), {
              ctx: this.ctx,
              feed,
              account: current,
              address,
              uploadsDir: this.uploadsDir,
              maxUploadBytes: this.options.maxUploadBytes,
              abort: (reason) => {
                log.warn('SFTP connection closed', { account: current.username, address, reason });
                client.end();
              },
            }),
          );
        });
      });
    });
    client.on('tcpip', (_accept, reject) => reject());
    client.on('openssh.streamlocal', (_accept, reject) => reject());
    client.on('request', (_accept, reject) => reject?.());
    client.on('error', (error) => log.info('SFTP connection error', { address, error: String(error) }));
    client.on('close', () => {
      clearTimeout(loginTimer);
      this.connections.delete(client);
      const cleanup = Promise.allSettled(closers.map((close) => close())).then(() => undefined);
      this.cleanups.add(cleanup);
      void cleanup.finally(() => this.cleanups.delete(cleanup));
    });
  }
}
