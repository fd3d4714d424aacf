import { CONTROL_FILE_NAME } from '../core/control/controlFile.js';
import { namedFiles } from '../core/uploadSet.js';
import type { ProgressSnapshot } from './progress.js';

/** A file the control file names, with the records it promises when it says (`rows`). */
export interface ExpectedFile {
  name: string;
  rows?: number;
}

export interface IncomingBytes {
  name: string;
  bytes: number;
  /** Declared before the bytes came (HTTP Content-Length); SFTP declares none. */
  size: number | null;
}

/** The files a control file names and their `rows`; null when it names none readably. */
export function expectedFiles(controlText: string): ExpectedFile[] | null {
  const names = namedFiles(controlText);
  if (!names) return null;
  let files: Record<string, { rows?: unknown }> = {};
  try {
    files = (JSON.parse(controlText.replace(/^\uFEFF/, '')) as { files: typeof files }).files;
  } catch {
    /* namedFiles read it: not reached */
  }
  return names.map((name) => {
    const rows = files[name]?.rows;
    return typeof rows === 'number' && Number.isInteger(rows) && rows >= 0 ? { name, rows } : { name };
  });
}

/**
 * The progress of a set being received, from what is known: the files recorded so far, the
 * files the control file names (once it is there), and the files still streaming in to this
 * process. The byte total is given only when every file still expected declared its size.
 */
export function receivingSnapshot(input: {
  recorded: { name: string; size: number }[];
  expected: ExpectedFile[] | null;
  incoming: IncomingBytes[];
  bytesPerSecond: number | null;
  now?: number;
}): ProgressSnapshot {
  const { recorded, expected, incoming, bytesPerSecond } = input;
  const now = input.now ?? Date.now();
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const bytes = sum(recorded.map((f) => f.size)) + sum(incoming.map((f) => f.bytes));
  let bytesTotal: number | null = null;
  if (expected) {
    const names = [CONTROL_FILE_NAME, ...expected.map((f) => f.name)];
    const sizeOf = (name: string) => recorded.find((f) => f.name === name)?.size ?? incoming.find((f) => f.name === name)?.size ?? null;
    const sizes = names.map(sizeOf);
    // Files outside the control file's list were received too: they count in both.
    const others = recorded.filter((f) => !names.includes(f.name)).map((f) => f.size);
    if (sizes.every((s) => s !== null)) bytesTotal = Math.max(bytes, sum(sizes as number[]) + sum(others));
  }
  const rows = expected?.every((f) => f.rows !== undefined) ? sum(expected.map((f) => f.rows!)) : null;
  const etaSeconds = bytesTotal !== null && bytesPerSecond ? Math.round((bytesTotal - bytes) / bytesPerSecond) : null;
  return {
    phase: 'receiving',
    rows: 0,
    total: rows,
    estimated: false,
    rowsPerSecond: null,
    etaSeconds,
    at: new Date(now).toISOString(),
    received: {
      files: recorded.length,
      filesTotal: expected ? new Set([CONTROL_FILE_NAME, ...expected.map((f) => f.name)]).size : null,
      bytes,
      bytesTotal,
      incoming,
      bytesPerSecond,
    },
  };
}
