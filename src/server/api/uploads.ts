import { Transform } from 'node:stream';
import type Router from '@koa/router';
import type { Context as SluiceContext } from '../../context.js';
import { CONTROL_FILE_NAME } from '../../core/control/controlFile.js';
import { fileNameProblem } from '../../core/fileNames.js';
import { MAX_CONTROL_BYTES } from '../../core/uploadSet.js';
import { SluiceError, usageError } from '../../errors.js';
import { trackIncoming } from '../../pipeline/receivingMonitor.js';
import { receiveFile } from '../../pipeline/receiving.js';
import { requireApiKey, type ApiState } from './auth.js';
import { runUrl } from './runs.js';

export interface UploadLimits {
  maxUploadBytes: number;
}

/** Counts bytes as they stream by (for the set's progress) and stops the upload once it passes the limit. */
function sizeLimit(limit: number, what: string, counted: (bytes: number) => void) {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      counted(seen);
      if (seen > limit) callback(new SluiceError('too_large', `${what} is larger than the limit of ${limit} bytes`));
      else callback(null, chunk);
    },
  });
}

/**
 * `PUT /api/v1/feeds/:feed/files/:name`: the raw file as the body, streamed to the archive. The
 * key (checked before this runs), the name and the declared size are accepted before a client
 * that sent `Expect: 100-continue` is told to send the body.
 */
export function uploadRoutes(router: Router, sluice: SluiceContext, limits: UploadLimits) {
  router.put('/api/v1/feeds/:feed/files/:name', requireApiKey(sluice), async (ctx) => {
    const { feed } = ctx.state as Required<ApiState>;
    const name = String(ctx.params.name);
    const problem = fileNameProblem(name);
    if (problem) throw usageError(`${JSON.stringify(name)}: ${problem}`);
    const isControl = name === CONTROL_FILE_NAME;
    const limit = isControl ? Math.min(MAX_CONTROL_BYTES, limits.maxUploadBytes) : limits.maxUploadBytes;
    const what = isControl ? 'the control file' : 'the file';
    const declared = Number(ctx.get('content-length') || NaN);
    if (declared > limit) throw new SluiceError('too_large', `${what} is larger than the limit of ${limit} bytes`);
    if (/100-continue/i.test(ctx.get('expect'))) ctx.res.writeContinue();
    const incoming = trackIncoming(sluice, { feedId: feed.id, channel: 'http' }, name, Number.isFinite(declared) ? declared : null);
    const body = ctx.req.pipe(sizeLimit(limit, what, (bytes) => incoming.reached(bytes)));
    ctx.req.on('error', (error) => body.destroy(error));
    const { run, missing, stored } = await receiveFile(sluice, feed, 'http', name, { stream: body }).finally(() => incoming.end());
    ctx.status = 201;
    ctx.body = {
      file: { name, size: stored!.size, sha256: stored!.sha256 },
      run: { id: run.id, state: run.state, missing, statusUrl: runUrl(sluice, run.id) },
    };
  });
}
