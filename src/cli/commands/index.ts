import { migrateLatest, openDatabase } from '../../storage/database.js';
import { EXIT } from '../output.js';
import { adminCommand } from './admins.js';
import { appTokenCommand } from './appToken.js';
import { changesCommand } from './changes.js';
import { auditCommand, groupCommand, groupsCommand, mailCommand, userCommand, usersCommand } from './directory.js';
import { exportCommand } from './exportApp.js';
import { feedCommand } from './feed.js';
import { importCommand } from './importFolder.js';
import { keyCommand } from './keys.js';
import { runCommand, runsCommand } from './runs.js';
import { serveCommand } from './serve.js';
import { sftpCommand } from './sftp.js';
import { uploadCommand } from './upload.js';
import type { Command } from './shared.js';
import { validateCommand } from './validate.js';

const migrateCommand: Command = {
  summary: 'migrate: bring the database schema up to date',
  async run(input) {
    const database = openDatabase(input.loadConfig().databaseUrl);
    try {
      const applied = await migrateLatest(database);
      process.stdout.write(applied.length ? `applied ${applied.join(', ')}\n` : 'the schema is up to date\n');
      return EXIT.done;
    } finally {
      await database.close();
    }
  },
};

export const commands: Record<string, Command> = {
  serve: serveCommand,
  migrate: migrateCommand,
  feed: feedCommand,
  runs: runsCommand,
  run: runCommand,
  validate: validateCommand,
  import: importCommand,
  key: keyCommand,
  admin: adminCommand,
  upload: uploadCommand,
  changes: changesCommand,
  sftp: sftpCommand,
  'app-token': appTokenCommand,
  export: exportCommand,
  users: usersCommand,
  user: userCommand,
  groups: groupsCommand,
  group: groupCommand,
  audit: auditCommand,
  mail: mailCommand,
};
