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
  const percentRulesApply = baseline.users >= settings.minBaselineForPercent;
  if (percentRulesApply) {
    const removalPct = pct(removals, baseline.users);
    if (removalPct > settings.maxUserRemovalPercent) {
      reasons.push({
        rule: 'maxUserRemovalPercent',
        message: `${removals} of ${baseline.users} users (${fmt(removalPct)}) would be suspended or deleted; the limit is ${settings.maxUserRemovalPercent} %`,
        value: removalPct,
        limit: settings.maxUserRemovalPercent,
      });
    }
    const updatePct = pct(counts.users.updated, baseline.users);
    if (updatePct > settings.maxUserUpdatePercent) {
      reasons.push({
        rule: 'maxUserUpdatePercent',
        message: `${counts.users.updated} of ${baseline.users} users (${fmt(updatePct)}) would be updated; the limit is ${settings.maxUserUpdatePercent} %`,
        value: updatePct,
        limit: settings.maxUserUpdatePercent,
      });
    }
  }
  if (baseline.memberships >= settings.minBaselineForPercent) {
    const membershipPct = pct(counts.memberships.removed, baseline.memberships);
    if (membershipPct > settings.maxMembershipRemovalPercent) {
      reasons.push({
        rule: 'maxMembershipRemovalPercent',
        message: `${counts.memberships.removed} of ${baseline.memberships} memberships (${fmt(membershipPct)}) would be removed; the limit is ${settings.maxMembershipRemovalPercent} %`,
        value: membershipPct,
        limit: settings.maxMembershipRemovalPercent,
      });
    }
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
