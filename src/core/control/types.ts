export type EntityType = 'users' | 'groups' | 'memberships';
export type FileFormat = 'csv' | 'tsv' | 'json' | 'ndjson';
export type Encoding = 'utf-8' | 'utf-16le' | 'windows-1252' | 'latin1';
export type Transform = 'trim' | 'lower' | 'upper' | 'collapse-spaces';

export interface FileSpec {
  type: EntityType;
  format: FileFormat;
  delimiter: string;
  encoding: Encoding;
  rows?: number;
  sha256?: string;
  ignoreColumns: string[];
  /** `error`: a column the mapping does not use fails the set (a source whose shape must not drift). */
  unmappedColumns?: 'allow' | 'error';
}

export interface FieldMapping {
  column?: string;
  map?: Record<string, string>;
  default?: string;
  transform?: Transform[];
  split?: string;
}

export interface GroupRule {
  if: { column: string; in?: string[]; notIn?: string[]; equals?: string };
  add: string;
}

export interface UsersSection {
  key: 'username' | 'email';
  fields: Record<string, FieldMapping>;
  delete?: { column: string; values: string[] };
  groupRules: GroupRule[];
}

export interface ControlFile {
  version: 1;
  feed?: string;
  mode: 'full' | 'delta';
  /** A `full` set whose users files are empty because the source has no users now, not by accident. */
  emptyOnPurpose?: boolean;
  files: Record<string, FileSpec>;
  users?: UsersSection;
  groups?: { fields: { code: FieldMapping; name?: FieldMapping } };
  memberships?: { fields: { user: FieldMapping; group: FieldMapping } };
}

/**
 * The user fields Sluice knows, with their directory column and longest accepted value in
 * characters (Unicode code points, as MySQL counts them in VARCHAR; the long text columns are
 * MEDIUMTEXT, whose 16 MiB hold 65 535 characters of any script).
 */
export const userFields = {
  username: { column: 'username', maxLength: 255 },
  email: { column: 'email', maxLength: 320 },
  firstName: { column: 'first_name', maxLength: 255 },
  lastName: { column: 'last_name', maxLength: 255 },
  title: { column: 'title', maxLength: 255 },
  jobTitle: { column: 'job_title', maxLength: 255 },
  company: { column: 'company', maxLength: 255 },
  country: { column: 'country', maxLength: 255 },
  biography: { column: 'biography', maxLength: 65_535 },
  additionalInfo: { column: 'additional_info', maxLength: 65_535 },
  avatarUrl: { column: 'avatar_url', maxLength: 2048 },
  badgeUrl: { column: 'badge_url', maxLength: 2048 },
} as const;

export type UserField = keyof typeof userFields;
export const requiredUserFields: UserField[] = ['email', 'firstName', 'lastName'];
export const customValueMaxLength = 4096;
/** The custom fields of one user, as the JSON stored in `custom` (UTF-8 bytes). */
export const customMaxBytes = 1024 * 1024;
/** The raw record kept for user lookup (`source_record`, MEDIUMTEXT: UTF-8 bytes). */
export const sourceRecordMaxBytes = 16 * 1024 * 1024 - 1;
export const groupCodeMaxLength = 255;
export const groupNameMaxLength = 255;
/** `user_key` holds a username (255) or an email address (320). */
export const userKeyMaxLength = 320;
