import type { Context, Next } from 'koa';
import { SluiceError, type ErrorCode } from '../errors.js';
import { log } from '../log.js';

const statusOf: Record<ErrorCode, number> = {
  usage: 400,
  invalid_setting: 400,
  config_invalid: 500,
  not_found: 404,
  invalid_state: 409,
  conflict: 409,
  database: 503,
  unauthorized: 401,
  forbidden: 403,
  too_large: 413,
  too_many_attempts: 429,
  source_failed: 502,
  internal: 500,
};

/** Every error answers JSON `{ "error": { "code", "message" } }` with the code's HTTP status. */
export async function errorHandler(ctx: Context, next: Next) {
  try {
    await next();
    if (ctx.status === 404 && ctx.body === undefined) {
      ctx.status = 404;
      ctx.body = { error: { code: 'not_found', message: `no route for ${ctx.method} ${ctx.path}` } };
    } else if (ctx.status === 405 && (ctx.body === undefined || ctx.body === null || typeof ctx.body === 'string')) {
      // The router's own refusal is plain text; an API client reads every refusal as JSON.
      ctx.body = { error: { code: 'method_not_allowed', message: `${ctx.method} is not allowed on ${ctx.path}; allowed: ${ctx.response.get('Allow') || 'none'}` } };
    }
  } catch (error) {
    const known = error instanceof SluiceError;
    ctx.status = known ? statusOf[error.code] : 500;
    ctx.body = { error: { code: known ? error.code : 'internal', message: known ? error.message : 'internal error; see the server log' } };
    if (ctx.status === 401) ctx.set('WWW-Authenticate', 'Bearer realm="sluice", Basic realm="sluice"');
    if (ctx.status >= 400 && ctx.status !== 409 && ctx.method === 'PUT') ctx.set('Connection', 'close');
    if (!known) log.error('request failed', { method: ctx.method, path: ctx.path, error: String((error as Error)?.stack ?? error) });
  }
}
