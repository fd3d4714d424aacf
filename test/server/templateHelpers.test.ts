import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { handlebars, helperNames, templatePath } from '../../src/templates.js';

/** Every template file, partials and mail included. */
function templateFiles(): string[] {
  const walk = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.hbs') ? [join(dir, e.name)] : []));
  return walk(templatePath());
}

describe('template helpers', () => {
  it('print a context field named like a formatting word as the field, not the helper', () => {
    // The settings page printed the `value` helper's call (40 KB of JSON) instead of each setting.
    const render = handlebars.compile('{{value}}|{{time}}|{{number}}|{{json}}|{{encode}}|{{eq}}|{{or}}');
    expect(render({ value: '100', time: 't', number: 'n', json: 'j', encode: 'e', eq: 'q', or: 'o' })).toBe('100|t|n|j|e|q|o');
  });

  it('are all named with a hyphen, and every helper a template calls exists', () => {
    expect(helperNames.length).toBeGreaterThan(0);
    for (const name of helperNames) expect(name).toContain('-');
    const builtIn = new Set(['if', 'unless', 'each', 'with', 'lookup', 'log', 'else']);
    for (const file of templateFiles()) {
      const text = readFileSync(file, 'utf8');
      for (const [mustache] of text.matchAll(/\{\{[^}]*\}\}/g)) {
        // `{{#name x`, `{{name x` and `(name x`: a name followed by an argument is a helper call.
        for (const match of mustache.matchAll(/(?:^\{\{\{?[#~]?|\()([A-Za-z][\w-]*)\s+[^\s}]/g)) {
          const name = match[1]!;
          expect(builtIn.has(name) || helperNames.includes(name), `${file}: ${mustache}`).toBe(true);
        }
      }
    }
  });
});
