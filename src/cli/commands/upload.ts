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

const finalStates = ['failed', 'held', 'applied', 'cancelled', 'superseded'];

/** PUT one file, retrying network errors and 5xx answers with back-off. */
async function putFile(url: string, key: string, path: string, attempts = 5): Promise<{ run: { id: number; statusUrl: string } }> {
  for (let attempt = 1; ; attempt++) {
    try {
      const size = (await stat(path)).size;
      const response = await fetch(url, {
        method: 'PUT',
        headers: { authorization: `Bearer ${key}`, 'content-length': String(size), 'content-type': 'application/octet-stream' },
        body: createReadStream(path) as unknown as BodyInit,
        duplex: 'half',
      } as RequestInit);
      const body = (await response.json()) as { run: { id: number; statusUrl: string }; error?: { message: string } };
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
  summary: 'upload --url U --key K --feed F <folder> [--no-wait]: send an upload set to a Sluice server',
  options: { url: { type: 'string' }, key: { type: 'string' }, feed: { type: 'string' }, 'no-wait': { type: 'boolean' } },
  async run(input) {
    const folder = positional(input, 0, 'folder');
    const { url, feed } = input.options as { url?: string; feed?: string };
    const key = (input.options.key as string | undefined) ?? process.env.SLUICE_API_KEY;
    if (!url || !feed || !key) throw usageError('--url, --feed and --key (or SLUICE_API_KEY) are required');
    const names = (await readdir(folder)).filter((n) => !isTemporaryName(n)).sort();
    if (!names.includes(CONTROL_FILE_NAME)) throw usageError(`${folder} has no ${CONTROL_FILE_NAME}`);
    let last: { run: { id: number; statusUrl: string } } | undefined;
    for (const name of [...names.filter((n) => n !== CONTROL_FILE_NAME), CONTROL_FILE_NAME]) {
      last = await putFile(`${url.replace(/\/$/, '')}/api/v1/feeds/${encodeURIComponent(feed)}/files/${encodeURIComponent(name)}`, key, join(folder, name));
      if (!input.json) process.stdout.write(`uploaded ${name}\n`);
    }
    if (input.options['no-wait']) {
      if (input.json) printJson(last!.run);
      else process.stdout.write(`run ${last!.run.id}: ${last!.run.statusUrl}\n`);
      return EXIT.done;
    }
    for (;;) {
      // The server's public URL may differ from the one this client reaches it by.
      const response = await fetch(`${url.replace(/\/$/, '')}/api/v1/runs/${last!.run.id}`, { headers: { authorization: `Bearer ${key}` } });
      const run = (await response.json()) as PresentedRun;
      if (finalStates.includes(run.state)) {
        if (input.json) printJson(run);
        else printRun(run);
        return exitCodeForRun(run);
      }
      await sleep(1000);
    }
  },
};
