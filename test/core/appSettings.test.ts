import { describe, expect, it } from 'vitest';
import { userUrl } from '../../src/apps/userSync.service.js';
import { parseFeedSetting } from '../../src/core/feedSettings.js';
import { buildExportSet } from '../../src/exports/exportSet.js';

describe('the application side\'s feed settings and export files', () => {
  it('takes a pullUserUrl template with {key} or {email} and fills it in URL-encoded', () => {
    expect(parseFeedSetting('pullUserUrl', 'https://api.example.org/users/{key}')).toEqual({ pullUserUrl: 'https://api.example.org/users/{key}' });
    expect(() => parseFeedSetting('pullUserUrl', 'https://api.example.org/users')).toThrow(/must contain \{key\} or \{email\}/);
    expect(() => parseFeedSetting('pullUserUrl', 'ftp://x/{key}')).toThrow(/http\(s\) URL/);
    expect(userUrl('https://api.example.org/u/{key}?mail={email}', { key: 'a b/c', email: 'x+y@example.org' }).toString()).toBe('https://api.example.org/u/a%20b%2Fc?mail=x%2By%40example.org');
    expect(() => userUrl('https://api.example.org/u?mail={email}', { key: 'k', email: null })).toThrow(/user k does not exist/);
  });

  it('exports to an absolute folder, an s3:// prefix or an https:// URL (http:// on loopback only), as csv or json, and says so for anything else', () => {
    expect(parseFeedSetting('exportTo', '/srv/exports')).toEqual({ exportTo: '/srv/exports' });
    expect(parseFeedSetting('exportTo', 's3://bucket/back/')).toEqual({ exportTo: 's3://bucket/back/' });
    expect(parseFeedSetting('exportTo', 'https://source.example.org/import')).toEqual({ exportTo: 'https://source.example.org/import' });
    for (const local of ['http://localhost:8080/api/v1/feeds/hr/files', 'http://127.0.0.1/x', 'http://[::1]:9/x']) expect(parseFeedSetting('exportTo', local)).toEqual({ exportTo: local });
    expect(() => parseFeedSetting('exportTo', 'http://source.example.org/import')).toThrow(/use https:\/\//);
    expect(() => parseFeedSetting('exportTo', 'http://localhost.example.org/import')).toThrow(/use https:\/\//);
    expect(() => parseFeedSetting('exportTo', 'exports')).toThrow(/absolute folder path/);
    expect(() => parseFeedSetting('exportFormat', 'xml')).toThrow(/one of csv, json/);
    expect(parseFeedSetting('appOwnedFields', 'custom.lastSeen, title')).toEqual({ appOwnedFields: ['custom.lastSeen', 'title'] });
  });

  it('writes plain RFC 4180 CSV: values a spreadsheet would treat as formulas are kept as they are', () => {
    const files = buildExportSet([{ key: 'u1', deleted: false, fields: { email: 'a@example.org', firstName: '=Ann', lastName: 'Lee, "Jr"' }, groups: [] }], 'username', 'csv', 'hr');
    expect(files['users.csv']).toBe('username,email,firstName,lastName,status\r\nu1,a@example.org,=Ann,"Lee, ""Jr""",active\r\n');
    expect(JSON.parse(files['control.json']!)).toMatchObject({ mode: 'delta', files: { 'users.csv': { type: 'users', format: 'csv', rows: 1 } }, users: { key: 'username', delete: { column: 'status', values: ['deleted'] } } });
  });
});
