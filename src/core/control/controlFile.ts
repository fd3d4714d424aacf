import { createHash } from 'node:crypto';
import { fileNameProblem, MAX_SET_FILES } from '../fileNames.js';
import { lineAndColumn, setProblem, type Problem } from '../problems.js';
import { scanKeys } from './duplicateKeys.js';
import { escapePointer } from './pointer.js';
import { checkControlSchema } from './schema.js';
import type { ControlFile, FieldMapping, FileSpec, UsersSection } from './types.js';

export const CONTROL_FILE_NAME = 'control.json';

export interface ParsedControlFile {
  control?: ControlFile;
  problems: Problem[];
}

/**
 * Parses and checks a control file: JSON syntax (with line and column), the JSON Schema (with
 * the JSON pointer), and what a schema cannot say (feed name, sections for each file type).
 */
export function parseControlFile(text: string, options: { fileName?: string; feed?: string } = {}): ParsedControlFile {
  const file = options.fileName ?? CONTROL_FILE_NAME;
  const source = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  let raw: unknown;
  try {
    raw = JSON.parse(source);
  } catch (error) {
    const where = jsonErrorPosition(source, error as Error);
    return {
      problems: [
        setProblem('control_not_json', `not valid JSON: ${(error as Error).message.replace(/ in JSON at position \d+.*$/, '')}`, {
          file,
          ...where,
        }),
      ],
    };
  }
  const { duplicates, positions } = scanKeys(source);
  // A problem found by JSON pointer is shown at the line of the nearest key it lies under.
  const locate = (pointer: string): { line?: number; column?: number } => {
    for (let p = pointer; p; p = p.slice(0, p.lastIndexOf('/'))) {
      const at = positions.get(p);
      if (at) return at;
    }
    return {};
  };
  if (duplicates.length) {
    return {
      problems: duplicates.map((d) =>
        setProblem('control_duplicate_key', duplicateMessage(d.key, d.pointer, d.firstLine), { file, line: d.line, column: d.column, pointer: `${d.pointer}/${escapePointer(d.key)}` }),
      ),
    };
  }
  const violations = checkControlSchema(raw);
  if (violations.length) {
    return {
      problems: violations.map((v) =>
        setProblem('control_schema', v.message, { file, pointer: v.pointer, ...locate(v.member === undefined ? v.pointer : `${v.pointer}/${escapePointer(v.member)}`) }),
      ),
    };
  }
  const control = normalise(raw as RawControl);
  const problems = semanticProblems(control, file, options.feed).map((p) => (p.pointer === undefined ? p : { ...locate(p.pointer), ...p }));
  return { control: problems.length ? undefined : control, problems };
}

function duplicateMessage(key: string, pointer: string, firstLine: number): string {
  const what = pointer === '/files' ? `the file "${key}" is named twice in "files"` : `"${key}" appears twice in ${pointer ? `"${pointer}"` : 'the control file'}`;
  return `${what} (first on line ${firstLine}); JSON keeps only the last, so say it once`;
}

type RawMapping = string | FieldMapping;
interface RawControl {
  version: 1;
  feed?: string;
  mode?: 'full' | 'delta';
  emptyOnPurpose?: boolean;
  files: Record<string, Partial<FileSpec> & { type: FileSpec['type'] }>;
  users?: { key: UsersSection['key']; fields: Record<string, RawMapping>; delete?: UsersSection['delete']; groupRules?: UsersSection['groupRules'] };
  groups?: { fields: { code: RawMapping; name?: RawMapping } };
  memberships?: { fields: { user: RawMapping; group: RawMapping } };
}

const mapping = (m: RawMapping): FieldMapping => (typeof m === 'string' ? { column: m } : m);

