import { forgetOldAttempts, returnAttempt, takeAttempts, type AttemptLimit } from '../admins/attemptLimits.service.js';
import { generatePassword, hashPassword, verifyPassword } from '../admins/passwords.js';
import { SIGN_IN_LIMITS } from '../admins/sessions.service.js';
import { recordAudit } from '../audit/audit.service.js';
import { notFound, SluiceError, usageError } from '../errors.js';
import { getFeed } from '../feeds/feeds.service.js';
import { fromDbTime, toDbTime, type Db } from '../storage/dialect.js';
import { readPublicKey, sameKey, verifySignature } from './publicKeys.js';

export interface SftpAccount {
  id: number;
  feedId: number;
  username: string;
  /** `password` or the key's type (`ssh-ed25519`, …). */
  method: string;
  keyFingerprint: string | null;
  createdAt: string;
  lastLoginAt: string | null;
  lastLoginAddress: string | null;
}

/** Failed SFTP logins share the sign-in limits' numbers, counted in budgets of their own. */
export const SFTP_LOGIN_LIMITS = { perAccount: SIGN_IN_LIMITS.perEmail, perAddress: SIGN_IN_LIMITS.perAddress, windowMinutes: SIGN_IN_LIMITS.windowMinutes };
const perAccount: AttemptLimit = { scope: 'sftp:account', max: SFTP_LOGIN_LIMITS.perAccount, windowMinutes: SFTP_LOGIN_LIMITS.windowMinutes };
const perAddress: AttemptLimit = { scope: 'sftp:address', max: SFTP_LOGIN_LIMITS.perAddress, windowMinutes: SFTP_LOGIN_LIMITS.windowMinutes };
/** Checked when the username does not exist, so timing does not tell which names do. */
const NO_SUCH_ACCOUNT = 'scrypt$16384$8$1$c2x1aWNlLW5vLWFjY291bnQ$Q0hBTkdFTUVDSEFOR0VNRUNIQU5HRU1FQ0hBTkdFTUU';
const USERNAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/* eslint-disable @typescript-eslint/no-explicit-any */
const fromRow = (r: any): SftpAccount => ({
  id: Number(r.id),
  feedId: Number(r.feed_id),
  username: r.username,
  method: r.password_hash ? 'password' : r.key_type,
  keyFingerprint: r.key_fingerprint ?? null,
  createdAt: fromDbTime(r.created_at)!,
  lastLoginAt: fromDbTime(r.last_login_at),
  lastLoginAddress: r.last_login_address ?? null,
});

/**
 * Adds a login to a feed's SFTP endpoint: with the public key given, else with the password
 * given, else with a generated password — returned here once and only ever stored hashed.
 * The username defaults to the feed's slug, then `<slug>-2`, `<slug>-3`…
 */
export async function addSftpAccount(
  db: Db,
  feedSlug: string,
  options: { username?: string; password?: string; publicKey?: string; actor?: string } = {},
): Promise<{ account: SftpAccount; password?: string }> {
  const feed = await getFeed(db, feedSlug);
  const key = options.publicKey !== undefined ? readPublicKey(options.publicKey) : null;
  if (key && options.password !== undefined) throw usageError('an SFTP account logs in with a password or with a public key, not both');
  if (options.password !== undefined && options.password.length < 12) throw usageError('the password must have at least 12 characters');
  const password = key ? undefined : (options.password ?? generatePassword());
  let username = options.username?.toLowerCase();
  if (username !== undefined && !USERNAME.test(username)) throw usageError(`the username "${options.username}" must be 1–64 of a–z, 0–9, ".", "_" and "-", starting with a letter or digit`);
  if (username === undefined) {
    const taken = new Set((await db('sftp_accounts').pluck('username')) as string[]);
    const base = feed.slug.toLowerCase().slice(0, 56);
    username = base;
    for (let n = 2; taken.has(username); n++) username = `${base}-${n}`;
  } else if (await db('sftp_accounts').where({ username }).first('id')) {
    throw new SluiceError('conflict', `the SFTP username "${username}" is taken`);
  }
  const [id] = await db('sftp_accounts').insert({
    feed_id: feed.id,
    username,
    password_hash: password ? await hashPassword(password) : null,
    key_type: key?.type ?? null,
    public_key: key?.text ?? null,
    key_fingerprint: key?.fingerprint ?? null,
    created_at: toDbTime(),
  });
  const account = await getSftpAccount(db, Number(id));
  if (options.actor) await recordAudit(db, { actor: options.actor, action: 'sftp.add', target: `feed ${feed.slug}`, details: { username, method: account.method, fingerprint: account.keyFingerprint } });
  // A password the caller chose is theirs already; only a generated one is handed back.
  return { account, password: options.password === undefined ? password : undefined };
}

