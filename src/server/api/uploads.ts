import { Transform } from 'node:stream';
import type Router from '@koa/router';
import type { Context as SluiceContext } from '../../context.js';
import { isPlainFileName } from '../../core/uploadSet.js';
import { SluiceError, usageError } from '../../errors.js';
import { receiveFile } from '../../pipeline/receiving.js';
import { requireApiKey, type ApiState } from './auth.js';
import { runUrl } from './runs.js';

export interface UploadLimits {
  maxUploadBytes: number;
}

/** Counts bytes as they stream by and stops the upload once it passes the limit. */
function sizeLimit(limit: number) {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      if (seen > limit) callback(new SluiceError('too_large', `the file is larger than the limit of ${limit} bytes`));
      else callback(null, chunk);
    },
  });
}

/** `PUT /api/v1/feeds/:feed/files/:name`: the raw file as the body, streamed to the archive. */
export function uploadRoutes(router: Router, sluice: SluiceContext, limits: UploadLimits) {
  router.put('/api/v1/feeds/:feed/files/:name', requireApiKey(sluice), async (ctx) => {
    const { feed } = ctx.state as Required<ApiState>;
    const name = String(ctx.params.name);
    if (!isPlainFileName(name)) throw usageError(`"${name}" is not a plain file name (no paths, no "..")`);
    const declared = Number(ctx.get('content-length') || NaN);
    if (declared > limits.maxUploadBytes) throw new SluiceError('too_large', `the file is larger than the limit of ${limits.maxUploadBytes} bytes`);
    const body = ctx.req.pipe(sizeLimit(limits.maxUploadBytes));
    ctx.req.on('error', (error) => body.destroy(error));
    const { run, missing, stored } = await receiveFile(sluice, feed, 'http', name, { stream: body });
    ctx.status = 201;
    ctx.body = {
      file: { name, size: stored!.size, sha256: stored!.sha256 },
      run: { id: run.id, state: run.state, missing, statusUrl: runUrl(sluice, run.id) },
    };
  });
}
