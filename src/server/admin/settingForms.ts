import { pullAuthKinds, type FeedSettings } from '../../core/feedSettings.js';

export type SettingKind = 'yesno' | 'number' | 'percent' | 'choice' | 'text' | 'longtext';
export type SettingGroup = 'holds' | 'mail' | 'pull' | 'directory';

export const settingGroups: { id: SettingGroup; title: string }[] = [
  { id: 'holds', title: 'Holds and apply policy' },
  { id: 'mail', title: 'Reports and invitations' },
  { id: 'pull', title: 'Pulling from the source API, and the schedule' },
  { id: 'directory', title: 'Directory and archive' },
];

/** How each setting of PRODUCT §5 and §8 (and the pull source) is shown: its control, and what it means. */
export const settingForms: Record<keyof FeedSettings, { group: SettingGroup; kind: SettingKind; help: string; choices?: readonly string[] }> = {
  autoApply: { group: 'holds', kind: 'yesno', help: 'Apply runs that trip no safety rule without waiting for an administrator.' },
  holdFirstRun: { group: 'holds', kind: 'yesno', help: 'Hold the first run of the feed.' },
  holdOnMappingChange: { group: 'holds', kind: 'yesno', help: "Hold a run whose control-file mapping differs from the last applied run's." },
  maxUserRemovals: { group: 'holds', kind: 'number', help: 'Hold when more users than this would be suspended or deleted.' },
  maxUserRemovalPercent: { group: 'holds', kind: 'percent', help: 'Hold when more than this share of the baseline would be suspended or deleted.' },
  maxUserUpdatePercent: { group: 'holds', kind: 'percent', help: 'Hold when more than this share of the baseline would be updated.' },
  maxMembershipRemovalPercent: { group: 'holds', kind: 'percent', help: "Hold when more than this share of the baseline's memberships would be removed." },
  minBaselineForPercent: { group: 'holds', kind: 'number', help: 'The percentage rules apply only from this many users in the baseline.' },
  maxErrorRows: { group: 'holds', kind: 'number', help: 'Fail the run when more rows than this have errors.' },
  maxErrorPercent: { group: 'holds', kind: 'percent', help: 'Fail the run when more than this share of rows have errors.' },
  onMissing: { group: 'holds', kind: 'choice', choices: ['suspend', 'keep', 'delete'], help: 'What a full run does with users missing from it.' },
  forceUpdate: { group: 'holds', kind: 'yesno', help: 'Write every record even if unchanged (after the meaning of a mapping changed).' },
  reportOn: { group: 'mail', kind: 'text', help: 'Run states that send a report: held, failed, applied (comma-separated).' },
  reportEmails: { group: 'mail', kind: 'text', help: 'Who gets the reports (comma-separated email addresses).' },
  invitations: { group: 'mail', kind: 'yesno', help: 'Send an invitation email to each user a run creates (needs invitationBody).' },
  invitationSubject: { group: 'mail', kind: 'text', help: "Subject of the invitation; may use the user's fields, e.g. {{firstName}}." },
  invitationBody: { group: 'mail', kind: 'longtext', help: "Text of the invitation, with the user's fields: {{firstName}}, {{lastName}}, {{email}}, {{username}}, {{custom.name}}, {{profileEditUrl}}." },
  invitationsPerHour: { group: 'mail', kind: 'number', help: 'At most this many invitations of this feed are sent per hour; the rest wait.' },
  pullUrl: { group: 'pull', kind: 'text', help: "The API URL that lists the users (or 'none'). The feed's stored control file maps the records." },
  pullMethod: { group: 'pull', kind: 'choice', choices: ['GET', 'POST'], help: 'The HTTP method.' },
  pullHeaders: { group: 'pull', kind: 'text', help: 'Extra request headers as a JSON object, e.g. {"X-Tenant": "acme"}. Not for credentials.' },
  pullAuth: { group: 'pull', kind: 'choice', choices: pullAuthKinds, help: 'How Sluice authenticates; the secrets below are stored encrypted.' },
  pullUsername: { group: 'pull', kind: 'text', help: 'basic: the user name (the password is the secret pullPassword).' },
  pullTokenUrl: { group: 'pull', kind: 'text', help: "OAuth 2: the token endpoint." },
  pullClientId: { group: 'pull', kind: 'text', help: 'OAuth 2: the client id (the secret is pullClientSecret).' },
  pullScope: { group: 'pull', kind: 'text', help: 'OAuth 2: the scope to ask for, if any.' },
  pullFormat: { group: 'pull', kind: 'choice', choices: ['json', 'csv'], help: 'What the API answers with.' },
  pullRecordsPath: { group: 'pull', kind: 'text', help: 'json: the dotted path to the array of records (e.g. data.users); empty when the answer is the array.' },
  pullPagination: { group: 'pull', kind: 'choice', choices: ['none', 'next-link', 'cursor', 'page'], help: 'How the API pages its answer.' },
  pullNextField: { group: 'pull', kind: 'text', help: 'next-link: the field with the next page URL (a Link: rel="next" header also works).' },
  pullCursorField: { group: 'pull', kind: 'text', help: 'cursor: the field with the next cursor.' },
  pullCursorParam: { group: 'pull', kind: 'text', help: 'cursor: the query parameter that sends it.' },
  pullPageParam: { group: 'pull', kind: 'text', help: 'page: the query parameter numbering the pages from 1; an empty page ends the pull.' },
  pullTimeoutSeconds: { group: 'pull', kind: 'number', help: 'A request that takes longer fails the pull.' },
  pullMaxPages: { group: 'pull', kind: 'number', help: 'A pull stops with an error after this many pages.' },
  schedule: { group: 'pull', kind: 'text', help: "When to pull on its own (UTC): off, hourly, 'daily 06:30', or a cron expression such as '0 */4 * * *'." },
  finalSyncAt: { group: 'pull', kind: 'text', help: "After this moment (e.g. 2026-12-31T18:00:00Z) scheduled pulls stop; 'none' for never." },
  profileEditUrl: { group: 'directory', kind: 'text', help: "Where people edit the fields this feed owns, in the source system (or 'none')." },
  retentionDays: { group: 'directory', kind: 'number', help: "Days to keep runs' archived files." },
  pullUserUrl: { group: 'pull', kind: 'text', help: "One user from the source for on-demand sync, e.g. https://api.example.org/users/{key} ({key} and {email} are filled in, URL-encoded); 'none' to turn it off." },
  appOwnedFields: { group: 'directory', kind: 'text', help: 'Fields the application owns (comma-separated, e.g. custom.lastSeen): a source run never overwrites them.' },
  exportTo: { group: 'directory', kind: 'text', help: "Where the application's changes go back to the source: an absolute folder, an s3://bucket/prefix or an https:// URL the files are PUT under with the pull's authentication ('none' for nowhere)." },
  exportFormat: { group: 'directory', kind: 'choice', choices: ['csv', 'json'], help: 'The format of the exported data files.' },
  exportSchedule: { group: 'directory', kind: 'text', help: "When to export on its own (UTC): off, hourly, 'daily 06:30', or a cron expression." },
};

export const secretHelp: Record<string, string> = {
  pullPassword: 'basic: the password.',
  pullToken: 'bearer: the token.',
  pullClientSecret: 'OAuth 2: the client secret.',
  pullRefreshToken: 'OAuth 2 refresh token: the refresh token; a rotated one replaces it automatically.',
};

/** A setting's value as typed in a form or on a command line. */
export const textOf = (value: unknown) => (Array.isArray(value) ? value.join(', ') : value === null ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value));