export async function getSftpAccount(db: Db, id: number): Promise<SftpAccount> {
  const row = await db('sftp_accounts').where({ id }).first();
  if (!row) throw notFound('SFTP account', id);
  return fromRow(row);
}

export async function listSftpAccounts(db: Db, feedId?: number): Promise<SftpAccount[]> {
  const query = db('sftp_accounts').orderBy('id');
  if (feedId !== undefined) query.where({ feed_id: feedId });
  return (await query).map(fromRow);
}

/** Removes by id or username; sessions open with it end at their next request (see the server). */
export async function removeSftpAccount(db: Db, idOrUsername: string, actor?: string): Promise<SftpAccount> {
  const row = await db('sftp_accounts')
    .where(/^\d+$/.test(idOrUsername) ? { id: Number(idOrUsername) } : { username: idOrUsername.toLowerCase() })
    .first();
  if (!row) throw notFound('SFTP account', idOrUsername);
  await db('sftp_accounts').where({ id: row.id }).delete();
  if (actor) await recordAudit(db, { actor, action: 'sftp.remove', target: row.username });
  return fromRow(row);
}

export type LoginProof =
  | { method: 'password'; password: string }
  /** A signed key login; without `signature` the client only asks whether the key would do. */
  | { method: 'publickey'; algo: string; key: Buffer; signature?: Buffer; blob?: Buffer; hashAlgo?: string };

export type LoginOutcome = { ok: true; account: SftpAccount; feedId: number } | { ok: false; reason: 'refused' | 'too_many_attempts' | 'key_acceptable' };

/**
 * Checks one SFTP login. Every password and signed key login is counted against the username
 * and the address in the database first — the same budgets table as admin sign-in — so a
 * locked account stays locked for keys too, and guesses spread over several processes get no
 * more checks than the limits allow. A successful login gives its attempts back.
 */
export async function checkSftpLogin(db: Db, username: string, address: string, proof: LoginProof): Promise<LoginOutcome> {
  const name = username.toLowerCase().slice(0, 64);
  // An attempt is counted while it is checked, so a source system opening several connections
  // at once would spend the budget with right passwords: one account's checks take turns.
  const previous = checking.get(name) ?? Promise.resolve();
  const turn = previous.then(() => checkLogin(db, name, address, proof));
  const settled = turn.then(
    () => undefined,
    () => undefined,
  );
  checking.set(name, settled);
  void settled.then(() => {
    if (checking.get(name) === settled) checking.delete(name);
  });
  return turn;
}

/** The running check of each username in this process (see checkSftpLogin). */
const checking = new Map<string, Promise<void>>();

async function checkLogin(db: Db, name: string, address: string, proof: LoginProof): Promise<LoginOutcome> {
  const row = await db('sftp_accounts').where({ username: name }).first();
  if (proof.method === 'publickey' && !proof.signature) {
    // Only a question ("would this key do?"): answering it costs no attempt, checks nothing.
    return row?.public_key && sameKey(row.public_key, proof.algo, proof.key) ? { ok: false, reason: 'key_acceptable' } : { ok: false, reason: 'refused' };
  }
  const budgets: [AttemptLimit, string][] = [
    [perAccount, name],
    [perAddress, address.slice(0, 64)],
  ];
  if (await takeAttempts(db, budgets)) return { ok: false, reason: 'too_many_attempts' };
  let ok: boolean;
  if (proof.method === 'password') {
    ok = (await verifyPassword(proof.password, row?.password_hash ?? NO_SUCH_ACCOUNT)) && Boolean(row?.password_hash);
  } else {
    ok = Boolean(row?.public_key && sameKey(row.public_key, proof.algo, proof.key) && verifySignature(row.public_key, proof.blob!, proof.signature!, proof.hashAlgo));
  }
  if (!ok) return { ok: false, reason: 'refused' };
  for (const [limit, subject] of budgets) await returnAttempt(db, limit, subject);
  await forgetOldAttempts(db, 2 * SFTP_LOGIN_LIMITS.windowMinutes);
  await db('sftp_accounts').where({ id: row.id }).update({ last_login_at: toDbTime(), last_login_address: address.slice(0, 64) });
  return { ok: true, account: fromRow(row), feedId: Number(row.feed_id) };
}

/** Whether the account still exists: a removed account's open sessions stop. */
export async function sftpAccountExists(db: Db, id: number): Promise<boolean> {
  return Boolean(await db('sftp_accounts').where({ id }).first('id'));
}
