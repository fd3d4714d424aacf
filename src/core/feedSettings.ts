import Handlebars from 'handlebars';
import { invalidSetting } from '../errors.js';
import { parseSchedule } from './schedule.js';

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
  /** Pulling from the source system's API (PRODUCT §2.4); the secrets are kept apart, encrypted. */
  pullUrl: string | null;
  pullMethod: 'GET' | 'POST';
  /** Extra request headers, as a JSON object; not secret (credentials go in the pull secrets). */
  pullHeaders: Record<string, string>;
  pullAuth: PullAuth;
  pullUsername: string | null;
  pullTokenUrl: string | null;
  pullClientId: string | null;
  pullScope: string | null;
  pullFormat: 'json' | 'csv';
  /** Dotted path to the array of records in a JSON response; empty when the response is the array. */
  pullRecordsPath: string;
  pullPagination: 'none' | 'next-link' | 'cursor' | 'page';
  /** next-link: the response field holding the next page's URL (a `Link: rel=next` header works too). */
  pullNextField: string;
  /** cursor: the response field holding the next cursor, and the query parameter that sends it. */
  pullCursorField: string;
  pullCursorParam: string;
  /** page: the query parameter numbering pages, from 1; an empty page ends the pull. */
  pullPageParam: string;
  pullTimeoutSeconds: number;
  pullMaxPages: number;
  schedule: string;
  /** After this moment (ISO 8601) scheduled pulls stop; "Sync now" still works. */
  finalSyncAt: string | null;
  /** One user from the source, for on-demand sync: an http(s) URL template with {key} and/or {email}. */
  pullUserUrl: string | null;
  /** Where an export sends the application's changes back: an absolute folder or an s3:// prefix. */
  exportTo: string | null;
  exportFormat: 'csv' | 'json';
  exportSchedule: string;
  /** Fields the application owns: a source run does not overwrite them (PRODUCT §11). */
  appOwnedFields: string[];
}

export const pullAuthKinds = ['none', 'basic', 'bearer', 'oauth-client-credentials', 'oauth-refresh-token'] as const;
export type PullAuth = (typeof pullAuthKinds)[number];

/** Pull credentials: set like settings, stored encrypted, never shown, logged or mailed. */
export const pullSecretNames = ['pullPassword', 'pullToken', 'pullClientSecret', 'pullRefreshToken'] as const;
export type PullSecretName = (typeof pullSecretNames)[number];
export const isPullSecret = (name: string): name is PullSecretName => (pullSecretNames as readonly string[]).includes(name);

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
  pullUrl: null,
  pullMethod: 'GET',
  pullHeaders: {},
  pullAuth: 'none',
  pullUsername: null,
  pullTokenUrl: null,
  pullClientId: null,
  pullScope: null,
  pullFormat: 'json',
  pullRecordsPath: '',
  pullPagination: 'none',
  pullNextField: 'next',
  pullCursorField: 'nextCursor',
  pullCursorParam: 'cursor',
  pullPageParam: 'page',
  pullTimeoutSeconds: 30,
  pullMaxPages: 10_000,
  schedule: 'off',
  finalSyncAt: null,
  pullUserUrl: null,
  exportTo: null,
  exportFormat: 'csv',
  exportSchedule: 'off',
  appOwnedFields: [],
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

