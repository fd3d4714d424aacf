import { fileNameProblem, isTemporaryName } from './fileNames.js';

export { isTemporaryName };

/** The control file's size limit; channels enforce it while the file streams in. */
export const MAX_CONTROL_BYTES = 1024 * 1024;

/** A name an upload set's file may carry (see `fileNameProblem`). */
export function isPlainFileName(name: string): boolean {
  return fileNameProblem(name) === null;
}

/** The run's mode, read leniently from the control file so the queue can order runs before validation. */
export function peekMode(controlText: string): 'full' | 'delta' | null {
  try {
    const value = JSON.parse(controlText.replace(/^\uFEFF/, '')) as { mode?: unknown };
    if (value && typeof value === 'object') return value.mode === 'delta' ? 'delta' : 'full';
  } catch {
    /* an invalid control file fails in validation, with its line and column */
  }
  return null;
}

/**
 * The data files a control file names, read leniently, for knowing when a set is complete;
 * null when it is not a readable control file. Names that cannot be files (paths) are not
 * awaited: validation reports them.
 */
export function namedFiles(controlText: string): string[] | null {
  try {
    const value = JSON.parse(controlText.replace(/^\uFEFF/, '')) as { files?: unknown };
    if (value && typeof value === 'object' && value.files && typeof value.files === 'object') return Object.keys(value.files).filter(isPlainFileName);
  } catch {
    /* reported by validation */
  }
  return null;
}
