import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import ssh2 from 'ssh2';
import { configInvalid } from '../errors.js';
import { fingerprintOf } from './publicKeys.js';

export interface HostKey {
  /** The private key, as ssh2 takes it. */
  key: Buffer;
  /** What a source system's administrator checks on first connection. */
  fingerprint: string;
  path: string;
}

/** Where the generated host key lives unless SFTP_HOST_KEY names one. */
export const defaultHostKeyPath = (dataDir: string) => join(dataDir, 'sftp_host_ed25519_key');

/**
 * The server's identity: read from `path`, generated there (ed25519, owner-only) on first
 * start. It must stay the same across restarts, or every source system's client warns of a
 * changed host key — so it is kept in the data folder, not made per process.
 */
export async function loadHostKey(path: string, options: { create: boolean }): Promise<HostKey> {
  let text: Buffer;
  try {
    text = await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || !options.create) throw configInvalid([`SFTP_HOST_KEY: cannot read ${path} (${(error as Error).message})`]);
    const pair = ssh2.utils.generateKeyPairSync('ed25519');
    await mkdir(dirname(path), { recursive: true });
    // `wx`: of two processes starting at once on one data folder, one writes it; the other reads it.
    await writeFile(path, pair.private, { mode: 0o600, flag: 'wx' }).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
    await writeFile(`${path}.pub`, `${pair.public}\n`, { mode: 0o644 }).catch(() => undefined);
    await chmod(path, 0o600);
    text = await readFile(path);
  }
  const parsed = ssh2.utils.parseKey(text);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error || !key.isPrivateKey()) throw configInvalid([`SFTP_HOST_KEY: ${path} is not an unencrypted OpenSSH or PEM private key`]);
  return { key: text, fingerprint: fingerprintOf(key.getPublicSSH()), path };
}
