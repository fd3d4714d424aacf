import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CONTROL_FILE_NAME } from '../../core/control/controlFile.js';
import { isTemporaryName } from '../../core/uploadSet.js';
import { usageError } from '../../errors.js';
import { EXIT, exitCodeForRun, printJson, printRun } from '../output.js';
import { positional, type Command } from './shared.js';
import type { PresentedRun } from '../../runs/runs.presenter.js';
import { describeBytes } from '../../pipeline/progress.js';
import { ProgressLine } from '../progressLine.js';

const finalStates = ['failed', 'held', 'applied', 'cancelled', 'superseded'];
/** How long a run may stay `receiving` after the last file went up before the client gives up. */
export const DEFAULT_RECEIVE_TIMEOUT_SECONDS = 120;

type UploadAnswer = { run: { id: number; state: string; missing?: string[]; statusUrl: string } };

/** PUT one file, retrying network errors and 5xx answers with back-off; `sent` follows its bytes. */
async function putFile(url: string, key: string, path: string, sent: (bytes: number, size: number) => void, attempts = 5): Promise<UploadAnswer> {
  for (let attempt = 1; ; attempt++) {
    try {
      const size = (await stat(path)).size;
      // Counted as fetch reads it (a 'data' listener would start the stream before fetch does).
      const file = (async function* () {
        let bytes = 0;
        for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
          sent((bytes += chunk.length), size);
          yield chunk;
        }
      })();
      const response = await fetch(url, {
        method: 'PUT',
        headers: { authorization: `Bearer ${key}`, 'content-length': String(size), 'content-type': 'application/octet-stream' },
        body: file as unknown as BodyInit,
        duplex: 'half',
      } as RequestInit);
      const body = (await response.json()) as UploadAnswer & { error?: { message: string } };
      if (response.ok) return body;
      if (response.status < 500 || attempt >= attempts) throw new Error(`${path}: ${response.status} ${body.error?.message ?? ''}`);
    } catch (error) {
      if (attempt >= attempts || /: 4\d\d /.test(String((error as Error).message))) throw error;
    }
    await sleep(Math.min(30_000, 500 * 2 ** attempt));
  }
}

/**
 * `sluice upload --url U --key K --feed F <folder>`: the client for source systems. Data files
 * first, the control file last; then it waits for the run's outcome and exits like `import`.
 */
export const uploadCommand: Command = {
  summary: `upload --url U --key K --feed F <folder> [--no-wait] [--receive-timeout S]: send an upload set to a Sluice server; gives up with exit code 4 when the run is still receiving (the set is incomplete) S seconds (default ${DEFAULT_RECEIVE_TIMEOUT_SECONDS}) after the last file`,
  options: { url: { type: 'string' }, key: { type: 'string' }, feed: { type: 'string' }, 'no-wait': { type: 'boolean' }, 'receive-timeout': { type: 'string' } },
  async run(input) {
    const folder = positional(input, 0, 'folder');
    const { url, feed } = input.options as { url?: string; feed?: string };
    const key = (input.options.key as string | undefined) ?? process.env.SLUICE_API_KEY;
    if (!url || !feed || !key) throw usageError('--url, --feed and --key (or SLUICE_API_KEY) are required');
    const timeoutText = (input.options['receive-timeout'] as string | undefined) ?? String(DEFAULT_RECEIVE_TIMEOUT_SECONDS);
    if (!/^\d+(\.\d+)?$/.test(timeoutText)) throw usageError(`--receive-timeout must be a number of seconds (got "${timeoutText}")`);
    const receiveTimeoutMs = Number(timeoutText) * 1000;
    const names = (await readdir(folder)).filter((n) => !isTemporaryName(n)).sort();
    if (!names.includes(CONTROL_FILE_NAME)) throw usageError(`${folder} has no ${CONTROL_FILE_NAME}`);
    let last: UploadAnswer | undefined;
    const line = new ProgressLine();
    for (const name of [...names.filter((n) => n !== CONTROL_FILE_NAME), CONTROL_FILE_NAME]) {
      // The server shows a file's bytes only on a set already open: this client shows its own.
      const sending = (bytes: number, size: number) => line.text(`sending ${name}: ${describeBytes(bytes)} of ${describeBytes(size)}`);
      last = await putFile(`${url.replace(/\/$/, '')}/api/v1/feeds/${encodeURIComponent(feed)}/files/${encodeURIComponent(name)}`, key, join(folder, name), sending);
      line.end();
      if (!input.json) process.stdout.write(`uploaded ${name}\n`);
    }
    if (input.options['no-wait']) {
      if (input.json) printJson(last!.run);
      else process.stdout.write(`run ${last!.run.id}: ${last!.run.statusUrl}\n`);
      return EXIT.done;
    }
    const sentAt = Date.now();
    for (;;) {
      // The server's public URL may differ from the one this client reaches it by.
      const response = await fetch(`${url.replace(/\/$/, '')}/api/v1/runs/${last!.run.id}`, { headers: { authorization: `Bearer ${key}` } });
      const run = (await response.json()) as PresentedRun;
      if (finalStates.includes(run.state)) {
        line.end();
        if (input.json) printJson(run);
        else printRun(run);
        return exitCodeForRun(run);
      }
      // A set still receiving after every file went up lacks a file its control file names:
      // waiting longer cannot help this client, and the server fails the set much later.
      if (run.state === 'receiving' && Date.now() - sentAt >= receiveTimeoutMs) {
        const missing = last!.run.missing ?? [];
        const waitsFor = missing.length ? missing.join(', ') : 'files its control file names';
        const message = `gave up: run ${run.id} is still receiving ${receiveTimeoutMs / 1000} s after the last file was sent; it waits for ${waitsFor} (named in ${CONTROL_FILE_NAME}, not in ${folder}). Upload the missing files to complete the set, or fix ${CONTROL_FILE_NAME}.`;
        line.end();
        if (input.json) printJson({ ...run, missing, timedOut: true, message });
        else process.stderr.write(`${message}\n`);
        return EXIT.incomplete;
      }
      line.show(run.state, run.progress ?? run.worker?.progress);
      await sleep(Math.min(1000, Math.max(50, receiveTimeoutMs / 4)));
    }
  },
};
