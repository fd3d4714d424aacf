import { EventEmitter } from 'node:events';
import type { MessagePort } from 'node:worker_threads';

/**
 * In-process wake-ups for the run executor: a run queued (or mail enqueued) in this process is
 * picked up at once instead of at the next poll. In a Bree job's worker thread the news goes to
 * the main thread, which passes it on to the executor; other processes find the work by polling.
 */
export type WakeReason = 'run-queued' | 'mail-queued';

const local = new EventEmitter();
let jobPort: Pick<MessagePort, 'postMessage'> | null = null;

/** Called by a Bree job's body: what this thread queues is announced to the main thread. */
export function announceThrough(port: Pick<MessagePort, 'postMessage'> | null) {
  jobPort = port;
}

export function announce(reason: WakeReason): void {
  local.emit('wake', reason);
  jobPort?.postMessage({ sluiceWake: reason });
}

export function onWake(listener: (reason: WakeReason) => void): () => void {
  local.on('wake', listener);
  return () => local.off('wake', listener);
}

/** The wake-up a Bree job posted, if `message` is one. */
export function wakeFromMessage(message: unknown): WakeReason | null {
  const reason = (message as { sluiceWake?: unknown } | null)?.sluiceWake;
  return reason === 'run-queued' || reason === 'mail-queued' ? reason : null;
}
