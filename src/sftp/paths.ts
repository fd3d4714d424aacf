import { fileNameProblem } from '../core/fileNames.js';

/**
 * What an SFTP path means inside a session, whose `/` is its feed's inbox folder: the folder
 * itself, one file in it, or nothing it may touch. Absolute and relative paths are read the
 * same way (the working folder is always `/`); `..` is refused outright rather than clamped,
 * so a client trying to leave gets an error instead of a silently different file.
 */
export type SftpPath = { kind: 'root' } | { kind: 'file'; name: string } | { kind: 'refused'; why: string };

export function resolveSftpPath(path: string): SftpPath {
  if (path.includes('\0')) return { kind: 'refused', why: 'the path contains a NUL character' };
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) return { kind: 'refused', why: 'paths may not use ".." to leave the inbox' };
  if (parts.length === 0) return { kind: 'root' };
  if (parts.length > 1) return { kind: 'refused', why: 'the inbox has no folders: upload plain file names into /' };
  return { kind: 'file', name: parts[0]! };
}

// The one message fileNameProblem gives only to a name that is otherwise fine.
const TEMPORARY = fileNameProblem('~');

/**
 * Why `name` cannot be uploaded; null when it can. The names of a set follow the rule every
 * channel follows (src/core/fileNames.ts); temporary names (`x.filepart`, `.x`, `~x`) are
 * allowed too, because clients such as WinSCP upload under one and rename it when done — such
 * a file waits in the inbox, unseen by the folder channel, until it gets its real name.
 */
export function uploadNameProblem(name: string): string | null {
  const problem = fileNameProblem(name);
  return problem === TEMPORARY ? null : problem;
}

/** Whether a file under this name joins the feed's set at once (else it waits as a temporary file). */
export const joinsSet = (name: string) => fileNameProblem(name) === null;
