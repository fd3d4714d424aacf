/**
 * How far a run has come, for the run page, `sluice run show --watch` and the API: the phase,
 * the records read so far and of how many (the control file's `rows`, or an estimate from the
 * bytes read), the rate and the time left. The worker keeps it in memory and its lease writes it
 * to the run every second, so other processes see it too.
 */
export interface ProgressSnapshot {
  phase: string;
  rows: number;
  /** Of how many records, when known. */
  total: number | null;
  /** `total` is a guess from the file sizes, not the control file's `rows`. */
  estimated: boolean;
  rowsPerSecond: number | null;
  etaSeconds: number | null;
  at: string;
  /** What the phase is doing now, when it says (applying: "writing the change log"). */
  step?: string;
  /** While a set is received (phase `receiving`): its files and bytes so far. */
  received?: ReceivedSoFar;
}

export interface ReceivedSoFar {
  /** Files of the set that have arrived whole, the control file among them. */
  files: number;
  /** The control file and the files it names; null until the control file is there. */
  filesTotal: number | null;
  /** Bytes of the whole files and of those still streaming in. */
  bytes: number;
  /** Known once the control file is there and every file still expected declared its size. */
  bytesTotal: number | null;
  /** Files still streaming in (HTTP, SFTP): their bytes so far and declared size. */
  incoming: { name: string; bytes: number; size: number | null }[];
  bytesPerSecond: number | null;
}

interface PlannedFile {
  size: number;
  rows?: number;
}

interface Reading {
  count(): number;
  bytesRead(): number | null;
}

export class RunProgress {
  private phase = 'validating';
  private files: PlannedFile[] = [];
  private doneRows = 0;
  private doneBytes = 0;
  private reading: Reading | null = null;
  private phaseStarted = Date.now();
  private fixedTotal: number | null = null;
  private applied = 0;
  private currentStep: string | undefined;
  /**
   * The apply transaction is open: on a database with one writer (SQLite) the run's row cannot
   * be written until it ends, so the lease puts the progress beside the database meanwhile.
   */
  transactionOpen = false;
  /**
   * Told at once when the apply moves on. On SQLite each statement runs synchronously and holds
   * the thread for as long as it takes: no timer fires during it, so the progress is passed on
   * between statements or not at all.
   */
  changed: (() => void) | null = null;

  /** The data files about to be read, in order. */
  plan(files: PlannedFile[]): void {
    this.files = files;
  }

  /** A data file is being read by `reader` from `stream` (whose `bytesRead` gives the place). */
  startFile(reader: { count(): number }, stream: unknown): void {
    const bytes = () => (stream as { bytesRead?: unknown }).bytesRead;
    this.reading = { count: () => reader.count(), bytesRead: () => (typeof bytes() === 'number' ? (bytes() as number) : null) };
  }

  endFile(rows: number, size: number): void {
    this.doneRows += rows;
    this.doneBytes += size;
    this.reading = null;
  }

  /** A later phase; `total` when its amount of work is known (the changes to apply). */
  enter(phase: string, total: number | null = null): void {
    this.phase = phase;
    this.phaseStarted = Date.now();
    this.fixedTotal = total;
    this.applied = 0;
    this.currentStep = undefined;
    this.reading = null;
    if (phase === 'validating') [this.doneRows, this.doneBytes, this.files] = [0, 0, []];
  }

  /** `n` more changes applied (one statement of the apply, counted from the change set). */
  advance(n: number): void {
    this.applied += n;
    this.changed?.();
  }

  /** The last part of a phase, whose own amount is not counted (its time is not in the estimate). */
  step(what: string): void {
    this.currentStep = what;
    this.changed?.();
  }

  /** The apply transaction opened or ended. */
  inTransaction(open: boolean): void {
    this.transactionOpen = open;
    this.changed?.();
  }

