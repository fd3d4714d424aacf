import { createHash, hash } from 'node:crypto';
import { canonicalJson } from '../control/controlFile.js';
import {
  customValueMaxLength,
  groupCodeMaxLength,
  requiredUserFields,
  userFields,
  type UserField,
  type UsersSection,
} from '../control/types.js';
import { rowProblem, type Problem } from '../problems.js';
import type { SourceRow } from '../readers/types.js';
import { mappedColumns, multiValue, singleValue } from './fieldValue.js';

/** Directory column → value, for the fixed profile columns. */
export type Profile = Partial<Record<(typeof userFields)[UserField]['column'], string | null>>;

export interface UserRecord {
  key: string;
  deleteFlag: boolean;
  profile: Profile;
  custom: Record<string, string | string[]>;
  groups: string[];
  /** What was received, as received: shown in user lookup. */
  source: Record<string, unknown>;
  /** Fingerprint of profile + custom: equal hashes mean nothing to update. */
  hash: string;
  line: number;
}

export type MapResult = { record: UserRecord; problems: Problem[] } | { record: null; problems: Problem[] };

const EMAIL = /^[^\s@<>(),;:"\[\]]+@[^\s@<>(),;:"\[\]]+\.[^\s@<>(),;:"\[\]]+$/;
const BADGE_EXTENSION = /\.(jpe?g|png|pdf)$/i;

export function normaliseKey(kind: UsersSection['key'], value: string): string {
  return kind === 'email' ? value.toLowerCase() : value;
}

export function hashProfile(profile: Profile, custom: Record<string, unknown>): string {
  return createHash('sha256').update(canonicalJson({ profile, custom })).digest('hex').slice(0, 32);
}

/** The key a record will have once mapped (`mapUser` derives it the same way); '' when empty. */
export function recordKey(section: UsersSection, row: SourceRow): string {
  const mapping = section.fields[section.key];
  return mapping ? normaliseKey(section.key, singleValue(row.values, mapping)) : '';
}

/**
 * Fingerprint of a record as received under a mapping: everything a user's directory row is
 * derived from (fields, groups, locked fields, the raw record). Equal fingerprints mean the row
 * would be written exactly as it is, so it can be skipped without being mapped.
 */
export function rowFingerprint(mappingHash: string, row: SourceRow): string {
  return hash('sha1', mappingHash + JSON.stringify(row.values)).slice(0, 16);
}

/** Columns a users file must have (and may have), for the header checks. */
export function usersColumns(section: UsersSection): string[] {
  return [
    ...mappedColumns(Object.values(section.fields)),
    ...(section.delete ? [section.delete.column] : []),
    ...section.groupRules.map((r) => r.if.column),
  ];
}

/**
 * Maps one source record onto a user: every field through its mapping, then the row-level
 * checks of PRODUCT §4. A record with a problem is skipped whole; `columnOf` turns a source
 * column into its 1-based position for the error.
 */
export function mapUser(section: UsersSection, row: SourceRow, file: string, columnOf: (column?: string) => number | undefined): MapResult {
  const problems: Problem[] = [];
  const fail = (code: Problem['code'], message: string, field: string) =>
    problems.push(rowProblem(code, message, { file, line: row.line, column: columnOf(section.fields[field]?.column) }));

  const deleteFlag = section.delete
    ? section.delete.values.includes(String(row.values[section.delete.column] ?? '').trim())
    : false;
  const profile: Profile = {};
  const custom: Record<string, string | string[]> = {};
  for (const [field, mapping] of Object.entries(section.fields)) {
    if (field === 'groups') continue;
    if (field.startsWith('custom.')) {
      const name = field.slice('custom.'.length);
      // A JSON array is multi-valued as it stands; a text value only when the mapping splits it.
      const multi = mapping.split !== undefined || (mapping.column !== undefined && Array.isArray(row.values[mapping.column]));
      const value = multi ? multiValue(row.values, mapping) : singleValue(row.values, mapping);
      const tooLong = Array.isArray(value) ? value.some((v) => v.length > customValueMaxLength) : value.length > customValueMaxLength;
      if (tooLong) fail('value_too_long', `${field} is longer than ${customValueMaxLength} characters`, field);
      if (value.length) custom[name] = value;
      continue;
    }
    const spec = userFields[field as UserField];
    const value = singleValue(row.values, mapping);
    if (value.length > spec.maxLength) fail('value_too_long', `${field} is ${value.length} characters long; at most ${spec.maxLength} are allowed`, field);
    profile[spec.column] = value === '' ? null : value;
  }

  const keyValue = profile[userFields[section.key].column] ?? '';
  if (!keyValue) fail('required_missing', `${section.key} is empty; it identifies the user and is required`, section.key);
  if (!deleteFlag) {
    for (const field of requiredUserFields) {
      if (field !== section.key && !profile[userFields[field].column]) fail('required_missing', `${field} is required but empty`, field);
    }
  }
  const email = profile.email;
  if (email && !EMAIL.test(email)) fail('email_invalid', `"${email}" is not a valid email address`, 'email');
  for (const field of ['avatarUrl', 'badgeUrl'] as const) {
    const url = profile[userFields[field].column];
    if (!url) continue;
    if (!isHttpUrl(url)) fail('url_invalid', `${field} "${url}" is not an http(s) URL`, field);
    else if (field === 'badgeUrl' && !BADGE_EXTENSION.test(new URL(url).pathname)) {
      fail('url_invalid', `badgeUrl "${url}" must point to a JPG, PNG or PDF file`, field);
    }
  }

  const groups = new Set<string>();
  const groupsMapping = section.fields.groups;
  if (groupsMapping) for (const code of multiValue(row.values, groupsMapping)) groups.add(code);
  for (const rule of section.groupRules) {
    if (ruleMatches(rule.if, String(row.values[rule.if.column] ?? '').trim())) groups.add(rule.add);
  }
  for (const code of groups) {
    if (code.length > groupCodeMaxLength) fail('value_too_long', `group "${code.slice(0, 40)}…" is longer than ${groupCodeMaxLength} characters`, 'groups');
  }

  if (problems.length) {
    const key = keyValue ? normaliseKey(section.key, keyValue) : undefined;
    return { record: null, problems: problems.map((p) => ({ ...p, key })) };
  }
  return {
    record: {
      key: normaliseKey(section.key, keyValue),
      deleteFlag,
      profile,
      custom,
      groups: [...groups],
      source: row.values,
      hash: hashProfile(profile, custom),
      line: row.line,
    },
    problems,
  };
}

function ruleMatches(condition: UsersSection['groupRules'][number]['if'], value: string): boolean {
  if (condition.in && !condition.in.includes(value)) return false;
  if (condition.notIn && condition.notIn.includes(value)) return false;
  if (condition.equals !== undefined && condition.equals !== value) return false;
  return true;
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && !!url.hostname;
  } catch {
    return false;
  }
}
