import { getRun } from '../runs/runs.service.js';
import type { Context } from '../context.js';
import { describeProgress, type ProgressSnapshot } from '../pipeline/progress.js';
import { progressHeldHere } from '../pipeline/runLease.js';

/**
 * The progress line of a command that waits for a run: on a terminal it is rewritten in place
 * on stderr; elsewhere (`watch` asked for, output piped) each new state goes on a line of its
 * own. Stdout keeps only the command's result.
 */
export class ProgressLine {
  private last = '';
  private readonly tty = Boolean(process.stderr.isTTY);

  constructor(private readonly always = false) {}

  show(state: string, progress: ProgressSnapshot | null | undefined): void {
    this.text(`run ${state}${progress && ['receiving', 'validating', 'applying'].includes(state) ? `: ${describeProgress(progress)}` : ''}`);
  }

  text(text: string): void {
    if (!this.tty && !this.always) return;
    if (text === this.last) return;
    this.last = text;
    process.stderr.write(this.tty ? `\r\x1b[2K${text}` : `${text}\n`);
  }

  end(): void {
    if (this.tty && this.last) process.stderr.write('\r\x1b[2K');
    this.last = '';
  }
}

/** Shows a run's progress each second while `work` runs: from memory while this process works on it, else from the database. */
export async function withProgressLine<T>(ctx: Context, runId: () => number | null, work: Promise<T>, line = new ProgressLine()): Promise<T> {
  let finished = false;
  const watching = (async () => {
    while (!finished) {
      const id = runId();
      const here = id === null ? null : progressHeldHere(id);
      if (here) line.show(here.phase === 'applying' ? 'applying' : 'validating', here);
      else if (id !== null) {
        const run = await getRun(ctx.database.knex, id).catch(() => null);
        if (run && !finished) line.show(run.state, run.progress);
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  })();
  try {
    return await work;
  } finally {
    finished = true;
    await watching;
    line.end();
  }
}
