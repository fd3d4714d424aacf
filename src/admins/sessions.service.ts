import { createHash, randomBytes } from 'node:crypto';
import { recordAudit } from '../audit/audit.service.js';
import { SluiceError } from '../errors.js';
import { toDbTime, type Db } from '../storage/dialect.js';
import { findAdmin, findAdminCredentials, normaliseEmail, type Admin } from './admins.service.js';
import { forgetOldAttempts, returnAttempt, takeAttempts, type AttemptLimit } from './attemptLimits.service.js';
import { verifyPassword } from './passwords.js';

export const SESSION_HOURS = 12;
/** Failed sign-ins allowed per account and per address within the window, before refusing. */
export const SIGN_IN_LIMITS = { perEmail: 5, perAddress: 20, windowMinutes: 15 };
const perAccount: AttemptLimit = { scope: 'sign-in:account', max: SIGN_IN_LIMITS.perEmail, windowMinutes: SIGN_IN_LIMITS.windowMinutes };
const perAddress: AttemptLimit = { scope: 'sign-in:address', max: SIGN_IN_LIMITS.perAddress, windowMinutes: SIGN_IN_LIMITS.windowMinutes };

export interface AdminSession {
  admin: Admin;
  csrfToken: string;
  tokenHash: string;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
/** A fixed hash to verify against when the account does not exist, so timing tells nothing. */
const NO_SUCH_ACCOUNT = 'scrypt$16384$8$1$c2x1aWNlLW5vLWFjY291bnQ$Q0hBTkdFTUVDSEFOR0VNRUNIQU5HRU1FQ0hBTkdFTUU';

/**
 * Checks a password and opens a session. Every attempt is counted against its account and its
 * address in the database before the password is checked, so parallel guesses, also spread over
 * several Sluice processes, get no more checks than the limits allow; a successful sign-in gives
 * its attempts back. Over a limit: `too_many_attempts`, without checking the password.
 */
export async function signIn(db: Db, input: { email: string; password: string; ip: string }): Promise<{ token: string; session: AdminSession }> {
  const email = normaliseEmail(input.email).slice(0, 320);
  const ip = input.ip.slice(0, 64);
  const budgets: [AttemptLimit, string][] = [
    [perAccount, email],
    [perAddress, ip],
  ];
  if (await takeAttempts(db, budgets)) {
    throw new SluiceError('too_many_attempts', `too many failed sign-ins; try again in ${SIGN_IN_LIMITS.windowMinutes} minutes`);
  }
  const account = await findAdminCredentials(db, email);
  const ok = await verifyPassword(input.password, account?.passwordHash ?? NO_SUCH_ACCOUNT);
  await db('sign_in_attempts').insert({ email, ip, succeeded: Boolean(account && ok), at: toDbTime() });
  if (!account || !ok) throw new SluiceError('unauthorized', 'the email address or the password is wrong');
  for (const [limit, subject] of budgets) await returnAttempt(db, limit, subject);
  await forgetOldAttempts(db, 2 * SIGN_IN_LIMITS.windowMinutes);
  const { admin } = account;

  const token = randomBytes(32).toString('base64url');
  const csrfToken = randomBytes(24).toString('base64url');
  const now = new Date();
  await db('admin_sessions').insert({
    token_hash: sha256(token),
    admin_id: admin.id,
    csrf_token: csrfToken,
    created_at: toDbTime(now),
    expires_at: toDbTime(new Date(now.getTime() + SESSION_HOURS * 3_600_000)),
  });
  await db('admins').where({ id: admin.id }).update({ last_sign_in_at: toDbTime(now) });
  await db('admin_sessions').where('expires_at', '<', toDbTime(now)).delete();
  await recordAudit(db, { actor: admin.email, action: 'session.sign-in', target: admin.email, details: { ip } });
  return { token, session: { admin, csrfToken, tokenHash: sha256(token) } };
}

export async function findSession(db: Db, token: string | undefined): Promise<AdminSession | null> {
  if (!token || token.length > 128) return null;
  const tokenHash = sha256(token);
  const row = (await db('admin_sessions').where({ token_hash: tokenHash }).where('expires_at', '>', toDbTime()).first()) as
    | { admin_id: number; csrf_token: string }
    | undefined;
  if (!row) return null;
  const admin = await findAdmin(db, Number(row.admin_id));
  return admin ? { admin, csrfToken: row.csrf_token, tokenHash } : null;
}

export async function signOut(db: Db, session: AdminSession): Promise<void> {
  await db('admin_sessions').where({ token_hash: session.tokenHash }).delete();
  await recordAudit(db, { actor: session.admin.email, action: 'session.sign-out', target: session.admin.email });
}