const optionalText: Parser<string | null> = (text) => (text === '' || text === 'none' ? null : text);
const text: Parser<string> = (value) => value;
const headers: Parser<Record<string, string>> = (value, key) => {
  if (value === '' || value === 'none') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw invalidSetting(`${key} must be a JSON object of header names and values, e.g. {"Accept": "application/json"}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed) || !Object.values(parsed).every((v) => typeof v === 'string')) {
    throw invalidSetting(`${key} must be a JSON object whose values are strings`);
  }
  if (Object.keys(parsed).some((name) => /^authorization$/i.test(name))) throw invalidSetting(`${key}: put credentials in pullAuth and its secrets, not in headers`);
  return parsed as Record<string, string>;
};
const schedule: Parser<string> = (value) => {
  parseSchedule(value);
  return value === '' ? 'off' : value;
};
const optionalInstant: Parser<string | null> = (value, key) => {
  if (value === '' || value === 'none') return null;
  const time = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(time)) throw invalidSetting(`${key} must be a date and time like 2026-12-31T18:00:00Z, or "none" (got "${value}")`);
  return new Date(time).toISOString();
};
const positive: Parser<number> = (value, key) => {
  const n = count(value, key);
  if (n < 1) throw invalidSetting(`${key} must be at least 1`);
  return n;
};

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
  pullUrl: optionalUrl,
  pullMethod: oneOf(['GET', 'POST'] as const),
  pullHeaders: headers,
  pullAuth: oneOf(pullAuthKinds),
  pullUsername: optionalText,
  pullTokenUrl: optionalUrl,
  pullClientId: optionalText,
  pullScope: optionalText,
  pullFormat: oneOf(['json', 'csv'] as const),
  pullRecordsPath: text,
  pullPagination: oneOf(['none', 'next-link', 'cursor', 'page'] as const),
  pullNextField: text,
  pullCursorField: text,
  pullCursorParam: text,
  pullPageParam: text,
  pullTimeoutSeconds: positive,
  pullMaxPages: positive,
  schedule,
  finalSyncAt: optionalInstant,
  pullUserUrl: (value, key) => userUrlTemplate(value, key),
  exportTo: (value, key) => exportTarget(value, key),
  exportFormat: oneOf(['csv', 'json'] as const),
  exportSchedule: schedule,
  appOwnedFields: list((item) => item),
};

/** A URL template naming one user: valid as a URL once `{key}` / `{email}` are filled in. */
function userUrlTemplate(value: string, key: string): string | null {
  if (value === '' || value === 'none') return null;
  if (!/\{(key|email)\}/.test(value)) throw invalidSetting(`${key} must contain {key} or {email}, where the user's key or address goes (got "${value}")`);
  optionalUrl(value.replace(/\{(key|email)\}/g, 'x'), key);
  return value;
}

function exportTarget(value: string, key: string): string | null {
  if (value === '' || value === 'none') return null;
  if (/^s3:\/\/[^/]+/.test(value) || value.startsWith('/')) return value;
  if (/^https?:\/\//i.test(value)) return httpExportTarget(value, key);
  throw invalidSetting(`${key} must be an absolute folder path, an s3://bucket/prefix or an https:// URL (got "${value}")`);
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

/**
 * An HTTPS URL the export's files are PUT under, with the pull's authentication. Plain http
 * would carry those credentials readable on the wire, so it is only for this machine (tests, a
 * second Sluice beside the first).
 */
function httpExportTarget(value: string, key: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalidSetting(`${key} is not a valid URL (got "${value}")`);
  }
  if (url.username || url.password) throw invalidSetting(`${key} carries a user name or password; set pullAuth basic with pullUsername and the secret pullPassword instead`);
  if (url.search || url.hash) throw invalidSetting(`${key}: each file is sent to <${key}>/<file name>, so the URL cannot have a query string or fragment`);
  if (url.protocol === 'http:' && !LOOPBACK.test(url.hostname)) throw invalidSetting(`${key}: use https:// (plain http:// is accepted only for localhost, 127.x.x.x and [::1])`);
  return value;
}

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

/** What a pull's settings lack, checked when a pull starts (settings are set one at a time). */
export function pullSettingProblems(settings: FeedSettings): string[] {
  const problems: string[] = [];
  if (!settings.pullUrl) problems.push('pullUrl is not set');
  if (settings.pullAuth.startsWith('oauth') && (!settings.pullTokenUrl || !settings.pullClientId)) problems.push(`${settings.pullAuth} needs pullTokenUrl and pullClientId`);
  if (settings.pullAuth === 'basic' && !settings.pullUsername) problems.push('basic authentication needs pullUsername');
  return problems;
}

/** Stored settings over the defaults; settings added in later versions get their default. */
export function resolveFeedSettings(stored: Partial<FeedSettings>): FeedSettings {
  return { ...defaultFeedSettings, ...stored };
}
