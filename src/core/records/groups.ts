import { groupCodeMaxLength, groupNameMaxLength, userKeyMaxLength, type ControlFile, type UsersSection } from '../control/types.js';
import { rowProblem, type Problem } from '../problems.js';
import type { SourceRow } from '../readers/types.js';
import { mappedColumns, singleValue } from './fieldValue.js';
import { charLength, isWellFormed } from './limits.js';
import { normaliseKey } from './users.js';

export interface GroupRecord {
  code: string;
  name: string | null;
  line: number;
}

export interface MembershipRecord {
  userKey: string;
  groupCode: string;
  line: number;
}

type Section<K extends 'groups' | 'memberships'> = NonNullable<ControlFile[K]>;

export const groupsColumns = (section: Section<'groups'>) => mappedColumns([section.fields.code, section.fields.name]);
export const membershipsColumns = (section: Section<'memberships'>) => mappedColumns([section.fields.user, section.fields.group]);

export function mapGroup(section: Section<'groups'>, row: SourceRow, file: string, columnOf: (c?: string) => number | undefined) {
  const code = singleValue(row, section.fields.code);
  const name = section.fields.name ? singleValue(row, section.fields.name) : '';
  const where = (c?: string) => ({ file, line: row.line, column: columnOf(c) });
  const problems: Problem[] = [];
  if (!code) problems.push(rowProblem('required_missing', 'the group code is empty', where(section.fields.code.column)));
  if (charLength(code) > groupCodeMaxLength) problems.push(rowProblem('value_too_long', `the group code is longer than ${groupCodeMaxLength} characters`, where(section.fields.code.column)));
  if (charLength(name) > groupNameMaxLength) problems.push(rowProblem('value_too_long', `the group name is longer than ${groupNameMaxLength} characters`, where(section.fields.name?.column)));
  if (!isWellFormed(code + name)) problems.push(rowProblem('value_invalid', 'the group contains half of a UTF-16 surrogate pair, which cannot be stored', where(section.fields.code.column)));
  if (problems.length) return { record: null, problems };
  return { record: { code, name: name || null, line: row.line } satisfies GroupRecord, problems };
}

export function mapMembership(
  section: Section<'memberships'>,
  keyKind: UsersSection['key'],
  row: SourceRow,
  file: string,
  columnOf: (c?: string) => number | undefined,
) {
  const user = singleValue(row, section.fields.user);
  const group = singleValue(row, section.fields.group);
  const problems: Problem[] = [];
  if (!user) problems.push(rowProblem('required_missing', 'the user is empty', { file, line: row.line, column: columnOf(section.fields.user.column) }));
  if (!group) problems.push(rowProblem('required_missing', 'the group is empty', { file, line: row.line, column: columnOf(section.fields.group.column) }));
  if (charLength(user) > userKeyMaxLength) {
    problems.push(rowProblem('value_too_long', `the user is longer than ${userKeyMaxLength} characters`, { file, line: row.line, column: columnOf(section.fields.user.column) }));
  }
  if (charLength(group) > groupCodeMaxLength) {
    problems.push(rowProblem('value_too_long', `the group code is longer than ${groupCodeMaxLength} characters`, { file, line: row.line, column: columnOf(section.fields.group.column) }));
  }
  if (problems.length) return { record: null, problems };
  return { record: { userKey: normaliseKey(keyKind, user), groupCode: group, line: row.line } satisfies MembershipRecord, problems };
}
