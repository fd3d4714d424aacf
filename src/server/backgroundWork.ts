import { setTimeout as delay } from 'node:timers/promises';
import { log } from '../log.js';
import { announce } from '../pipeline/wakeUp.js';

/**
 * Work a request starts but need not wait for (applying a large run takes minutes). The request
 * waits a little, so small runs answer with their outcome; shutdown waits for all of it.
 */
export class BackgroundWork {
  private readonly running = new Set<Promise<unknown>>();
  /**
   * Whether this process runs a run executor: then a run's work is handed to it (its thread)
   * instead of done here, on the HTTP server's event loop.
   */
  executorRunning = false;

  /** The task's outcome if it ends within `waitMs`, otherwise `{ pending: true }`. */
  async start<T>(what: string, task: () => Promise<T>, waitMs = 2_000): Promise<{ pending: false; value: T } | { pending: true }> {
    const promise = task();
    let waiting = true;
    this.running.add(promise);
    promise
      .catch((error: unknown) => {
        // An error the request saw is the request's to report; later ones only reach the log.
        if (!waiting) log.error('background work failed', { what, error: String((error as Error)?.stack ?? error) });
      })
      .finally(() => {
        this.running.delete(promise);
        // An approval or sync that ended may have a report to send: the executor looks now.
        announce('mail-queued');
      });
    const timer = new AbortController();
    try {
      return await Promise.race([
        promise.then((value) => ({ pending: false as const, value })),
        delay(waitMs, { pending: true as const }, { signal: timer.signal }).catch(() => ({ pending: true as const })),
      ]);
    } finally {
      waiting = false;
      timer.abort();
    }
  }

  async drain(): Promise<void> {
    await Promise.allSettled([...this.running]);
  }
}
