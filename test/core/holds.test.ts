import { describe, expect, it } from 'vitest';
import { emptyCounts } from '../../src/core/changeCounts.js';
import { crossSettingProblems, defaultFeedSettings, parseFeedSetting } from '../../src/core/feedSettings.js';
import { holdReasons, tooManyErrors } from '../../src/core/holds.js';

const context = (over: Partial<Parameters<typeof holdReasons>[0]> = {}) => ({
  settings: defaultFeedSettings,
  counts: emptyCounts(),
  baseline: { users: 1000, memberships: 3000 },
  feedHasAppliedRun: true,
  mappingChanged: false,
  ...over,
});
const rules = (over: Partial<Parameters<typeof holdReasons>[0]> = {}) => holdReasons(context(over)).map((r) => r.rule);
const counts = (users: Partial<ReturnType<typeof emptyCounts>['users']>, removed = 0) => {
  const c = emptyCounts();
  Object.assign(c.users, users);
  c.memberships.removed = removed;
  return c;
};

describe('hold rules', () => {
  it('holds nothing ordinary', () => expect(rules({ counts: counts({ updated: 500, suspended: 100 }, 600) })).toEqual([]));

  it('holds on each rule just above its limit, with the numbers', () => {
    expect(rules({ settings: { ...defaultFeedSettings, autoApply: false } })).toEqual(['autoApply']);
    expect(rules({ feedHasAppliedRun: false })).toEqual(['holdFirstRun']);
    expect(rules({ mappingChanged: true })).toEqual(['holdOnMappingChange']);
    expect(rules({ counts: counts({ suspended: 60, deleted: 41 }) })).toEqual(['maxUserRemovalPercent']);
    expect(rules({ counts: counts({ updated: 501 }) })).toEqual(['maxUserUpdatePercent']);
    expect(rules({ counts: counts({}, 601) })).toEqual(['maxMembershipRemovalPercent']);
    expect(rules({ baseline: { users: 100_000, memberships: 0 }, counts: counts({ suspended: 501 }) })).toEqual(['maxUserRemovals']);
    expect(holdReasons(context({ counts: counts({ updated: 501 }) }))[0]).toEqual({
      rule: 'maxUserUpdatePercent',
      message: '501 of 1000 users (50.1 %) would be updated; the limit is 50 %',
      value: 50.1,
      limit: 50,
    });
  });

  it('applies percentage rules only from minBaselineForPercent', () => {
    expect(rules({ baseline: { users: 99, memberships: 99 }, counts: counts({ suspended: 90 }, 90) })).toEqual([]);
    expect(rules({ baseline: { users: 100, memberships: 0 }, counts: counts({ suspended: 11 }) })).toEqual(['maxUserRemovalPercent']);
  });

  it('holds a full run that would remove more than half of a small feed, whatever the size and the settings', () => {
    const loose = { ...defaultFeedSettings, maxUserRemovals: 1000, maxUserRemovalPercent: 100 };
    expect(rules({ mode: 'full', settings: loose, baseline: { users: 90, memberships: 0 }, counts: counts({ suspended: 45 }) })).toEqual([]);
    expect(rules({ mode: 'full', settings: loose, baseline: { users: 90, memberships: 0 }, counts: counts({ suspended: 44, deleted: 2 }) })).toEqual(['mostUsersRemoved']);
    expect(rules({ mode: 'full', settings: loose, baseline: { users: 3, memberships: 0 }, counts: counts({ suspended: 2 }) })).toEqual(['mostUsersRemoved']);
    expect(rules({ mode: 'delta', settings: loose, baseline: { users: 3, memberships: 0 }, counts: counts({ deleted: 2 }) })).toEqual([]);
  });

  it('holds a full run with an unreadable key only when it would remove someone, and an empty users file unless it is on purpose', () => {
    const reading = { unreadableKeys: 2, emptyUsersFiles: [], absentUsers: 3, emptyOnPurpose: false };
    const reasons = holdReasons(context({ mode: 'full', counts: counts({ suspended: 3 }), reading }));
    expect(reasons).toEqual([
      {
        rule: 'unreadableKeys',
        message:
          '2 rejected users record(s) have no readable key, so it cannot be proven that the 3 user(s) the files do not name are missing; fix those records, or approve to suspend or delete them anyway',
        value: 2,
        limit: 0,
      },
    ]);
    expect(rules({ mode: 'full', reading: { ...reading, absentUsers: 0 } })).toEqual([]);
    const empty = { unreadableKeys: 0, emptyUsersFiles: ['users.csv'], absentUsers: 0, emptyOnPurpose: false };
    expect(holdReasons(context({ mode: 'full', reading: empty })).map((r) => r.message)).toEqual([
      '"users.csv" has no records, so this full run says the source has no users; if that is on purpose, the control file must say "emptyOnPurpose": true',
    ]);
    expect(rules({ mode: 'full', reading: { ...empty, emptyOnPurpose: true } })).toEqual([]);
  });

  it('fails on error rows above either limit', () => {
    expect(tooManyErrors(defaultFeedSettings, 5, 100)).toBeNull();
    expect(tooManyErrors(defaultFeedSettings, 6, 100)).toMatch(/6 of 100 rows \(6 %\)/);
    expect(tooManyErrors(defaultFeedSettings, 1001, 1_000_000)).toMatch(/at most 1000 \(maxErrorRows\)/);
  });

  it('parses settings as typed on a command line, with readable refusals', () => {
    expect(parseFeedSetting('autoApply', 'no')).toEqual({ autoApply: false });
    expect(parseFeedSetting('maxUserRemovalPercent', '12.5%')).toEqual({ maxUserRemovalPercent: 12.5 });
    expect(parseFeedSetting('reportEmails', 'a@x.org, b@y.org')).toEqual({ reportEmails: ['a@x.org', 'b@y.org'] });
    expect(() => parseFeedSetting('onMissing', 'erase')).toThrow('onMissing must be one of suspend, keep, delete (got "erase")');
    expect(() => parseFeedSetting('maxErrors', '3')).toThrow(/unknown feed setting "maxErrors"; known settings: autoApply/);
    expect(parseFeedSetting('invitationBody', 'Hello {{firstName}}')).toEqual({ invitationBody: 'Hello {{firstName}}' });
    expect(parseFeedSetting('invitationBody', 'none')).toEqual({ invitationBody: null });
    expect(() => parseFeedSetting('invitationSubject', 'Hi {{firstName')).toThrow(/^invitationSubject is not a valid template: Parse error on line 1:/);
  });

  it('refuses invitations without an invitation template', () => {
    expect(crossSettingProblems({ ...defaultFeedSettings, invitations: true })).toEqual({ invitations: 'invitations need an invitation template: set invitationBody first' });
    expect(crossSettingProblems({ ...defaultFeedSettings, invitations: true, invitationBody: 'Hi' })).toEqual({});
  });
});
