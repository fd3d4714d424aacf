/** The application side of the OpenAPI document (PRODUCT §11): the directory read API, sync, app changes. */
export function appPaths() {
  const error = { content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
  const errors = (codes: Record<string, string>) => Object.fromEntries(Object.entries(codes).map(([code, description]) => [code, { description, ...error }]));
  const common = errors({ '401': 'Missing, wrong or revoked application token, or a source API key', '403': 'The token does not reach this feed, or may only read', '404': 'No such feed, user or group' });
  const security = [{ appToken: [] }];
  const feed = { name: 'feed', in: 'path', required: true, schema: { type: 'string' }, description: 'The feed slug' };
  const key = { name: 'key', in: 'path', required: true, schema: { type: 'string' }, description: "The user's key (username or email address, as the feed keys users), URL-encoded" };
  const after = (what: string) => ({ name: 'after', in: 'query', schema: { type: 'string' }, description: `The \`next\` of the previous page (${what}); omit for the first page` });
  const limit = { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } };
  const page = (item: string) => ({
    type: 'object',
    properties: { items: { type: 'array', items: { $ref: `#/components/schemas/${item}` } }, next: { type: ['string', 'null'], description: 'Pass as `after` for the next page; null on the last' } },
  });
  const ok = (description: string, schema: unknown) => ({ description, content: { 'application/json': { schema } } });
  return {
    paths: {
      '/api/v1/feeds/{feed}/users': {
        get: {
          summary: "The feed's users, paged by a stable cursor",
          security,
          parameters: [
            feed,
            after('a user row id'),
            limit,
            { name: 'state', in: 'query', schema: { enum: ['active', 'suspended'] } },
            { name: 'updatedSince', in: 'query', schema: { type: 'string', format: 'date-time' }, description: 'Only users updated at or after this moment' },
          ],
          responses: { '200': ok('A page of users', page('User')), ...common },
        },
      },
      '/api/v1/feeds/{feed}/users/{key}': {
        get: { summary: 'One user: fields, locked fields, groups, state', security, parameters: [feed, key], responses: { '200': ok('The user', { $ref: '#/components/schemas/User' }), ...common } },
      },
      '/api/v1/feeds/{feed}/users/{key}/sync': {
        post: {
          summary: 'Fetch this user from the source (pullUserUrl) and apply it as a one-record delta run, judged by the hold rules (write scope; rate-limited per feed)',
          security,
          parameters: [feed, key],
          responses: {
            '200': ok('Applied; the user as it now is', { $ref: '#/components/schemas/UserSync' }),
            '202': ok('The run is held, or waits behind a held run; user is null', { $ref: '#/components/schemas/UserSync' }),
            '422': ok('The record failed validation; see the run', { $ref: '#/components/schemas/UserSync' }),
            ...common,
            ...errors({ '400': 'The feed has no pullUserUrl or cannot pull', '429': 'Too many on-demand syncs of this feed in the last minute', '502': "The source's API failed" }),
          },
        },
      },
      '/api/v1/feeds/{feed}/app-changes': {
        post: {
          summary: "The application's own changes, applied at once as an `app` run (write scope): all of them, or none with every problem",
          security,
          parameters: [feed],
          requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/AppChanges' } } } },
          responses: {
            '201': ok('Applied', { type: 'object', properties: { run: { $ref: '#/components/schemas/Run' } } }),
            '422': ok('Refused; nothing was applied', { type: 'object', properties: { error: { type: 'object' }, problems: { type: 'array', items: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' }, pointer: { type: 'string' }, key: { type: 'string' } } } } } }),
            ...common,
            ...errors({ '400': 'Not JSON', '413': 'More than 4 MB' }),
          },
        },
      },
      '/api/v1/feeds/{feed}/groups': {
        get: { summary: "The feed's groups in code order", security, parameters: [feed, after('a group code'), limit], responses: { '200': ok('A page of groups', page('Group')), ...common } },
      },
      '/api/v1/feeds/{feed}/groups/{code}/members': {
        get: {
          summary: "A group's members in key order",
          security,
          parameters: [feed, { name: 'code', in: 'path', required: true, schema: { type: 'string' } }, after('a user key'), limit],
          responses: { '200': ok('A page of members', page('Member')), ...common },
        },
      },
      '/api/v1/changes': {
        get: {
          summary: "The change log of the token's feeds after a commit number, in commit order (README, \"Reading the change log\")",
          description:
            'Remember the last commitSeq processed and ask for what follows: no change is missed or seen twice, however many feeds apply meanwhile. ' +
            'With `Accept: application/x-ndjson` or `format=ndjson` the answer is one change per line, streamed (up to 1 000 000 changes).',
          security,
          parameters: [
            { name: 'after', in: 'query', schema: { type: 'integer', minimum: 0, default: 0 }, description: 'The last commitSeq already processed' },
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 10000, default: 1000 }, description: 'JSON: at most 10 000; NDJSON: at most 1 000 000' },
            { name: 'format', in: 'query', schema: { enum: ['json', 'ndjson'] } },
          ],
          responses: {
            '200': {
              description: 'Changes',
              content: {
                'application/json': { schema: { type: 'object', properties: { changes: { type: 'array', items: { $ref: '#/components/schemas/Change' } }, last: { type: 'integer', description: 'Pass as `after` next time' } } } },
                'application/x-ndjson': { schema: { $ref: '#/components/schemas/Change' } },
              },
            },
            ...common,
          },
        },
      },
    },
    securitySchemes: { appToken: { type: 'http', scheme: 'bearer', description: 'An application token (sluice app-token create): Authorization: Bearer sluiceapp_…' } },
    schemas: {
      User: {
        type: 'object',
        properties: {
          key: { type: 'string' },
          state: { enum: ['active', 'suspended'] },
          fields: { type: 'object', additionalProperties: true, description: 'By field name: email, firstName, …, custom.<name>' },
          lockedFields: { type: 'array', items: { type: 'string' }, description: 'Fields the source owns; an application may not change them' },
          groups: { type: 'array', items: { type: 'object', properties: { code: { type: 'string' }, name: { type: 'string' }, managed: { type: 'boolean' } } }, description: 'One user only' },
          createdAt: { type: 'string', format: 'date-time' },
          updatedAt: { type: 'string', format: 'date-time' },
          suspendedAt: { type: ['string', 'null'], format: 'date-time' },
        },
      },
      UserSync: { type: 'object', properties: { user: { oneOf: [{ $ref: '#/components/schemas/User' }, { type: 'null' }] }, run: { $ref: '#/components/schemas/Run' } } },
      AppChanges: {
        type: 'object',
        required: ['changes'],
        properties: {
          changes: {
            type: 'array',
            maxItems: 1000,
            items: {
              type: 'object',
              required: ['op', 'key'],
              properties: {
                op: { enum: ['create', 'update', 'delete'] },
                key: { type: 'string' },
                fields: { type: 'object', additionalProperties: { type: ['string', 'array', 'null'] }, description: 'By field name; locked fields are refused unless listed in appOwnedFields' },
                addGroups: { type: 'array', items: { type: 'string' }, description: 'Memberships the application manages (managed = false)' },
                removeGroups: { type: 'array', items: { type: 'string' }, description: "Only the application's own memberships" },
              },
            },
          },
        },
      },
      Group: { type: 'object', properties: { code: { type: 'string' }, name: { type: 'string' }, members: { type: 'integer' } } },
      Member: { type: 'object', properties: { key: { type: 'string' }, state: { type: 'string' }, managed: { type: 'boolean' } } },
      Change: {
        type: 'object',
        properties: {
          commitSeq: { type: 'integer', description: 'The commit-ordered number to page by' },
          seq: { type: 'integer' },
          runId: { type: 'integer' },
          feedId: { type: 'integer' },
          entity: { enum: ['user', 'group', 'membership'] },
          entityKey: { type: 'string' },
          groupCode: { type: ['string', 'null'] },
          operation: { type: 'string' },
          before: { type: ['object', 'null'] },
          after: { type: ['object', 'null'] },
          createdAt: { type: 'string', format: 'date-time' },
        },
      },
    },
  };
}
