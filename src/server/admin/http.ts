import { timingSafeEqual } from 'node:crypto';
import type { Context, Next } from 'koa';
import { hasRole, type AdminRole } from '../../admins/admins.service.js';
import type { AdminSession } from '../../admins/sessions.service.js';
import { notFound, SluiceError } from '../../errors.js';
import { renderPage } from './views.js';

export const SESSION_COOKIE = 'sluice_session';
const FLASH_COOKIE = 'sluice_flash';
const MAX_FORM_BYTES = 64 * 1024;

export interface AdminState {
  session?: AdminSession;
  form?: URLSearchParams;
}

export const stateOf = (ctx: Context) => ctx.state as AdminState;

/** Reads an `application/x-www-form-urlencoded` body of at most 64 KiB. */
export async function readForm(ctx: Context): Promise<URLSearchParams> {
  if (!ctx.is('application/x-www-form-urlencoded')) throw new SluiceError('usage', 'expected a form');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) throw new SluiceError('too_large', 'the form is too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

export function sameToken(presented: string | null | undefined, expected: string): boolean {
  if (!presented) return false;
  const a = Buffer.from(presented);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Guards a page or an action: a session is required (pages redirect to sign-in), the role must
 * be at least `role`, and a POST must carry the session's CSRF token.
 */
export function need(role: AdminRole) {
  return async (ctx: Context, next: Next) => {
    const state = stateOf(ctx);
    if (!state.session) {
      if (ctx.method === 'GET' || ctx.method === 'HEAD') return ctx.redirect(`/admin/sign-in?next=${encodeURIComponent(ctx.originalUrl)}`);
      throw new SluiceError('unauthorized', 'your session has ended; sign in again');
    }
    if (ctx.method === 'POST') {
      state.form = await readForm(ctx);
      if (!sameToken(state.form.get('_csrf'), state.session.csrfToken)) {
        throw new SluiceError('forbidden', 'this form has expired or did not come from this page; reload the page and try again');
      }
    }
    if (!hasRole(state.session.admin, role)) throw new SluiceError('forbidden', `this needs the ${role} role; you are ${state.session.admin.role}`);
    await next();
  };
}

export function flash(ctx: Context, kind: 'ok' | 'error', text: string) {
  ctx.cookies.set(FLASH_COOKIE, Buffer.from(JSON.stringify({ kind, text })).toString('base64url'), { httpOnly: true, sameSite: 'lax', path: '/admin', maxAge: 60_000 });
}

function takeFlash(ctx: Context): { kind: string; text: string } | null {
  const raw = ctx.cookies.get(FLASH_COOKIE);
  if (!raw) return null;
  ctx.cookies.set(FLASH_COOKIE, null, { path: '/admin' });
  try {
    const parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as { kind: unknown; text: unknown };
    return { kind: parsed.kind === 'ok' ? 'ok' : 'error', text: String(parsed.text).slice(0, 500) };
  } catch {
    return null;
  }
}

/** Renders a page in the layout, with the signed-in admin, their CSRF token and any flash. */
export function render(ctx: Context, page: string, data: Record<string, unknown> = {}, status = 200) {
  const session = stateOf(ctx).session;
  ctx.status = status;
  ctx.type = 'text/html; charset=utf-8';
  ctx.body = renderPage(page, {
    ...data,
    admin: session?.admin,
    csrf: session?.csrfToken,
    can: session ? { operate: hasRole(session.admin, 'operator'), administer: hasRole(session.admin, 'admin') } : {},
    flash: takeFlash(ctx),
  });
}

/** A numeric id from the path; anything else names nothing, so it is a 404. */
export function idParam(ctx: Context, what: string): number {
  const id = Number(ctx.params.id);
  if (!Number.isSafeInteger(id) || id <= 0) throw notFound(what, String(ctx.params.id));
  return id;
}

export function pageParams(ctx: Context, size: number) {
  const page = Math.max(1, Math.floor(Number(ctx.query.page ?? 1)) || 1);
  return { page, limit: size, offset: (page - 1) * size };
}

/** Previous/next links that keep the current filters. */
export function pager(ctx: Context, page: number, size: number, total: number) {
  const pages = Math.max(1, Math.ceil(total / size));
  const link = (p: number) => {
    const query = new URLSearchParams(ctx.querystring);
    query.set('page', String(p));
    return `${ctx.path}?${query.toString()}`;
  };
  // A page past the end (an old link, a shrunken list) says so and leads to the last page.
  const past = page > pages ? link(pages) : null;
  return { page, pages, total, past, previous: page > 1 && !past ? link(page - 1) : null, next: page < pages ? link(page + 1) : null };
}
