import { createHash, hash } from 'node:crypto';
import { canonicalJson } from '../control/controlFile.js';
import {
  customMaxBytes,
  customValueMaxLength,
  groupCodeMaxLength,
  requiredUserFields,
  sourceRecordMaxBytes,
  userFields,
  type UserField,
  type UsersSection,
} from '../control/types.js';
import { rowProblem, type Problem } from '../problems.js';
import { columnValue, type SourceRow, type SourceValue } from '../readers/types.js';
import { mappedColumns, multiValue, singleValue } from './fieldValue.js';
import { charLength, exceedsBytes, excerpt, firstInvisible, hasInvisible, isWellFormed, withoutInvisible } from './limits.js';
import { everyColumn, sourcePolicy, type SourcePolicy } from './sourceRecord.js';

/** Directory column → value, for the fixed profile columns. */
export type Profile = Partial<Record<(typeof userFields)[UserField]['column'], string | null>>;

export interface UserRecord {
  key: string;
  deleteFlag: boolean;
  profile: Profile;
  custom: Record<string, string | string[]>;
  groups: string[];
  /** What was received, as received, less ignored and secret columns: shown in user lookup. */
  source: Record<string, SourceValue>;
  /** Fingerprint of profile + custom: equal hashes mean nothing to update. */
  hash: string;
  line: number;
}

export type MapResult = { record: UserRecord; problems: Problem[] } | { record: null; problems: Problem[] };

