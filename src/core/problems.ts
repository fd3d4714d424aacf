/**
 * A problem found in an upload set. `set` problems fail the whole run; `row` problems skip
 * one record. Every problem says where: a file and a line and column, or a JSON pointer.
 */
export interface Problem {
  level: 'set' | 'row';
  code: ProblemCode;
  message: string;
  file?: string;
  line?: number;
  column?: number;
  pointer?: string;
  key?: string;
}

export type ProblemCode =
  | 'control_not_json'
  | 'control_schema'
  | 'control_feed_mismatch'
  | 'control_mapping'
  | 'control_duplicate_key'
  | 'control_missing'
  | 'file_missing'
  | 'file_extra'
  | 'file_empty'
  | 'file_checksum'
  | 'file_row_count'
  | 'header_unknown'
  | 'header_duplicate'
  | 'header_empty'
  | 'column_missing'
  | 'encoding_invalid'
  | 'csv_malformed'
  | 'json_malformed'
  | 'too_many_errors'
  | 'field_count'
  | 'field_too_long'
  | 'required_missing'
  | 'email_invalid'
  | 'url_invalid'
  | 'value_too_long'
  | 'key_invalid'
  | 'value_invalid'
  | 'key_duplicate'
  | 'group_duplicate'
  | 'membership_unknown_user'
  | 'processing_error'
  | 'pull_failed';

/** `file:line:column`, or `file /json/pointer` for a control-file problem; '' when it has no place. */
export function problemLocation(p: Problem): string {
  let where = p.file ?? '';
  if (p.line !== undefined) where += `:${p.line}` + (p.column !== undefined ? `:${p.column}` : '');
  else if (p.pointer !== undefined) where += ` ${p.pointer || '/'}`;
  return where;
}

/** The message with the JSON pointer it is about, for lists whose other columns carry file and line. */
export const problemMessage = (p: Problem): string => (p.pointer !== undefined ? `${p.pointer || '/'}: ${p.message}` : p.message);

/** `people.csv:12:5: message`, the form editors and terminals link to. */
export function formatProblem(p: Problem): string {
  const where = problemLocation(p);
  // A control-file problem located at a line keeps its pointer: a one-line control file has one line.
  return where ? `${where}: ${p.line !== undefined ? problemMessage(p) : p.message}` : p.message;
}

export const setProblem = (code: ProblemCode, message: string, where: Partial<Problem> = {}): Problem => ({
  level: 'set',
  code,
  message,
  ...where,
});

export const rowProblem = (code: ProblemCode, message: string, where: Partial<Problem> = {}): Problem => ({
  level: 'row',
  code,
  message,
  ...where,
});

/** Line and column (1-based) of a character offset in a text. */
export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}
