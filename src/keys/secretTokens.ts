import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { toDbTime, type Db } from '../storage/dialect.js';

/**
 * What source API keys (`sluice_`), application tokens (`sluiceapp_`) and personal API tokens
 * (`sluiceadm_`) share: `<kind><12 characters>_<32 characters>`, random, so one SHA-256 stores
 * them safely; the secret is shown once and never stored. The services keep their own tables,
 * presenters and rules (feeds, scope, roles); this is only the secret and its row.
 */
export interface SecretKind {
  /** `sluice_`, `sluiceapp_`, `sluiceadm_`: no kind's shape matches another's, so each is told apart before any lookup. */
  kind: string;
  table: string;
  /** The column that holds the SHA-256 in hex. */
  hashColumn: string;
}

/* eslint-disable @typescript-eslint/no-explicit-any */
export type SecretRow = Record<string, any> & { id: number; prefix: string; last_used_at: string | null; revoked_at: string | null };

/** How exact the "last used" time is. */
export const LAST_USED_PRECISION_MS = 60_000;

const hash = (secret: string) => createHash('sha256').update(secret).digest('hex');

/** A new secret; `prefix` is its public part (what lists show and revoke takes), `hash` what is stored. */
export function generateSecret(kind: string): { token: string; prefix: string; hash: string } {
  const prefix = `${kind}${randomBytes(9).toString('base64url')}`;
  const token = `${prefix}_${randomBytes(24).toString('base64url')}`;
  return { token, prefix, hash: hash(token) };
}

const shapes = new Map<string, RegExp>();

/** The public prefix of a presented secret of this kind, or null when it does not have the shape. */
export function secretPrefix(kind: string, presented: string): string | null {
  let shape = shapes.get(kind);
  if (!shape) {
    if (!/^[a-z]+_$/.test(kind)) throw new Error(`not a secret kind: ${kind}`);
    shape = new RegExp(`^(${kind}[A-Za-z0-9_-]{12})_[A-Za-z0-9_-]{32}$`);
    shapes.set(kind, shape);
  }
  return shape.exec(presented)?.[1] ?? null;
}

/** The row of a presented secret, or null for a malformed, unknown, wrong or revoked one. */
export async function verifySecret(db: Db, spec: SecretKind, presented: string): Promise<SecretRow | null> {
  const prefix = secretPrefix(spec.kind, presented);
  if (!prefix) return null;
  const row = await db(spec.table).where({ prefix }).first();
  if (!row || row.revoked_at) return null;
  if (!timingSafeEqual(Buffer.from(String(row[spec.hashColumn]), 'hex'), Buffer.from(hash(presented), 'hex'))) return null;
  return row as SecretRow;
}

/**
 * Records a use, once a minute at most: a client following the change log or polling runs asks
 * many times a second, and a write per request would compete with applies (on SQLite, fail them
 * as "locked"). Decided from the row already read, so an unneeded use writes nothing at all.
 */
export async function touchLastUsed(db: Db, table: string, row: Pick<SecretRow, 'id' | 'last_used_at'>): Promise<void> {
  const stale = toDbTime(new Date(Date.now() - LAST_USED_PRECISION_MS));
  if (row.last_used_at && String(row.last_used_at) >= stale) return;
  await db(table).where({ id: row.id }).update({ last_used_at: toDbTime() });
}

/** The row named by its id (all digits) or its prefix, or undefined. */
export async function findByIdOrPrefix(db: Db, table: string, idOrPrefix: string): Promise<SecretRow | undefined> {
  return db(table)
    .where(/^\d+$/.test(idOrPrefix) ? { id: Number(idOrPrefix) } : { prefix: idOrPrefix })
    .first();
}

/** Marks a row revoked; false when it already was (so the caller writes no second audit entry). */
export async function markRevoked(db: Db, table: string, row: Pick<SecretRow, 'id' | 'revoked_at'>): Promise<boolean> {
  if (row.revoked_at) return false;
  await db(table).where({ id: row.id }).update({ revoked_at: toDbTime() });
  return true;
}
