/**
 * One CSV line for spreadsheets. Text starting with `=`, `+`, `-`, `@`, a tab or a carriage
 * return is prefixed with `'`: a spreadsheet would otherwise run it as a formula (CSV injection).
 * Numbers are numbers and stay as they are.
 */
export function csvLine(values: readonly unknown[]): string {
  return values.map(csvCell).join(',') + '\r\n';
}

function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  let text = typeof value === 'string' ? value : JSON.stringify(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) || text !== text.trim() ? `"${text.replace(/"/g, '""')}"` : text;
}
