import type { ControlFile, UsersSection } from '../core/control/types.js';
import type { SourceRow } from '../core/readers/types.js';
import { mapMembership } from '../core/records/groups.js';
import type { MembershipDigests } from '../core/records/membershipDigest.js';
import type { ProblemSink, Writers } from './stage.js';

/**
 * How a memberships file is read. `all`: checked and staged in one pass (delta runs). A `full`
 * run reads it twice around its users files: `digest` checks every row and sums the digests,
 * staging nothing; `pending` stages only the rows of users whose record was not skipped as
 * unchanged (and of users the set does not have, so the whole-set check still rejects them),
 * reporting nothing, as the first pass did.
 */
export type MembershipsPass = 'all' | 'digest' | 'pending';

export interface MembershipsFileReading {
  runId: number;
  section: NonNullable<ControlFile['memberships']>;
  keyKind: UsersSection['key'];
  file: string;
  writers: Writers;
  problems: ProblemSink;
  columnOf: (column?: string) => number | undefined;
  pass: MembershipsPass;
  digests: MembershipDigests | null;
}

export async function readMembershipRows(batches: AsyncIterable<SourceRow[]>, work: MembershipsFileReading): Promise<void> {
  const { runId, section, keyKind, file, writers, problems, columnOf, pass, digests } = work;
  for await (const batch of batches) for (const row of batch) {
    if (row.rejected) {
      if (pass !== 'pending') await problems.addRow([row.rejected]);
      continue;
    }
    const { record, problems: rowProblems } = mapMembership(section, keyKind, row, file, columnOf);
    if (!record) {
      if (pass !== 'pending') await problems.addRow(rowProblems);
    } else if (pass === 'digest') digests!.add(record.userKey, record.groupCode);
    else if (pass === 'all' || digests!.needsStaging(record.userKey)) {
      await writers.memberships.write([runId, record.userKey, record.groupCode, file, row.line]);
    }
  }
}
