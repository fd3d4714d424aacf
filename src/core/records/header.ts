import type { FileSpec } from '../control/types.js';
import { setProblem, type Problem } from '../problems.js';

type ColumnRules = Pick<FileSpec, 'ignoreColumns' | 'unmappedColumns'>;

/**
 * Header checks for a delimited file: no empty or duplicate names and every mapped column
 * present. Columns the mapping does not use are allowed — real exports carry dozens — unless
 * the file entry says `"unmappedColumns": "error"`: then a column that is neither mapped nor in
 * `ignoreColumns` fails the set, so a source whose shape must not drift cannot feed a shifted
 * or renamed column into the wrong field.
 */
export function checkHeader(columns: string[], required: string[], rules: ColumnRules, file: string): Problem[] {
  const problems: Problem[] = [];
  const seen = new Map<string, number>();
  const known = new Set([...required, ...rules.ignoreColumns]);
  columns.forEach((name, index) => {
    const column = index + 1;
    if (name === '') {
      problems.push(setProblem('header_empty', 'a column has no name in the header', { file, line: 1, column }));
      return;
    }
    const first = seen.get(name);
    if (first !== undefined) {
      problems.push(setProblem('header_duplicate', `column "${name}" appears twice in the header (columns ${first} and ${column})`, { file, line: 1, column }));
      return;
    }
    seen.set(name, column);
    if (rules.unmappedColumns === 'error' && !known.has(name)) problems.push(unmappedProblem(name, file, { line: 1, column }));
  });
  const hint = delimiterHint(columns);
  const missing = [...new Set(required)].filter((name) => !seen.has(name));
  if (hint && missing.length > 1) {
    // One cause, one problem: not the same advice once per mapped column.
    const names = missing.map((name) => `"${name}"`).join(', ');
    problems.push(setProblem('column_missing', `the control file maps columns ${names} but the header has none of them${hint}`, { file, line: 1 }));
  } else {
    for (const name of missing) problems.push(setProblem('column_missing', `the control file maps column "${name}" but the header has no such column${hint}`, { file, line: 1 }));
  }
  return problems;
}

/**
 * An Excel export in a semicolon locale, read with the default comma, has one long column name:
 * say which delimiter the file seems to use instead of only that every column is missing.
 */
function delimiterHint(columns: string[]): string {
  for (const candidate of [';', '\t', '|']) {
    if (columns.some((name) => name.split(candidate).length > 2)) {
      return `; the header seems to be split by ${candidate === '\t' ? 'tabs' : `"${candidate}"`}: set "delimiter": "${candidate === '\t' ? '\\t' : candidate}" for this file in the control file`;
    }
  }
  return '';
}

const unmappedProblem = (name: string, file: string, where: { line?: number; column?: number } = {}) =>
  setProblem('header_unknown', `column "${name}" is not mapped and this file says "unmappedColumns": "error"; map it or list it in "ignoreColumns"`, {
    file,
    ...where,
  });

/**
 * For JSON formats, whose records may omit keys: a mapped key no record has at all, and with
 * `"unmappedColumns": "error"` a key no mapping uses.
 */
export function checkKeysSeen(seen: Set<string>, required: string[], file: string, rules?: ColumnRules): Problem[] {
  const problems = [...new Set(required)]
    .filter((name) => !seen.has(name))
    .map((name) => setProblem('column_missing', `the control file maps "${name}" but no record has that key`, { file }));
  if (rules?.unmappedColumns === 'error') {
    const known = new Set([...required, ...rules.ignoreColumns]);
    for (const name of seen) if (!known.has(name)) problems.push(unmappedProblem(name, file));
  }
  return problems;
}

/** The columns (or JSON keys) of a file that no mapping uses, in file order. */
export function unusedColumns(columns: Iterable<string>, required: string[]): string[] {
  const used = new Set(required);
  return [...new Set(columns)].filter((name) => name !== '' && !used.has(name));
}

/**
 * The run event that lists them, once per file. A users file's unmapped columns are still kept
 * in the raw record for user lookup, except those given to `notKept` (`ignoreColumns`, and
 * secrets): the message says which, so "ignored" is not read as "thrown away".
 */
export function ignoredColumnsMessage(file: string, columns: string[], notKept?: (column: string) => 'ignoreColumns' | 'secret' | null): string {
  const list = `${file}: ignored columns: ${columns.join(', ')}`;
  if (!notKept) return list;
  const dropped = columns.flatMap((column) => {
    const why = notKept(column);
    return why === null ? [] : [`${column} (${why === 'secret' ? 'its name marks a secret' : 'in ignoreColumns'})`];
  });
  if (dropped.length === columns.length) return `${list} — none kept in the source record: ${dropped.join(', ')}`;
  return `${list} — kept in the source record for user lookup${dropped.length ? `, except ${dropped.join(', ')}` : ''}`;
}