  snapshot(now = Date.now()): ProgressSnapshot {
    const reading = this.phase === 'validating';
    const counting = reading || this.phase === 'applying';
    const rows = reading ? this.doneRows + (this.reading?.count() ?? 0) : this.phase === 'applying' ? this.applied : 0;
    const { total, estimated } = reading ? this.readingTotal(rows) : { total: this.fixedTotal, estimated: false };
    const seconds = (now - this.phaseStarted) / 1000;
    const rowsPerSecond = counting && seconds >= 0.5 && rows > 0 ? Math.round(rows / seconds) : null;
    const etaSeconds = rowsPerSecond && total !== null && !this.currentStep ? Math.max(0, Math.round((total - rows) / rowsPerSecond)) : null;
    const step = this.currentStep && { step: this.currentStep };
    return { phase: this.phase, rows, total, estimated, rowsPerSecond, etaSeconds, at: new Date(now).toISOString(), ...step };
  }

  private readingTotal(rows: number): { total: number | null; estimated: boolean } {
    if (this.files.length === 0) return { total: null, estimated: false };
    if (this.files.every((f) => f.rows !== undefined)) return { total: this.files.reduce((n, f) => n + f.rows!, 0), estimated: false };
    const bytes = this.doneBytes + (this.reading?.bytesRead() ?? 0);
    if (rows === 0 || bytes === 0) return { total: null, estimated: true };
    const allBytes = this.files.reduce((n, f) => n + f.size, 0);
    return { total: Math.max(rows, Math.round((rows * allBytes) / bytes)), estimated: true };
  }
}

const n = (x: number) => x.toLocaleString('en-US');
/** "830.0 kB", "12.3 MB", "1.25 GB". */
export const describeBytes = (bytes: number) => (bytes >= 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${(bytes / 1e3).toFixed(1)} kB`);

/**
 * "validating: 41,000 of ~100,000 rows, 12,000 rows/s, about 5 s left";
 * "applying: 2,000 of 8,000 changes, …"; "receiving: 1 of 2 files, 12.0 MB; users.csv 11.0 MB so far, 2.0 MB/s".
 */
export function describeProgress(p: ProgressSnapshot): string {
  if (p.phase === 'receiving' && p.received) return describeReceiving(p, p.received);
  const parts = [p.phase];
  const unit = p.phase === 'validating' ? 'rows' : 'changes';
  if (p.phase === 'validating' || (p.phase === 'applying' && p.rows > 0)) parts[0] += `: ${n(p.rows)}${p.total !== null ? ` of ${p.estimated ? '~' : ''}${n(p.total)}` : ''} ${unit}`;
  else if (p.total !== null) parts[0] += ` ${n(p.total)} changes`;
  if (p.step) parts.push(p.step);
  else if (p.rowsPerSecond !== null) parts.push(`${n(p.rowsPerSecond)} ${unit}/s`);
  if (p.etaSeconds !== null) parts.push(`about ${p.etaSeconds} s left`);
  return parts.join(', ');
}

function describeReceiving(p: ProgressSnapshot, r: ReceivedSoFar): string {
  const files = `${n(r.files)}${r.filesTotal !== null ? ` of ${n(r.filesTotal)}` : ''} ${r.filesTotal === 1 ? 'file' : 'files'}`;
  const parts = [`receiving: ${files}, ${describeBytes(r.bytes)}${r.bytesTotal !== null ? ` of ${describeBytes(r.bytesTotal)}` : ''}`];
  for (const f of r.incoming) parts.push(`${f.name} ${describeBytes(f.bytes)}${f.size !== null ? ` of ${describeBytes(f.size)}` : ''} so far`);
  if (r.bytesPerSecond !== null) parts.push(`${describeBytes(r.bytesPerSecond)}/s`);
  if (p.etaSeconds !== null) parts.push(`about ${p.etaSeconds} s left`);
  return parts.join(', ');
}

export function parseProgress(text: unknown): ProgressSnapshot | null {
  if (typeof text !== 'string' || !text) return null;
  try {
    return JSON.parse(text) as ProgressSnapshot;
  } catch {
    return null;
  }
}