const EMAIL = /^[^\s@<>(),;:"\[\]]+@[^\s@<>(),;:"\[\]]+\.[^\s@<>(),;:"\[\]]+$/;
const BADGE_EXTENSION = /\.(jpe?g|png|pdf)$/i;

/**
 * The key a user is known by. Email keys are compared case-insensitively and after NFKC, so a
 * composed, decomposed or fullwidth spelling of one address is one user.
 */
export function normaliseKey(kind: UsersSection['key'], value: string): string {
  return kind === 'email' ? nfkc(value).toLowerCase() : value;
}

const nfkc = (value: string) => (/^[\x20-\x7e]*$/.test(value) ? value : value.normalize('NFKC'));

export function hashProfile(profile: Profile, custom: Record<string, unknown>): string {
  return createHash('sha256').update(canonicalJson({ profile, custom })).digest('hex').slice(0, 32);
}

/** The key a record will have once mapped (`mapUser` derives it the same way); '' when empty. */
export function recordKey(section: UsersSection, row: SourceRow): string {
  const mapping = section.fields[section.key];
  return mapping ? normaliseKey(section.key, withoutInvisible(singleValue(row, mapping))) : '';
}

/**
 * Fingerprint of a record as received under a mapping: everything a user's directory row is
 * derived from (fields, groups, locked fields, the raw record as stored). Equal fingerprints
 * mean the row would be written exactly as it is, so it can be skipped without being mapped.
 * Columns that are neither mapped nor stored (secrets, `ignoreColumns`) change nothing, so they
 * are left out. A delimited file's record is fingerprinted from its fields by position, under
 * the names of its columns, without building its column → value object.
 */
export function rowFingerprint(mappingHash: string, row: SourceRow, policy: SourcePolicy = everyColumn): string {
  if (row.header) {
    const { names, positions } = policy.fingerprintedPositions(row.header);
    const fields = positions ? positions.map((at) => row.fields![at]) : row.fields;
    return hash('sha1', mappingHash + names + JSON.stringify(fields)).slice(0, 16);
  }
  return hash('sha1', mappingHash + JSON.stringify(policy.fingerprinted(row.values))).slice(0, 16);
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
export function mapUser(
  section: UsersSection,
  row: SourceRow,
  file: string,
  columnOf: (column?: string) => number | undefined,
  policy: SourcePolicy = sourcePolicy(section, []),
): MapResult {
  const problems: Problem[] = [];
  const fail = (code: Problem['code'], message: string, field: string) =>
    problems.push(rowProblem(code, message, { file, line: row.line, column: columnOf(section.fields[field]?.column) }));

  const deleteFlag = section.delete
    ? section.delete.values.includes(String(columnValue(row, section.delete.column) ?? '').trim())
    : false;
  const profile: Profile = {};
  // Custom names come from the control file: `custom.__proto__` must be a field like any other.
  const custom = Object.create(null) as Record<string, string | string[]>;
  let longestCustom = { field: '', length: -1 };
  let customUnits = 0;
  for (const [field, mapping] of Object.entries(section.fields)) {
    if (field === 'groups') continue;
    if (field.startsWith('custom.')) {
      const name = field.slice('custom.'.length);
      // A JSON array is multi-valued as it stands; a text value only when the mapping splits it.
      const multi = mapping.split !== undefined || Array.isArray(columnValue(row, mapping.column));
      const value = multi ? multiValue(row, mapping) : singleValue(row, mapping);
      const longest = longestValue(value);
      if (longest > customValueMaxLength) fail('value_too_long', `${field} is ${longest} characters long; at most ${customValueMaxLength} are allowed`, field);
      if (!(Array.isArray(value) ? value : [value]).every(isWellFormed)) fail('value_invalid', `${field} contains half of a UTF-16 surrogate pair, which cannot be stored`, field);
      if (value.length) custom[name] = value;
      const units = Array.isArray(value) ? value.reduce((n, v) => n + v.length + 3, 0) : value.length;
      if (units > longestCustom.length) longestCustom = { field, length: units };
      customUnits += name.length + units;
      continue;
    }
    const spec = userFields[field as UserField];
    // An address in fullwidth or decomposed form is the same address: stored as NFKC.
    const value = field === 'email' ? nfkc(singleValue(row, mapping)) : singleValue(row, mapping);
    // Code points never outnumber UTF-16 units: only a long value needs counting.
    const length = value.length > spec.maxLength ? charLength(value) : 0;
    if (length > spec.maxLength) fail('value_too_long', `${field} is ${length} characters long; at most ${spec.maxLength} are allowed`, field);
    if (!isWellFormed(value)) fail('value_invalid', `${field} contains half of a UTF-16 surrogate pair, which cannot be stored`, field);
    profile[spec.column] = value === '' ? null : value;
  }
  if (jsonExceeds(custom, customUnits, customMaxBytes)) {
    fail('value_too_long', `the custom fields together are more than ${customMaxBytes} bytes of JSON`, longestCustom.field);
  }

  const keyValue = profile[userFields[section.key].column] ?? '';
  if (!keyValue) fail('required_missing', `${section.key} is empty; it identifies the user and is required`, section.key);
  else if (hasInvisible(keyValue)) {
    fail('key_invalid', `${section.key} contains the invisible character ${firstInvisible(keyValue)}; it would name a different user`, section.key);
  }
  if (!deleteFlag) {
    for (const field of requiredUserFields) {
      if (field !== section.key && !profile[userFields[field].column]) fail('required_missing', `${field} is required but empty`, field);
    }
  }
  const email = profile.email;
  if (email && section.key !== 'email' && hasInvisible(email)) fail('email_invalid', `the email address contains the invisible character ${firstInvisible(email)}`, 'email');
  else if (email && !hasInvisible(email) && !EMAIL.test(email)) fail('email_invalid', `"${excerpt(email)}" is not a valid email address`, 'email');
  for (const field of ['avatarUrl', 'badgeUrl'] as const) {
    const url = profile[userFields[field].column];
    if (!url) continue;
    if (!isHttpUrl(url)) fail('url_invalid', `${field} "${excerpt(url)}" is not an http(s) URL`, field);
    else if (field === 'badgeUrl' && !BADGE_EXTENSION.test(new URL(url).pathname)) {
      fail('url_invalid', `badgeUrl "${excerpt(url)}" must point to a JPG, PNG or PDF file`, field);
    }
  }

  const groups = new Set<string>();
  const groupsMapping = section.fields.groups;
  if (groupsMapping) for (const code of multiValue(row, groupsMapping)) groups.add(code);
  for (const rule of section.groupRules) {
    if (ruleMatches(rule.if, String(columnValue(row, rule.if.column) ?? '').trim())) groups.add(rule.add);
  }
  for (const code of groups) {
    if (!isWellFormed(code)) fail('value_invalid', 'a group contains half of a UTF-16 surrogate pair, which cannot be stored', 'groups');
    if (code.length > groupCodeMaxLength && charLength(code) > groupCodeMaxLength) fail('value_too_long', `group "${excerpt(code, 40)}" is longer than ${groupCodeMaxLength} characters`, 'groups');
  }
  const source = policy.stored(row.values);
  if (jsonExceeds(source, unitsOf(source), sourceRecordMaxBytes)) {
    problems.push(rowProblem('value_too_long', `the record is more than ${sourceRecordMaxBytes} bytes as JSON`, { file, line: row.line }));
  }

  if (problems.length) {
    // A key with an invisible character most likely means the user without it: that user counts
    // as present, so the rejected row never makes it "missing".
    const key = keyValue ? normaliseKey(section.key, withoutInvisible(keyValue)) || undefined : undefined;
    return { record: null, problems: problems.map((p) => ({ ...p, key })) };
  }
  return {
    record: {
      key: normaliseKey(section.key, keyValue),
      deleteFlag,
      profile,
      custom,
      groups: [...groups],
      source,
      hash: hashProfile(profile, custom),
      line: row.line,
    },
    problems,
  };
}

/** The longest of a field's values in characters; 0 for short ones, which cannot be too long. */
function longestValue(value: string | string[]): number {
  let longest = 0;
  for (const v of Array.isArray(value) ? value : [value]) {
    if (v.length > customValueMaxLength) longest = Math.max(longest, charLength(v));
  }
  return longest;
}

/** Whether an object is more than `limit` bytes as JSON; serialised only when it could be. */
function jsonExceeds(value: object, units: number, limit: number): boolean {
  // An escaped character takes at most 6 bytes (\u0000), the punctuation a few per entry.
  if (units * 6 + 8 * Object.keys(value).length < limit) return false;
  return exceedsBytes(JSON.stringify(value), limit);
}

function unitsOf(values: Record<string, SourceValue>): number {
  let n = 0;
  for (const key in values) {
    const v = values[key]!;
    n += key.length + (Array.isArray(v) ? v.reduce((m, x) => m + x.length + 3, 0) : v.length);
  }
  return n;
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
