import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root, found from this file whether it runs from `src/` or compiled `dist/src/`. */
function findPackageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'control-schemas'))) {
    const parent = resolve(dir, '..');
    if (parent === dir) throw new Error('cannot find the Sluice package root');
    dir = parent;
  }
  return dir;
}

export const packageRoot = findPackageRoot();
export const controlSchemaPath = join(packageRoot, 'control-schemas', 'control-v1.schema.json');
