import { DEFAULT_RECEIVE_TIMEOUT_SECONDS } from './commands/upload.js';

/**
 * Every verb and sub-verb as the command line shows it: arguments, options, an example. The
 * command modules (`commands/*.ts`) do the work; this table is only what the parser and
 * `--help` need, so each command's `run` keeps receiving `args` and `options` as before.
 */
export interface VerbSpec {
  description: string;
  /** commander argument syntax: `<required>`, `[optional]`. */
  args?: string[];
  /** [flags, description], e.g. ['--feed <slug>', 'only this feed']. */
  options?: [string, string][];
  examples: string[];
  subs?: Record<string, Omit<VerbSpec, 'subs'>>;
}

const limit: [string, string] = ['--limit <n>', 'at most N entries'];

export const verbs: Record<string, VerbSpec> = {
  serve: {
    description: 'the HTTP API, the folder inbox, SFTP and the scheduled jobs (what npm start runs)',
    options: [['--sftp-port <port>', 'the SFTP port when SFTP_PORT is not set']],
    examples: ['sluice serve', 'PORT=8080 DATABASE_URL=mysql://sluice:secret@db/sluice sluice serve'],
  },
  migrate: { description: 'bring the database schema up to date', examples: ['sluice migrate'] },
  feed: {
    description: 'feeds: add one, change or show its settings, set its control file, sync it now',
    examples: ['sluice feed add hr --name "HR system"', 'sluice feed set hr maxUserRemovals 20', 'sluice feed show hr'],
    subs: {
      add: { description: 'add a feed', args: ['<slug>'], options: [['--name <name>', 'its display name']], examples: ['sluice feed add hr --name "HR system"'] },
      set: {
        description: 'change one setting (or pull secret) of a feed and print it; "-" reads the value from stdin',
        args: ['<slug>', '<key>', '<value>'],
        examples: ['sluice feed set hr maxUserRemovals 20', 'sluice feed set hr reportEmails ann@example.org,bob@example.org', 'printf %s "$TOKEN" | sluice feed set hr pullToken -'],
      },
      show: { description: "a feed's settings, or every feed's", args: ['[slug]'], examples: ['sluice feed show hr', 'sluice feed show --json'] },
      control: { description: "check and store a feed's control file", args: ['<slug>', '<control.json>'], examples: ['sluice feed control hr ./control.json'] },
      sync: { description: "pull from the feed's API now and process the run like an import", args: ['<slug>'], examples: ['sluice feed sync hr'] },
    },
  },
  runs: {
    description: 'runs, newest first',
    options: [['--feed <slug>', 'only this feed'], ['--state <state>', 'only runs in this state (held, failed, applied, …)'], limit],
    examples: ['sluice runs --feed hr --state held'],
  },
  run: {
    description: 'one run and its actions',
    examples: ['sluice run show 42', 'sluice run show 42 --changes suspend', 'sluice run apply 42'],
    subs: {
      show: {
        description: 'one run: state, counts, hold reasons, errors; --changes OP lists the users concerned (create, update, suspend, reactivate, delete, add, remove, group:create…)',
        args: ['<id>'],
        options: [
          ['--all-errors', 'every error, not the first ones'],
          ['--changes <op>', 'list the changes of this operation'],
          ['--limit <n>', 'at most N changes (default 1000)'],
          ['--watch', 'follow a run in progress to its end, with its progress on a terminal'],
        ],
        examples: ['sluice run show 42', 'sluice run show 42 --changes suspend --limit 20', 'sluice run show 42 --watch'],
      },
      apply: { description: 'apply a held run', args: ['<id>'], options: [['--all-errors', 'every error, not the first ones']], examples: ['sluice run apply 42'] },
      cancel: {
        description: 'cancel a run; --unsafe also stops one a live worker is applying',
        args: ['<id>'],
        options: [['--unsafe', 'cancel a run that is being applied']],
        examples: ['sluice run cancel 42'],
      },
      reapply: { description: 'apply the run\'s files again as a new run', args: ['<id>'], options: [['--all-errors', 'every error, not the first ones']], examples: ['sluice run reapply 42'] },
      revalidate: { description: 'validate a held run again against the current settings', args: ['<id>'], options: [['--all-errors', 'every error, not the first ones']], examples: ['sluice run revalidate 42'] },
    },
  },
  validate: { description: 'every check, offline, without a database', args: ['<folder>'], options: [['--feed <slug>', 'check as this feed']], examples: ['sluice validate ./drop/2026-11-28 --feed hr'] },
  import: {
    description: "claim the folder's files, validate, diff, hold or apply (for cron)",
    args: ['<folder>'],
    options: [['--feed <slug>', 'the feed (required)'], ['--keep', 'leave the source files where they are']],
    examples: ['sluice import /srv/sftp/hr/outgoing --feed hr'],
  },
  key: {
    description: 'API keys for the upload API',
    examples: ['sluice key create hr --label "HR nightly export"', 'sluice key list hr'],
    subs: {
      create: { description: 'create a key for a feed (shown once)', args: ['<feed>'], options: [['--label <label>', 'what the key is for']], examples: ['sluice key create hr --label "HR nightly export"'] },
      revoke: { description: 'revoke a key', args: ['<id-or-prefix>'], examples: ['sluice key revoke sk_3f9a'] },
      list: { description: "the keys, or one feed's", args: ['[feed]'], examples: ['sluice key list hr'] },
    },
  },
  admin: {
    description: 'admin page accounts',
    examples: ['sluice admin add ann@example.org --role operator', 'sluice admin list'],
    subs: {
      add: {
        description: 'add an account; prints a generated password once unless --password-stdin',
        args: ['<email>'],
        options: [['--role <role>', 'viewer, operator or admin (default viewer)'], ['--password-stdin', 'read the password from stdin']],
        examples: ['sluice admin add ann@example.org --role operator'],
      },
      list: { description: 'the accounts', examples: ['sluice admin list'] },
      role: { description: "change an account's role", args: ['<email>', '<role>'], examples: ['sluice admin role ann@example.org admin'] },
      'reset-password': {
        description: 'set a new password (generated and printed once, or from stdin)',
        args: ['<email>'],
        options: [['--password-stdin', 'read the password from stdin']],
        examples: ['sluice admin reset-password ann@example.org'],
      },
      remove: { description: 'remove an account', args: ['<email>'], examples: ['sluice admin remove ann@example.org'] },
      token: {
        description: 'personal API tokens for the run actions over HTTP: create <email> (shown once), list [<email>], revoke <prefix>',
        args: ['<action>', '[email-or-prefix]'],
        options: [['--label <label>', 'what the token is for (create)']],
        examples: ['sluice admin token create ann@example.org --label "release script"', 'sluice admin token list', 'sluice admin token revoke sluiceadm_3f9a2b1c0d4e'],
      },
    },
  },
  upload: {
    description: `send an upload set to a Sluice server; gives up with exit code 4 when the run is still receiving (the set is incomplete) S seconds (default ${DEFAULT_RECEIVE_TIMEOUT_SECONDS}) after the last file`,
    args: ['<folder>'],
    options: [
      ['--url <url>', 'the Sluice server'],
      ['--key <key>', 'the feed\'s API key (or SLUICE_API_KEY)'],
      ['--feed <slug>', 'the feed'],
      ['--no-wait', 'do not wait for the run'],
      ['--receive-timeout <seconds>', 'how long an incomplete set may wait for its files'],
    ],
    examples: ['sluice upload --url https://sluice.example.org --key sk_… --feed hr ./drop'],
  },
  changes: {
    description: 'the change log after commit number N, in commit order: one line a change, an update with the fields it changed (--json: the whole entries)',
    options: [['--after <n>', 'after this commit number (default 0)'], ['--feed <slug>', 'only this feed'], ['--limit <n>', 'at most N changes (default 1000)']],
    examples: ['sluice changes --after 0 --limit 100'],
  },
  sftp: {
    description: 'logins of the built-in SFTP endpoint',
    examples: ['sluice sftp add hr --public-key ./hr.pub', 'sluice sftp list'],
    subs: {
      add: {
        description: 'add a login for a feed; prints a generated password once unless a key or --password-stdin is given',
        args: ['<feed>'],
        options: [['--password-stdin', 'read the password from stdin'], ['--public-key <file>', 'an OpenSSH public key file'], ['--name <name>', 'the user name']],
        examples: ['sluice sftp add hr --public-key ./hr.pub'],
      },
      list: { description: "the logins, or one feed's", args: ['[feed]'], examples: ['sluice sftp list hr'] },
      remove: { description: 'remove a login', args: ['<id-or-name>'], examples: ['sluice sftp remove hr-upload'] },
      info: { description: "the endpoint's address and host key fingerprint", examples: ['sluice sftp info'] },
    },
  },
  'app-token': {
    description: 'tokens for applications reading the directory',
    examples: ['sluice app-token create intranet --feeds hr --scope read', 'sluice app-token list'],
    subs: {
      create: {
        description: 'create a token (shown once)',
        args: ['<name>'],
        options: [['--feeds <slugs>', 'comma-separated feeds it may read'], ['--scope <scope>', 'read or write (default read)']],
        examples: ['sluice app-token create intranet --feeds hr,contractors --scope read'],
      },
      list: { description: 'the tokens', examples: ['sluice app-token list'] },
      revoke: { description: 'revoke a token', args: ['<id-or-prefix>'], examples: ['sluice app-token revoke at_3f9a'] },
    },
  },
  export: { description: "send the applications' changes since the last export to the feed's exportTo", args: ['<feed>'], examples: ['sluice export hr'] },
  users: {
    description: "the feed's users; --search matches part of a key, e-mail address or name in any letter case",
    args: ['<feed>'],
    options: [['--search <text>', 'part of a key, e-mail address or name'], ['--state <state>', 'active or suspended'], ['--limit <n>', 'at most N users (default 50)']],
    examples: ['sluice users hr --search lee', 'sluice users hr --state suspended --limit 20'],
  },
  user: {
    description: 'one user: fields (locked ones marked), groups, state, the source record, change history',
    args: ['<feed>', '<key-or-email>'],
    examples: ['sluice user hr u1001', 'sluice user hr ann.lee@example.org --json'],
  },
  groups: { description: "the feed's groups with their member counts", args: ['<feed>'], options: [['--limit <n>', 'at most N groups (default 1000)']], examples: ['sluice groups hr'] },
  group: {
    description: "one group's members with names and e-mail addresses",
    args: ['<feed>', '<code>'],
    options: [['--limit <n>', 'at most N members (default 1000)']],
    examples: ['sluice group hr sales'],
  },
  audit: {
    description: 'the audit log, newest first',
    options: [['--actor <text>', "part of the actor's e-mail address or name"], ['--action <action>', 'only this action'], ['--feed <slug>', 'only this feed and its runs'], ['--limit <n>', 'at most N entries (default 50)']],
    examples: ['sluice audit --feed hr --action run.apply', 'sluice audit --actor ann --limit 20'],
  },
  mail: {
    description: 'the outbox, newest first: reports, invitations, digests and their state',
    options: [['--limit <n>', 'at most N messages (default 50)']],
    examples: ['sluice mail --limit 10', 'sluice mail show 12'],
    subs: { show: { description: 'one message as sent: recipients, subject, text, attachments', args: ['<id>'], examples: ['sluice mail show 12'] } },
  },
};
