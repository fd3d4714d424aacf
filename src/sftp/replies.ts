import type { Stats } from 'node:fs';
import { constants } from 'node:fs';
import ssh2, { type Attributes } from 'ssh2';

const { STATUS_CODE } = ssh2.utils.sftp;

/** Thrown inside a request to answer it with a status and a message the client shows. */
export class Refusal extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}
export const denied = (message: string) => new Refusal(STATUS_CODE.PERMISSION_DENIED, message);
export const noSuchFile = () => new Refusal(STATUS_CODE.NO_SUCH_FILE, 'no such file');

export const attrsOf = (s: Stats): Attributes => ({ mode: s.mode, uid: 0, gid: 0, size: s.size, atime: Math.floor(s.atimeMs / 1000), mtime: Math.floor(s.mtimeMs / 1000) });
export const ROOT_ATTRS: Attributes = { mode: constants.S_IFDIR | 0o755, uid: 0, gid: 0, size: 0, atime: 0, mtime: 0 };
export const longname = (name: string, s: Stats) => `-rw-r--r--    1 sluice   sluice   ${String(s.size).padStart(10)} ${s.mtime.toISOString().slice(0, 16).replace('T', ' ')} ${name}`;
