import { describe, expect, it } from 'vitest';
import { redactUrl, redactUrlsIn } from '../../src/core/redactUrl.js';

describe('showing a URL', () => {
  it('keeps scheme, host, port and path, and drops user-info, query string and fragment', () => {
    expect(redactUrl('http://svcuser:S3cretPass@127.0.0.1:8081/api/users?token=abc&page=2#top')).toBe('http://127.0.0.1:8081/api/users');
    expect(redactUrl(new URL('https://api.example.org/v1/people?api_key=k'))).toBe('https://api.example.org/v1/people');
    expect(redactUrl('s3://svc:pw@bucket/inbox/hr/?x=1')).toBe('s3://bucket/inbox/hr/');
    expect(redactUrl('not a url with secret?token=abc')).toBe('(an invalid URL)');
  });

  it('redacts every URL quoted inside a message, keeping the punctuation around it', () => {
    const message =
      'Request cannot be constructed from a URL that includes credentials: http://svcuser:S3cretPass@127.0.0.1:99/a?token=abc. ' +
      '(retry https://x.org/y?k=1), invalid token for "https://api.example.org/users?api_key=K3y"';
    expect(redactUrlsIn(message)).toBe(
      'Request cannot be constructed from a URL that includes credentials: http://127.0.0.1:99/a. (retry https://x.org/y), invalid token for "https://api.example.org/users"',
    );
    expect(redactUrlsIn('mysql://root:pw@db:3306/sluice is down')).toBe('mysql://db:3306/sluice is down');
    expect(redactUrlsIn('only to https://u:p@api.example.org:8443, not elsewhere')).toBe('only to https://api.example.org:8443, not elsewhere');
  });
});