function normalise(raw: RawControl): ControlFile {
  // Names come from the source: `__proto__` or `toString` must be plain keys, not Object's.
  const files = Object.create(null) as Record<string, FileSpec>;
  for (const [name, spec] of Object.entries(raw.files)) {
    const format = spec.format ?? formatFromName(name);
    files[name] = {
      type: spec.type,
      format,
      delimiter: spec.delimiter ?? (format === 'tsv' ? '\t' : ','),
      encoding: spec.encoding ?? 'utf-8',
      rows: spec.rows,
      sha256: spec.sha256?.toLowerCase(),
      ignoreColumns: spec.ignoreColumns ?? [],
      unmappedColumns: spec.unmappedColumns ?? 'allow',
    };
  }
  return {
    version: 1,
    feed: raw.feed,
    mode: raw.mode ?? 'full',
    emptyOnPurpose: raw.emptyOnPurpose,
    files,
    users: raw.users && {
      key: raw.users.key,
      fields: Object.fromEntries(Object.entries(raw.users.fields).map(([k, v]) => [k, mapping(v)])),
      delete: raw.users.delete,
      groupRules: raw.users.groupRules ?? [],
    },
    groups: raw.groups && {
      fields: { code: mapping(raw.groups.fields.code), name: raw.groups.fields.name === undefined ? undefined : mapping(raw.groups.fields.name) },
    },
    memberships: raw.memberships && {
      fields: { user: mapping(raw.memberships.fields.user), group: mapping(raw.memberships.fields.group) },
    },
  };
}

function formatFromName(name: string): FileSpec['format'] {
  const lower = name.toLowerCase();
  if (lower.endsWith('.tsv') || lower.endsWith('.tab')) return 'tsv';
  if (lower.endsWith('.ndjson') || lower.endsWith('.jsonl')) return 'ndjson';
  if (lower.endsWith('.json')) return 'json';
  return 'csv';
}

function semanticProblems(control: ControlFile, file: string, feed: string | undefined): Problem[] {
  const problems: Problem[] = [];
  const at = (pointer: string, message: string) => problems.push(setProblem('control_mapping', message, { file, pointer }));
  if (feed !== undefined && control.feed !== undefined && control.feed !== feed) {
    problems.push(
      setProblem('control_feed_mismatch', `names feed "${control.feed}" but arrived through feed "${feed}"; drop it in the inbox of "${control.feed}" or correct "feed"`, {
        file,
        pointer: '/feed',
      }),
    );
  }
  if (Object.hasOwn(control.files, file)) at(`/files/${escapePointer(file)}`, 'the control file cannot list itself as a data file');
  const names = Object.keys(control.files);
  if (names.length > MAX_SET_FILES) at('/files', `names ${names.length} files; an upload set holds at most ${MAX_SET_FILES}`);
  for (const name of names.slice(0, MAX_SET_FILES)) {
    const problem = fileNameProblem(name);
    if (problem) at(`/files/${escapePointer(name)}`, problem);
  }
  const types = new Set(Object.values(control.files).map((f) => f.type));
  for (const type of types) {
    if (!control[type]) at('', `files of type "${type}" are listed, so a "${type}" section is required to map their columns`);
  }
  const users = control.users;
  if (users) {
    if (!users.fields[users.key]) {
      at('/users/fields', `the key field "${users.key}" must be mapped`);
    }
    for (const [field, m] of Object.entries(users.fields)) {
      if (m.split !== undefined && field !== 'groups' && !field.startsWith('custom.')) {
        at(`/users/fields/${escapePointer(field)}/split`, `only "groups" and custom.<name> fields can be split into several values`);
      }
    }
  }
  return problems;
}

export { escapePointer };

/** Node 20 says "at position N", Node 22+ says "(line L column C)". */
function jsonErrorPosition(text: string, error: Error): { line?: number; column?: number } {
  const lc = /line (\d+) column (\d+)/.exec(error.message);
  if (lc) return { line: Number(lc[1]), column: Number(lc[2]) };
  const pos = /position (\d+)/.exec(error.message);
  if (pos) return lineAndColumn(text, Number(pos[1]));
  if (/end of (JSON )?input/i.test(error.message)) return lineAndColumn(text, text.length);
  return {};
}

/** A fingerprint of everything that decides what a row means, for `holdOnMappingChange`. */
export function mappingFingerprint(control: ControlFile): string {
  const meaning = { key: control.users?.key, users: control.users, groups: control.groups, memberships: control.memberships };
  return createHash('sha256').update(canonicalJson(meaning)).digest('hex');
}

export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
