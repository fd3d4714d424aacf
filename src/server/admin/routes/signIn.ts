import { randomBytes } from 'node:crypto';
import type Router from '@koa/router';
import type { Context } from 'koa';
import { signIn, signOut, SESSION_HOURS } from '../../../admins/sessions.service.js';
import type { Context as SluiceContext } from '../../../context.js';
import { SluiceError } from '../../../errors.js';
import { flash, need, readForm, render, sameToken, SESSION_COOKIE, stateOf } from '../http.js';

const SIGN_IN_CSRF_COOKIE = 'sluice_sign_in';

/** Only paths of this site: `next` must not send a freshly signed-in admin elsewhere. */
const safeNext = (next: unknown) => (typeof next === 'string' && /^\/admin(\/|$|\?)/.test(next) && !next.startsWith('//') ? next : '/admin');

function signInPage(ctx: Context, data: { email?: string; error?: string; next?: string }, status = 200) {
  // Sign-in has no session yet, so its form carries a token that must match a cookie
  // (double submit): another site cannot sign a browser in to an account of its choosing.
  const token = randomBytes(24).toString('base64url');
  ctx.cookies.set(SIGN_IN_CSRF_COOKIE, token, { httpOnly: true, sameSite: 'strict', path: '/admin/sign-in', secure: ctx.secure });
  render(ctx, 'signIn', { title: 'Sign in', signInToken: token, ...data, next: safeNext(data.next) }, status);
}

export function signInRoutes(router: Router, sluice: SluiceContext) {
  const db = sluice.database.knex;
  router.get('/sign-in', (ctx) => {
    if (stateOf(ctx).session) return ctx.redirect(safeNext(ctx.query.next));
    signInPage(ctx, { next: String(ctx.query.next ?? '') });
  });
  router.post('/sign-in', async (ctx) => {
    const form = await readForm(ctx);
    const email = form.get('email') ?? '';
    const next = form.get('next') ?? '';
    if (!sameToken(form.get('_csrf'), ctx.cookies.get(SIGN_IN_CSRF_COOKIE) ?? '')) {
      return signInPage(ctx, { email, next, error: 'The sign-in form expired; please try again.' }, 403);
    }
    try {
      const { token } = await signIn(db, { email, password: form.get('password') ?? '', ip: ctx.ip });
      ctx.cookies.set(SESSION_COOKIE, token, { httpOnly: true, sameSite: 'lax', path: '/admin', secure: ctx.secure, maxAge: SESSION_HOURS * 3_600_000 });
      ctx.cookies.set(SIGN_IN_CSRF_COOKIE, null, { path: '/admin/sign-in' });
      ctx.redirect(safeNext(next));
    } catch (error) {
      if (!(error instanceof SluiceError) || !['unauthorized', 'too_many_attempts'].includes(error.code)) throw error;
      signInPage(ctx, { email, next, error: error.message }, error.code === 'too_many_attempts' ? 429 : 401);
    }
  });
  router.post('/sign-out', need('viewer'), async (ctx) => {
    await signOut(db, stateOf(ctx).session!);
    ctx.cookies.set(SESSION_COOKIE, null, { path: '/admin' });
    flash(ctx, 'ok', 'You are signed out.');
    ctx.redirect('/admin/sign-in');
  });
}
