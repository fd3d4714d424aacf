import { SluiceError, invalidSetting, notFound } from '../errors.js';
import { recordAudit } from '../audit/audit.service.js';
import { countRows } from '../storage/database.js';
import { fromDbTime, toDbTime, type Db } from '../storage/dialect.js';
import { generatePassword, hashPassword } from './passwords.js';

export const adminRoles = ['viewer', 'operator', 'admin'] as const;
export type AdminRole = (typeof adminRoles)[number];

export interface Admin {
  id: number;
  email: string;
  role: AdminRole;
  createdAt: string;
  lastSignInAt: string | null;
}

/** viewer < operator (apply, cancel, re-apply) < admin (settings, keys, accounts). */
export const hasRole = (admin: Pick<Admin, 'role'>, needed: AdminRole) => adminRoles.indexOf(admin.role) >= adminRoles.indexOf(needed);

export function parseRole(text: string): AdminRole {
  if ((adminRoles as readonly string[]).includes(text)) return text as AdminRole;
  throw invalidSetting(`role must be one of ${adminRoles.join(', ')} (got "${text}")`);
}

export const normaliseEmail = (email: string) => email.trim().toLowerCase();

function checkEmail(email: string) {
  if (!/^[^\s@]+@[^\s@]+$/.test(email) || email.length > 320) throw invalidSetting(`"${email}" is not an email address`);
}

/* eslint-disable @typescript-eslint/no-explicit-any */
const fromRow = (r: any): Admin => ({
  id: Number(r.id),
  email: r.email,
  role: r.role,
  createdAt: fromDbTime(r.created_at)!,
  lastSignInAt: fromDbTime(r.last_sign_in_at),
});

/** Creates an account; without a password, one is generated and returned — show it once. */
export async function addAdmin(db: Db, input: { email: string; role: AdminRole; password?: string; actor: string }): Promise<{ admin: Admin; password: string }> {
  const email = normaliseEmail(input.email);
  checkEmail(email);
  const password = input.password ?? generatePassword();
  if (password.length < 12) throw invalidSetting('a password needs at least 12 characters');
  if (await db('admins').where({ email }).first()) throw new SluiceError('conflict', `an admin account for ${email} already exists`);
  await db('admins').insert({ email, role: input.role, password_hash: await hashPassword(password), created_at: toDbTime() });
  await recordAudit(db, { actor: input.actor, action: 'admin.add', target: email, details: { role: input.role } });
  return { admin: await getAdmin(db, email), password };
}

export async function findAdmin(db: Db, emailOrId: string | number): Promise<Admin | null> {
  const row = await db('admins')
    .where(typeof emailOrId === 'number' ? { id: emailOrId } : { email: normaliseEmail(emailOrId) })
    .first();
  return row ? fromRow(row) : null;
}

/** An account and its stored password hash, for signing in; null when there is none. */
export async function findAdminCredentials(db: Db, email: string): Promise<{ admin: Admin; passwordHash: string } | null> {
  const row = await db('admins').where({ email: normaliseEmail(email) }).first();
  return row ? { admin: fromRow(row), passwordHash: row.password_hash as string } : null;
}

export async function getAdmin(db: Db, emailOrId: string | number): Promise<Admin> {
  const admin = await findAdmin(db, emailOrId);
  if (!admin) throw notFound('admin account', emailOrId);
  return admin;
}

export async function listAdmins(db: Db): Promise<Admin[]> {
  return (await db('admins').orderBy('email')).map(fromRow);
}

export async function countAdmins(db: Db): Promise<number> {
  return countRows(db('admins'));
}

export async function setAdminRole(db: Db, email: string, role: AdminRole, actor: string): Promise<Admin> {
  const admin = await getAdmin(db, email);
  if (admin.role === 'admin' && role !== 'admin') await keepOneAdmin(db);
  await db('admins').where({ id: admin.id }).update({ role });
  await recordAudit(db, { actor, action: 'admin.role', target: admin.email, details: { before: admin.role, after: role } });
  return getAdmin(db, admin.id);
}

/** Sets a new password (generated unless given) and signs the account out everywhere. */
export async function resetAdminPassword(db: Db, email: string, actor: string, password = generatePassword()): Promise<{ admin: Admin; password: string }> {
  const admin = await getAdmin(db, email);
  if (password.length < 12) throw invalidSetting('a password needs at least 12 characters');
  await db('admins').where({ id: admin.id }).update({ password_hash: await hashPassword(password) });
  await db('admin_sessions').where({ admin_id: admin.id }).delete();
  await recordAudit(db, { actor, action: 'admin.password', target: admin.email });
  return { admin, password };
}

export async function removeAdmin(db: Db, email: string, actor: string): Promise<Admin> {
  const admin = await getAdmin(db, email);
  if (admin.role === 'admin') await keepOneAdmin(db);
  await db('admin_sessions').where({ admin_id: admin.id }).delete();
  await db('admins').where({ id: admin.id }).delete();
  await recordAudit(db, { actor, action: 'admin.remove', target: admin.email });
  return admin;
}

async function keepOneAdmin(db: Db) {
  if ((await countRows(db('admins').where({ role: 'admin' }))) <= 1) throw new SluiceError('conflict', 'this is the last account with the admin role; give another account the admin role first');
}
