import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * A generated upload set of `users` users in three groups each, big enough to kill mid-way.
 * A `variant` changes the first name and one group of every `every`-th user.
 */
export async function writeBigSet(dir: string, users: number, variant = 0, every = 1): Promise<string> {
  await mkdir(dir, { recursive: true });
  const lines = ['id,email,first,last,groups'];
  for (let i = 0; i < users; i++) {
    const v = i % every === 0 ? variant : 0;
    lines.push(`u${i},user${i}@example.org,First${(i + v) % 997},Last${i % 1009},g${i % 50};h${i % 7};k${(i + v) % 3}`);
  }
  await writeFile(join(dir, 'users.csv'), lines.join('\n') + '\n');
  await writeFile(
    join(dir, 'control.json'),
    JSON.stringify({
      version: 1,
      mode: 'full',
      files: { 'users.csv': { type: 'users' } },
      users: { key: 'username', fields: { username: 'id', email: 'email', firstName: 'first', lastName: 'last', groups: { column: 'groups', split: ';' } } },
    }),
  );
  return dir;
}
