import { appPaths } from './openapiApps.js';

/** The OpenAPI 3.1 description of the upload API, served at /api/v1/openapi.json. */
export function openApiDocument(publicUrl: string) {
  const error = { $ref: '#/components/schemas/Error' };
  const errors = (...codes: number[]) =>
    Object.fromEntries(codes.map((c) => [String(c), { description: httpText[c], content: { 'application/json': { schema: error } } }]));
  const feed = { name: 'feed', in: 'path', required: true, schema: { type: 'string' }, description: 'The feed slug' };
  const apps = appPaths();
  return {
    openapi: '3.1.0',
    info: {
      title: 'Sluice upload API',
      version: '1',
      description:
        'Source systems upload the files of an upload set one by one — data files first, the control file (control.json) last. ' +
        'Uploading the control file completes the set once every file it names is there; the run is then processed. Poll the status URL for the outcome.',
    },
    servers: [{ url: publicUrl }],
    security: [{ bearer: [] }, { basic: [] }],
    paths: {
      '/api/v1/feeds/{feed}/files/{name}': {
        put: {
          summary: 'Upload one file of an upload set; it joins the set open when it has fully arrived (control.json at most 1 MB)',
          parameters: [feed, { name: 'name', in: 'path', required: true, schema: { type: 'string' }, description: 'A name a control file can list: at most 200 bytes of UTF-8, no paths, control characters, bidirectional controls or temporary-looking names' }],
          requestBody: { required: true, content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } },
          responses: {
            '201': { description: 'Stored', content: { 'application/json': { schema: { $ref: '#/components/schemas/Upload' } } } },
            ...errors(400, 401, 403, 404, 413),
          },
        },
      },
      '/api/v1/runs/{id}': {
        get: {
          summary: 'One run: state, hold reasons, counts, first errors',
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
          responses: { '200': { description: 'The run', content: { 'application/json': { schema: { $ref: '#/components/schemas/Run' } } } }, ...errors(401, 404) },
        },
      },
      ...Object.fromEntries(
        (['apply', 'cancel', 'reapply', 'revalidate'] as const).map((action) => [
          `/api/v1/runs/{id}/${action}`,
          {
            post: {
              summary: runActionText[action],
              security: [{ personal: [] }],
              parameters: [
                { name: 'id', in: 'path', required: true, schema: { type: 'integer' } },
                ...(action === 'cancel' ? [{ name: 'unsafe', in: 'query', schema: { type: 'boolean' }, description: 'true marks a validating or applying run cancelled (the admin page\'s "Mark cancelled (unsafe)")' }] : []),
              ],
              responses: {
                '200': { description: action === 'reapply' ? 'The new run' : 'The run after the action', content: { 'application/json': { schema: { $ref: '#/components/schemas/Run' } } } },
                '202': { description: 'The action continues in the background; follow statusUrl', content: { 'application/json': { schema: { $ref: '#/components/schemas/Run' } } } },
                ...errors(401, 403, 404, 409),
              },
            },
          },
        ]),
      ),
      '/api/v1/feeds/{feed}/runs': {
        get: {
          summary: "The feed's runs, newest first",
          parameters: [feed, { name: 'limit', in: 'query', schema: { type: 'integer', maximum: 500 } }],
          responses: { '200': { description: 'Runs', content: { 'application/json': { schema: { type: 'array', items: { $ref: '#/components/schemas/Run' } } } } }, ...errors(401, 403, 404) },
        },
      },
      '/api/v1/feeds/{feed}/sync': {
        post: {
          summary: "Sync now: pull from the feed's source API into a new run, processed like an upload",
          parameters: [feed],
          responses: { '202': { description: 'The pull started; follow statusUrl', content: { 'application/json': { schema: { $ref: '#/components/schemas/Run' } } } }, ...errors(400, 401, 403, 404) },
        },
      },
      ...apps.paths,
    },
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'An API key of the feed: Authorization: Bearer <key>' },
        basic: { type: 'http', scheme: 'basic', description: 'Any user name, the API key as the password (curl -u feed:<key>)' },
        personal: { type: 'http', scheme: 'bearer', description: "An operator's or admin's personal API token (sluiceadm_…): sluice admin token create <email>, or the admin page's Account page" },
        ...apps.securitySchemes,
      },
      schemas: {
        Error: { type: 'object', required: ['error'], properties: { error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } } } },
        Upload: {
          type: 'object',
          properties: {
            file: { type: 'object', properties: { name: { type: 'string' }, size: { type: 'integer' }, sha256: { type: 'string' } } },
            run: {
              type: 'object',
              properties: { id: { type: 'integer' }, state: { type: 'string' }, missing: { type: 'array', items: { type: 'string' } }, statusUrl: { type: 'string' } },
            },
          },
        },
        Run: {
          type: 'object',
          properties: {
            id: { type: 'integer' },
            feed: { type: 'string' },
            state: { enum: ['receiving', 'queued', 'validating', 'failed', 'held', 'applying', 'applied', 'cancelled', 'superseded'] },
            holdReasons: { type: 'array', items: { type: 'object', properties: { rule: { type: 'string' }, message: { type: 'string' }, value: { type: 'number' }, limit: { type: 'number' } } } },
            counts: { type: 'object' },
            errors: { type: 'object', properties: { count: { type: 'integer' }, first: { type: 'array', items: { type: 'object' } } } },
            progress: {
              type: 'object',
              description: 'While the run is received, validated or applied: its phase, rows (or changes) so far of how many, the rate, the time left; while receiving, `received` has its files and bytes so far and the files still streaming in',
              properties: {
                phase: { type: 'string' },
                rows: { type: 'integer' },
                total: { type: ['integer', 'null'] },
                estimated: { type: 'boolean' },
                rowsPerSecond: { type: ['integer', 'null'] },
                etaSeconds: { type: ['integer', 'null'] },
                at: { type: 'string' },
                text: { type: 'string' },
                received: { type: 'object' },
              },
            },
            statusUrl: { type: 'string' },
          },
        },
        ...apps.schemas,
      },
    },
  };
}

const httpText: Record<number, string> = {
  400: 'Bad request (e.g. a file name with a path)',
  401: 'Missing, wrong or revoked API key',
  403: 'The key belongs to another feed',
  404: 'No such feed or run',
  413: 'The file is larger than the upload limit',
  409: "The run's state does not allow this action",
};

const runActionText: Record<string, string> = {
  apply: 'Apply a held run (a held export is sent); needs an operator\'s or admin\'s personal token',
  cancel: 'Cancel a receiving, queued or held run; with unsafe=true, a validating or applying one',
  reapply: "Copy an applied, failed, cancelled or superseded run's files into a new run processed with forceUpdate",
  revalidate: 'Queue a failed run again to re-validate the same files',
};
