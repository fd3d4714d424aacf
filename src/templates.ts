import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import Handlebars from 'handlebars';
import { packageRoot } from './paths.js';

/** One Handlebars environment for Sluice's own templates (admin pages, emails). */
export const handlebars = Handlebars.create();

const formatTime = (iso: unknown) => (typeof iso === 'string' && iso ? iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC') : '');

/**
 * A helper named like a context field wins over the field: `{{value}}` once printed the `value`
 * helper's own call instead of a setting's value. Every helper's name therefore has a hyphen,
 * which no field of a view model (camelCase) has; registration refuses any other name.
 */
const helpers: Record<string, Handlebars.HelperDelegate> = {
  'is-equal': (a: unknown, b: unknown) => a === b,
  'any-of': (...args: unknown[]) => args.slice(0, -1).some(Boolean),
  'fmt-time': formatTime,
  /** A value from a data file or the directory, shown as text: null as "—", objects as JSON. */
  'fmt-value': (v: unknown) => (v === null || v === undefined ? '—' : typeof v === 'object' ? JSON.stringify(v) : String(v)),
  'fmt-json': (v: unknown) => JSON.stringify(v, null, 2),
  'url-encode': (v: unknown) => encodeURIComponent(String(v)),
  'fmt-number': (n: unknown) => (typeof n === 'number' ? n.toLocaleString('en') : String(n ?? '')),
};
for (const [name, helper] of Object.entries(helpers)) {
  if (!name.includes('-')) throw new Error(`Template helper ${name}: a name without a hyphen could shadow a context field`);
  handlebars.registerHelper(name, helper);
}
export const helperNames = Object.keys(helpers);

export type Template = Handlebars.TemplateDelegate;

/**
 * Compiles every `*.hbs` of `templates/<folder>` once, by name without the extension. Names
 * ending in `.text` or `.subject` are plain text: nothing in them is HTML-escaped.
 */
export function loadTemplates(folder: string): Map<string, Template> {
  const root = join(packageRoot, 'templates', folder);
  const templates = new Map<string, Template>();
  for (const file of readdirSync(root).filter((f) => f.endsWith('.hbs'))) {
    const name = basename(file, '.hbs');
    templates.set(name, handlebars.compile(readFileSync(join(root, file), 'utf8'), { noEscape: /\.(text|subject)$/.test(name) }));
  }
  return templates;
}

export const templatePath = (...parts: string[]) => join(packageRoot, 'templates', ...parts);
