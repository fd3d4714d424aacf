import type { UsersSection } from '../control/types.js';
import type { Header, SourceValue } from '../readers/types.js';
import { usersColumns } from './users.js';

/**
 * Column names that mark a secret (PRODUCT §3): never kept in the raw record. `password`,
 * `secret` and `token` anywhere in the name (`api_token`, `PasswordHash`); `ssn` only as a word of
 * its own (`ssn`, `employee_ssn`, `userSSN`), since as letters it sits inside `classname`.
 */
const SECRET = /password|secret|token/i;
const words = (name: string) => name.replace(/([a-z])([A-Z])/g, '$1 $2').split(/[^A-Za-z]+/);
export const isSecretColumn = (name: string): boolean => SECRET.test(name) || words(name).some((w) => w.toLowerCase() === 'ssn');

type Values = Record<string, SourceValue>;

/** Why a users file's column is left out of the stored raw record, or null when it is kept. */
export const notStoredBecause =
  (ignoreColumns: readonly string[]) =>
  (name: string): 'ignoreColumns' | 'secret' | null =>
    ignoreColumns.includes(name) ? 'ignoreColumns' : isSecretColumn(name) ? 'secret' : null;

/**
 * What of a users file's records is kept. The raw record stored for user lookup holds the
 * columns the source sent except those the file entry lists in `ignoreColumns` and secrets.
 * The row fingerprint covers what is stored plus what is mapped, so a change to a column that
 * is neither never makes a record "changed".
 */
export interface SourcePolicy {
  stored(values: Values): Values;
  fingerprinted(values: Values): Values;
  /** Under a delimited file's header: the names of the fingerprinted columns as JSON, and their positions (null when all are). */
  fingerprintedPositions(header: Header): FingerprintedPositions;
}

export interface FingerprintedPositions {
  names: string;
  positions: number[] | null;
}

const cache = new WeakMap<UsersSection, Map<string, SourcePolicy>>();

export function sourcePolicy(section: UsersSection, ignoreColumns: readonly string[]): SourcePolicy {
  const id = JSON.stringify(ignoreColumns);
  let bySection = cache.get(section);
  const known = bySection?.get(id);
  if (known) return known;
  const mapped = new Set(usersColumns(section));
  const why = notStoredBecause(ignoreColumns);
  const dropped = (name: string) => why(name) !== null;
  const stored = remembered((name) => !dropped(name));
  const fingerprinted = remembered((name) => mapped.has(name) || !dropped(name));
  const policy: SourcePolicy = {
    stored: (values) => keep(values, stored),
    fingerprinted: (values) => keep(values, fingerprinted),
    fingerprintedPositions: positionsUnder(fingerprinted),
  };
  if (!bySection) cache.set(section, (bySection = new Map()));
  bySection.set(id, policy);
  return policy;
}

/** A policy that keeps every column. */
export const everyColumn: SourcePolicy = {
  stored: (values) => values,
  fingerprinted: (values) => values,
  fingerprintedPositions: positionsUnder(() => true),
};

/** The kept columns' positions under a header, worked out once per header (one per file). */
function positionsUnder(kept: (name: string) => boolean): (header: Header) => FingerprintedPositions {
  const byHeader = new WeakMap<Header, FingerprintedPositions>();
  return (header) => {
    let known = byHeader.get(header);
    if (!known) {
      const positions = header.columns.flatMap((name, at) => (kept(name) ? [at] : []));
      const all = positions.length === header.columns.length;
      known = { names: JSON.stringify(all ? header.columns : positions.map((at) => header.columns[at])), positions: all ? null : positions };
      byHeader.set(header, known);
    }
    return known;
  };
}

/** A verdict per column name, worked out once: files have few names and many records. */
function remembered(test: (name: string) => boolean): (name: string) => boolean {
  const verdicts = new Map<string, boolean>();
  return (name) => {
    let verdict = verdicts.get(name);
    if (verdict === undefined) verdicts.set(name, (verdict = test(name)));
    return verdict;
  };
}

/** The record itself when every column stays (the common case costs nothing), else a copy. */
function keep(values: Values, kept: (name: string) => boolean): Values {
  let all = true;
  for (const name in values) {
    if (!kept(name)) {
      all = false;
      break;
    }
  }
  if (all) return values;
  const result: Values = Object.create(null) as Values;
  for (const name in values) if (kept(name)) result[name] = values[name]!;
  return result;
}
