import type { Knex } from 'knex';
import * as createFeedsAndRuns from './20261121A-create-feeds-and-runs.js';
import * as createDirectory from './20261121B-create-directory.js';
import * as createStaging from './20261121C-create-staging.js';
import * as createApiKeysAndLeases from './20261121D-create-api-keys-and-leases.js';
import * as addRunAttempts from './20261121E-add-run-attempts.js';
import * as createAdminsAndAudit from './20261121F-create-admins-and-audit.js';
import * as createMailOutbox from './20261121G-create-mail-outbox.js';
import * as createFeedPulls from './20261121H-create-feed-pulls.js';
import * as createJobTicks from './20261121I-create-job-ticks.js';
import * as addRowFingerprints from './20261121J-add-row-fingerprints.js';
import * as addRunHeartbeat from './20261128B-add-run-heartbeat.js';
import * as addChangeCommitSeq from './20261128C-add-change-commit-seq.js';
import * as widenLongTextColumns from './20261128E-widen-long-text-columns.js';
import * as normaliseEmailKeys from './20261128E-normalise-email-keys.js';
import * as createAttemptLimits from './20261128G-create-attempt-limits.js';
import * as createSftpAccounts from './20261128H-create-sftp-accounts.js';
import * as createAppTokens from './20261128I-create-app-tokens.js';
import * as createAppExports from './20261128I-create-app-exports.js';
import * as addRunProgress from './20261128J-add-run-progress.js';
import * as createPersonalTokens from './20261128L-create-personal-tokens.js';
import * as createRunRequests from './20261128M-create-run-requests.js';
import * as addMembershipDigests from './20261128N-add-membership-digests.js';
import * as lastSeenByException from './20261128P-last-seen-by-exception.js';
import * as indexLowerCaseEmails from './20261128Q-index-lower-case-emails.js';

/** Migrations are listed, not globbed, so they run the same from `src/` and compiled `dist/`. */
const migrations: Record<string, Knex.Migration> = {
  '20261121A-create-feeds-and-runs': createFeedsAndRuns,
  '20261121B-create-directory': createDirectory,
  '20261121C-create-staging': createStaging,
  '20261121D-create-api-keys-and-leases': createApiKeysAndLeases,
  '20261121E-add-run-attempts': addRunAttempts,
  '20261121F-create-admins-and-audit': createAdminsAndAudit,
  '20261121G-create-mail-outbox': createMailOutbox,
  '20261121H-create-feed-pulls': createFeedPulls,
  '20261121I-create-job-ticks': createJobTicks,
  '20261121J-add-row-fingerprints': addRowFingerprints,
  '20261128B-add-run-heartbeat': addRunHeartbeat,
  '20261128C-add-change-commit-seq': addChangeCommitSeq,
  '20261128E-widen-long-text-columns': widenLongTextColumns,
  '20261128E-normalise-email-keys': normaliseEmailKeys,
  '20261128G-create-attempt-limits': createAttemptLimits,
  '20261128H-create-sftp-accounts': createSftpAccounts,
  '20261128I-create-app-tokens': createAppTokens,
  '20261128I-create-app-exports': createAppExports,
  '20261128J-add-run-progress': addRunProgress,
  '20261128L-create-personal-tokens': createPersonalTokens,
  '20261128M-create-run-requests': createRunRequests,
  '20261128N-add-membership-digests': addMembershipDigests,
  '20261128P-last-seen-by-exception': lastSeenByException,
  '20261128Q-index-lower-case-emails': indexLowerCaseEmails,
};

export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(migrations),
  getMigrationName: (name) => name,
  getMigration: async (name) => migrations[name]!,
};
