/**
 * What a file of an upload set may be called. One rule for every channel and for the control
 * file: a name the control file may list is exactly a name an upload may carry, so a set that
 * completes over HTTP completes the same way through the folder or S3.
 */

/** Bytes of UTF-8: a file system allows 255, and uploaders add suffixes such as `.filepart`. */
export const MAX_FILE_NAME_BYTES = 200;

/** Files one upload set may hold besides its control file: sources send a handful. */
export const MAX_SET_FILES = 100;

/** Names that are still being written by an uploader (SFTP, rsync, editors) and never picked up. */
export function isTemporaryName(name: string): boolean {
  return name.startsWith('.') || name.startsWith('~') || /\.(part|filepart|tmp)$/i.test(name);
}

// Bidirectional controls make a name read differently from what it is ("txt.exe" shown as "exe.txt").
const BIDI = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/;
// C0, DEL and C1 controls: CR/LF split log lines and HTTP headers (Content-Disposition).
const CONTROL = /[\u0000-\u001F\u007F-\u009F]/;
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/** Why `name` cannot be the name of a data file or control file; null when it can. */
export function fileNameProblem(name: string): string | null {
  if (name.length === 0) return 'the file name is empty';
  if (Buffer.byteLength(name, 'utf8') > MAX_FILE_NAME_BYTES) return `the file name is longer than ${MAX_FILE_NAME_BYTES} bytes of UTF-8`;
  if (name === '.' || name === '..' || /[/\\]/.test(name)) return 'the file name must be a plain name: no folders, no "/", "\\" or ".."';
  if (CONTROL.test(name)) return 'the file name contains a control character (such as a line break)';
  if (BIDI.test(name)) return 'the file name contains a bidirectional text control (such as U+202E)';
  if (LONE_SURROGATE.test(name)) return 'the file name is not valid Unicode';
  if (name.trim() !== name) return 'the file name starts or ends with white space';
  if (isTemporaryName(name)) return 'the file name looks like a file still being written (".*", "~*", "*.part", "*.filepart", "*.tmp"), which the folder inbox never picks up';
  return null;
}
