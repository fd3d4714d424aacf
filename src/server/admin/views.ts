import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import Handlebars from 'handlebars';
import { packageRoot } from '../../paths.js';

const root = join(packageRoot, 'templates', 'admin');
const handlebars = Handlebars.create();

const formatTime = (iso: unknown) => (typeof iso === 'string' && iso ? iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC') : '');

handlebars.registerHelper({
  eq: (a: unknown, b: unknown) => a === b,
  or: (...args: unknown[]) => args.slice(0, -1).some(Boolean),
  time: formatTime,
  /** A value from a data file or the directory, shown as text: null as "—", objects as JSON. */
  value: (v: unknown) => (v === null || v === undefined ? '—' : typeof v === 'object' ? JSON.stringify(v) : String(v)),
  json: (v: unknown) => JSON.stringify(v, null, 2),
  encode: (v: unknown) => encodeURIComponent(String(v)),
  number: (n: unknown) => (typeof n === 'number' ? n.toLocaleString('en') : String(n ?? '')),
});

for (const file of readdirSync(join(root, 'partials'))) {
  handlebars.registerPartial(basename(file, '.hbs'), readFileSync(join(root, 'partials', file), 'utf8'));
}

const pages = new Map<string, Handlebars.TemplateDelegate>();
for (const file of readdirSync(root).filter((f) => f.endsWith('.hbs'))) {
  pages.set(basename(file, '.hbs'), handlebars.compile(readFileSync(join(root, file), 'utf8'), { strict: false }));
}

/** Every page is rendered inside the layout; `{{ }}` escapes, so data-file values show as text. */
export function renderPage(page: string, data: Record<string, unknown>): string {
  const template = pages.get(page);
  if (!template) throw new Error(`no admin template ${page}`);
  return pages.get('layout')!({ ...data, body: template(data) });
}

export const stylesheet = readFileSync(join(root, 'admin.css'), 'utf8');
