/** Names that are still being written by an uploader (SFTP, rsync, editors) and never picked up. */
export function isTemporaryName(name: string): boolean {
  return name.startsWith('.') || name.startsWith('~') || /\.(part|filepart|tmp)$/i.test(name);
}

/** A plain file name: no folders, no `..`, nothing a path could be built from. */
export function isPlainFileName(name: string): boolean {
  return name.length > 0 && name.length <= 255 && name !== '.' && name !== '..' && !/[/\\\u0000]/.test(name);
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
