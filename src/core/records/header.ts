import { setProblem, type Problem } from '../problems.js';

/**
 * Header checks for a delimited file: no empty or duplicate names, every mapped column present,
 * and every present column mapped or declared in `ignoreColumns` — so a shifted or renamed
 * column fails the set instead of silently feeding the wrong field.
 */
export function checkHeader(columns: string[], required: string[], ignored: string[], file: string): Problem[] {
  const problems: Problem[] = [];
  const seen = new Map<string, number>();
  const known = new Set([...required, ...ignored]);
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
    if (!known.has(name)) {
      problems.push(
        setProblem('header_unknown', `column "${name}" is not mapped; map it in the control file or list it in this file's "ignoreColumns"`, {
          file,
          line: 1,
          column,
        }),
      );
    }
  });
  for (const name of new Set(required)) {
    if (!seen.has(name)) {
      problems.push(setProblem('column_missing', `the control file maps column "${name}" but the header has no such column`, { file, line: 1 }));
    }
  }
  return problems;
}

/** For JSON formats, whose records may omit keys: a mapped key no record has at all. */
export function checkKeysSeen(seen: Set<string>, required: string[], file: string): Problem[] {
  return [...new Set(required)]
    .filter((name) => !seen.has(name))
    .map((name) => setProblem('column_missing', `the control file maps "${name}" but no record has that key`, { file }));
}
