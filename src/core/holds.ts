import type { ChangeCounts } from './changeCounts.js';
import type { FeedSettings } from './feedSettings.js';

export interface HoldReason {
  rule: string;
  message: string;
  value?: number;
  limit?: number;
}

export interface HoldContext {
  settings: FeedSettings;
  counts: ChangeCounts;
  /** Active users and feed-managed memberships in the directory before this run. */
  baseline: { users: number; memberships: number };
  feedHasAppliedRun: boolean;
  mappingChanged: boolean;
  mode?: 'full' | 'delta';
  /** What reading the files showed about who is present. */
  reading?: ReadingFacts;
}

export interface ReadingFacts {
  /** Rejected users records whose key could not be read. */
  unreadableKeys: number;
  /** Users files of a `full` set with no record at all. */
  emptyUsersFiles: string[];
  /** Active users no record named, whom the run would suspend or delete (0 when the feed keeps them). */
  absentUsers: number;
  /** The control file's `"emptyOnPurpose": true`. */
  emptyOnPurpose: boolean;
}

const pct = (part: number, whole: number) => (whole === 0 ? 0 : (part / whole) * 100);
const fmt = (n: number) => `${Math.round(n * 10) / 10} %`;

/** The safety rules of PRODUCT §5: any rule that trips holds the run, and says with which numbers. */
export function holdReasons({ settings, counts, baseline, feedHasAppliedRun, mappingChanged, mode, reading }: HoldContext): HoldReason[] {
  const reasons: HoldReason[] = [];
  if (!settings.autoApply) reasons.push({ rule: 'autoApply', message: 'automatic apply is off for this feed' });
  if (settings.holdFirstRun && !feedHasAppliedRun) {
    reasons.push({ rule: 'holdFirstRun', message: 'this is the first run of the feed; check it before it is applied' });
  }
  if (settings.holdOnMappingChange && mappingChanged) {
    reasons.push({ rule: 'holdOnMappingChange', message: "the control file's mapping differs from the last applied run's" });
  }
  const removals = counts.users.suspended + counts.users.deleted;
  if (removals > settings.maxUserRemovals) {
    reasons.push({
      rule: 'maxUserRemovals',
      message: `${removals} users would be suspended or deleted; the limit is ${settings.maxUserRemovals}`,
      value: removals,
      limit: settings.maxUserRemovals,
    });
  }
  type PercentRule = 'maxUserRemovalPercent' | 'maxUserUpdatePercent' | 'maxMembershipRemovalPercent';
  const percentRule = (rule: PercentRule, part: number, whole: number, noun: string, outcome: string) => {
    if (whole < settings.minBaselineForPercent) return;
    const limit = settings[rule];
    const value = pct(part, whole);
    if (value > limit) reasons.push({ rule, message: `${part} of ${whole} ${noun} (${fmt(value)}) would be ${outcome}; the limit is ${limit} %`, value, limit });
  };
  percentRule('maxUserRemovalPercent', removals, baseline.users, 'users', 'suspended or deleted');
  percentRule('maxUserUpdatePercent', counts.users.updated, baseline.users, 'users', 'updated');
  percentRule('maxMembershipRemovalPercent', counts.memberships.removed, baseline.memberships, 'memberships', 'removed');
  if (mode === 'full') reasons.push(...directoryTrust(removals, baseline.users, reading));
  return reasons;
}

/**
 * The rules no feed setting turns off (PRODUCT §5): a `full` run must prove who is missing
 * before it removes anyone, and small feeds are protected as well as large ones.
 */
function directoryTrust(removals: number, activeUsers: number, reading: ReadingFacts | undefined): HoldReason[] {
  const reasons: HoldReason[] = [];
  if (removals > 0 && removals * 2 > activeUsers) {
    reasons.push({
      rule: 'mostUsersRemoved',
      message: `${removals} of the feed's ${activeUsers} active users would be suspended or deleted: more than half, whatever the feed's size`,
      value: removals,
      limit: Math.floor(activeUsers / 2),
    });
  }
  if (!reading) return reasons;
  if (reading.unreadableKeys > 0 && reading.absentUsers > 0) {
    reasons.push({
      rule: 'unreadableKeys',
      message: `${reading.unreadableKeys} rejected users record(s) have no readable key, so it cannot be proven that the ${reading.absentUsers} user(s) the files do not name are missing; fix those records, or approve to suspend or delete them anyway`,
      value: reading.unreadableKeys,
      limit: 0,
    });
  }
  if (reading.emptyUsersFiles.length > 0 && !reading.emptyOnPurpose) {
    reasons.push({
      rule: 'emptyUsersFile',
      message: `${reading.emptyUsersFiles.map((f) => `"${f}"`).join(', ')} has no records, so this full run says the source has no users; if that is on purpose, the control file must say "emptyOnPurpose": true`,
      value: 0,
    });
  }
  return reasons;
}

/** Row errors above the feed's limits fail the run instead of applying the rest. */
export function tooManyErrors(settings: FeedSettings, errorRows: number, totalRows: number): string | null {
  if (errorRows > settings.maxErrorRows) {
    return `${errorRows} rows have errors; the feed allows at most ${settings.maxErrorRows} (maxErrorRows)`;
  }
  const share = pct(errorRows, totalRows);
  if (share > settings.maxErrorPercent) {
    return `${errorRows} of ${totalRows} rows (${fmt(share)}) have errors; the feed allows at most ${settings.maxErrorPercent} % (maxErrorPercent)`;
  }
  return null;
}
