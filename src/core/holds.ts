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
}

const pct = (part: number, whole: number) => (whole === 0 ? 0 : (part / whole) * 100);
const fmt = (n: number) => `${Math.round(n * 10) / 10} %`;

/** The safety rules of PRODUCT §5: any rule that trips holds the run, and says with which numbers. */
export function holdReasons({ settings, counts, baseline, feedHasAppliedRun, mappingChanged }: HoldContext): HoldReason[] {
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
