import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { handlebars, loadTemplates, templatePath } from '../../templates.js';

for (const file of readdirSync(templatePath('admin', 'partials'))) {
  handlebars.registerPartial(basename(file, '.hbs'), readFileSync(templatePath('admin', 'partials', file), 'utf8'));
}
const pages = loadTemplates('admin');

/** Every page is rendered inside the layout; `{{ }}` escapes, so data-file values show as text. */
export function renderPage(page: string, data: Record<string, unknown>): string {
  const template = pages.get(page);
  if (!template) throw new Error(`no admin template ${page}`);
  return pages.get('layout')!({ ...data, body: template(data) });
}

export const stylesheet = readFileSync(join(templatePath('admin'), 'admin.css'), 'utf8');
