import { recordAudit } from '../audit/audit.service.js';
import { SluiceError, notFound } from '../errors.js';
import { generateSecret, markRevoked, touchLastUsed, verifySecret, type SecretKind } from '../keys/secretTokens.js';
import { fromDbTime, toDbTime, type Db } from '../storage/dialect.js';
import { getAdmin, hasRole, type Admin } from './admins.service.js';

/** A personal API token: it carries its account's role, as that role is when it is used. */
export interface PersonalToken {
  id: number;
  prefix: string;
  label: string;
  email: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

/** Who presented a personal token, and how the audit log names them. */
export interface PersonalGrant {
  admin: Admin;
  prefix: string;
  actor: string;
}

// `sluiceadm_` never matches a source key's `sluice_<12>_<32>` nor an application token's
// `sluiceapp_…`: each kind is refused where it does not belong before any lookup.
export const PERSONAL_TOKEN_PREFIX = 'sluiceadm_';
const personalTokens: SecretKind = { kind: PERSONAL_TOKEN_PREFIX, table: 'personal_tokens', hashColumn: 'token_hash' };

export const tokenActor = (prefix: string, email: string) => `token:${prefix} (${email})`;

/** A new token for an operator or admin account; the token is returned once and only its hash is kept. */
export async function createPersonalToken(db: Db, email: string, options: { label?: string; actor: string }): Promise<{ token: string; personalToken: PersonalToken }> {
  const admin = await getAdmin(db, email);
  if (!hasRole(admin, 'operator')) throw new SluiceError('forbidden', `${admin.email} is a viewer; personal API tokens are for operators and admins`);
  const label = (options.label ?? '').trim().slice(0, 255) || 'API token';
  const { token, prefix, hash } = generateSecret(personalTokens.kind);
  const [id] = await db('personal_tokens').insert({ admin_id: admin.id, label, prefix, token_hash: hash, created_at: toDbTime() });
  await recordAudit(db, { actor: options.actor, action: 'personal-token.create', target: prefix, details: { account: admin.email, label } });
  return { token, personalToken: await getPersonalToken(db, Number(id)) };
}

const tokenRows = (db: Db) =>
  db('personal_tokens as t')
    .join('admins as a', 'a.id', 't.admin_id')
    .select('t.id', 't.prefix', 't.label', 't.created_at', 't.last_used_at', 't.revoked_at', 'a.email')
    .orderBy('t.id');

/* eslint-disable @typescript-eslint/no-explicit-any */
const fromRow = (r: any): PersonalToken => ({
  id: Number(r.id),
  prefix: String(r.prefix),
  label: String(r.label),
  email: String(r.email),
  createdAt: fromDbTime(r.created_at)!,
  lastUsedAt: fromDbTime(r.last_used_at),
  revokedAt: fromDbTime(r.revoked_at),
});

async function getPersonalToken(db: Db, id: number): Promise<PersonalToken> {
  const row = await tokenRows(db).where('t.id', id).first();
  if (!row) throw notFound('personal token', id);
  return fromRow(row);
}

/** One account's tokens, or everyone's without an e-mail. */
export async function listPersonalTokens(db: Db, email?: string): Promise<PersonalToken[]> {
  const query = tokenRows(db);
  if (email !== undefined) query.where('t.admin_id', (await getAdmin(db, email)).id);
  return (await query).map(fromRow);
}

/** Revokes by prefix. `onlyOf` limits it to one account's tokens (a non-admin on the account page). */
export async function revokePersonalToken(db: Db, prefix: string, options: { actor: string; onlyOf?: string }): Promise<PersonalToken> {
  const row = await tokenRows(db).where('t.prefix', prefix.trim()).first();
  if (!row || (options.onlyOf !== undefined && row.email !== options.onlyOf)) throw notFound('personal token', prefix);
  if (await markRevoked(db, 'personal_tokens', row)) {
    await recordAudit(db, { actor: options.actor, action: 'personal-token.revoke', target: row.prefix, details: { account: row.email } });
  }
  return getPersonalToken(db, Number(row.id));
}

/** The account behind a presented token, or null for a malformed, unknown, revoked or orphaned one. */
export async function authenticatePersonalToken(db: Db, presented: string): Promise<PersonalGrant | null> {
  const row = await verifySecret(db, personalTokens, presented);
  if (!row) return null;
  // A removed account's tokens die with it.
  const admin = await db('admins').where({ id: row.admin_id }).first();
  if (!admin) return null;
  await touchLastUsed(db, 'personal_tokens', row);
  const account = await getAdmin(db, Number(row.admin_id));
  return { admin: account, prefix: String(row.prefix), actor: tokenActor(String(row.prefix), account.email) };
}

