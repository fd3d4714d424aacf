import Handlebars from 'handlebars';
import { invalidSetting } from '../errors.js';

export type RunState = 'receiving' | 'queued' | 'validating' | 'failed' | 'held' | 'applying' | 'applied' | 'cancelled' | 'superseded';

export interface FeedSettings {
  autoApply: boolean;
  holdFirstRun: boolean;
  holdOnMappingChange: boolean;
  maxUserRemovals: number;
  maxUserRemovalPercent: number;
  maxUserUpdatePercent: number;
  maxMembershipRemovalPercent: number;
  minBaselineForPercent: number;
  maxErrorRows: number;
  maxErrorPercent: number;
  onMissing: 'suspend' | 'keep' | 'delete';
  forceUpdate: boolean;
  reportOn: ('held' | 'failed' | 'applied')[];
  reportEmails: string[];
  invitations: boolean;
  /** Handlebars with the user's fields ({{firstName}}, {{email}}, {{custom.x}}, …). */
  invitationSubject: string;
  invitationBody: string | null;
  invitationsPerHour: number;
  profileEditUrl: string | null;
  retentionDays: number;
}

export const defaultFeedSettings: FeedSettings = {
  autoApply: true,
  holdFirstRun: true,
  holdOnMappingChange: true,
  maxUserRemovals: 500,
  maxUserRemovalPercent: 10,
  maxUserUpdatePercent: 50,
  maxMembershipRemovalPercent: 20,
  minBaselineForPercent: 100,
  maxErrorRows: 1000,
  maxErrorPercent: 5,
  onMissing: 'suspend',
  forceUpdate: false,
  reportOn: ['held', 'failed', 'applied'],
  reportEmails: [],
  invitations: false,
  invitationSubject: 'Your account is ready',
  invitationBody: null,
  invitationsPerHour: 500,
  profileEditUrl: null,
  retentionDays: 90,
};

type Parser<T> = (text: string, key: string) => T;

const bool: Parser<boolean> = (text, key) => {
  if (/^(true|yes|on|1)$/i.test(text)) return true;
  if (/^(false|no|off|0)$/i.test(text)) return false;
  throw invalidSetting(`${key} must be true or false (got "${text}")`);
};
const count: Parser<number> = (text, key) => {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n)) throw invalidSetting(`${key} must be a whole number ≥ 0 (got "${text}")`);
  return n;
};
const percent: Parser<number> = (text, key) => {
  const n = Number(text.replace(/%$/, ''));
  if (!Number.isFinite(n) || n < 0 || n > 100 || text.trim() === '') throw invalidSetting(`${key} must be a percentage from 0 to 100 (got "${text}")`);
  return n;
};
const oneOf =
  <T extends string>(values: readonly T[]): Parser<T> =>
  (text, key) => {
    if ((values as readonly string[]).includes(text)) return text as T;
    throw invalidSetting(`${key} must be one of ${values.join(', ')} (got "${text}")`);
  };
const list =
  <T extends string>(check: (item: string, key: string) => T): Parser<T[]> =>
  (text, key) =>
    text.split(',').map((s) => s.trim()).filter(Boolean).map((item) => check(item, key));
const email = (item: string, key: string) => {
  if (!/^[^\s@]+@[^\s@]+$/.test(item)) throw invalidSetting(`${key}: "${item}" is not an email address`);
  return item;
};
const optionalUrl: Parser<string | null> = (text, key) => {
  if (text === '' || text === 'none') return null;
  try {
    const url = new URL(text);
    if (url.protocol === 'http:' || url.protocol === 'https:') return text;
  } catch {
    /* reported below */
  }
  throw invalidSetting(`${key} must be an http(s) URL or "none" (got "${text}")`);
};

const template: Parser<string> = (text, key) => {
  try {
    Handlebars.parse(text);
  } catch (error) {
    throw invalidSetting(`${key} is not a valid template: ${(error as Error).message.split('\n')[0]}`);
  }
  return text;
};
const optionalTemplate: Parser<string | null> = (text, key) => (text === '' || text === 'none' ? null : template(text, key));

const parsers: { [K in keyof FeedSettings]: Parser<FeedSettings[K]> } = {
  autoApply: bool,
  holdFirstRun: bool,
  holdOnMappingChange: bool,
  maxUserRemovals: count,
  maxUserRemovalPercent: percent,
  maxUserUpdatePercent: percent,
  maxMembershipRemovalPercent: percent,
  minBaselineForPercent: count,
  maxErrorRows: count,
  maxErrorPercent: percent,
  onMissing: oneOf(['suspend', 'keep', 'delete'] as const),
  forceUpdate: bool,
  reportOn: list(oneOf(['held', 'failed', 'applied'] as const)),
  reportEmails: list(email),
  invitations: bool,
  invitationSubject: template,
  invitationBody: optionalTemplate,
  invitationsPerHour: count,
  profileEditUrl: optionalUrl,
  retentionDays: count,
};

export const feedSettingNames = Object.keys(parsers) as (keyof FeedSettings)[];

/** Parses one setting as typed on a command line or in a form. */
export function parseFeedSetting(key: string, text: string): Partial<FeedSettings> {
  if (!Object.hasOwn(parsers, key)) {
    throw invalidSetting(`unknown feed setting "${key}"; known settings: ${feedSettingNames.join(', ')}`);
  }
  const name = key as keyof FeedSettings;
  return { [name]: parsers[name](text.trim(), name) } as Partial<FeedSettings>;
}

/** Rules between settings, as problems per setting (none when consistent). */
export function crossSettingProblems(settings: FeedSettings): Record<string, string> {
  const problems: Record<string, string> = {};
  if (settings.invitations && !settings.invitationBody) problems.invitations = 'invitations need an invitation template: set invitationBody first';
  return problems;
}

/** Stored settings over the defaults; settings added in later versions get their default. */
export function resolveFeedSettings(stored: Partial<FeedSettings>): FeedSettings {
  return { ...defaultFeedSettings, ...stored };
}
