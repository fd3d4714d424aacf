/**
 * Typed errors with stable codes. The CLI, the API, the admin page and the run log show
 * `code` and `message` the same way; `exitCode` is what the CLI returns for it.
 */
export type ErrorCode =
  | 'usage'
  | 'config_invalid'
  | 'not_found'
  | 'invalid_state'
  | 'conflict'
  | 'invalid_setting'
  | 'database'
  | 'unauthorized'
  | 'forbidden'
  | 'too_large'
  | 'too_many_attempts'
  /** The source system's API failed to answer a request made on a client's behalf. */
  | 'source_failed'
  | 'internal';

export class SluiceError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'SluiceError';
  }

  get exitCode(): number {
    return this.code === 'usage' || this.code === 'invalid_setting' ? 2 : 1;
  }
}

export const usageError = (message: string) => new SluiceError('usage', message);
export const notFound = (what: string, id: string | number) =>
  new SluiceError('not_found', `${what} ${id} does not exist`, { what, id });
export const invalidState = (message: string, details: Record<string, unknown> = {}) =>
  new SluiceError('invalid_state', message, details);
export const invalidSetting = (message: string) => new SluiceError('invalid_setting', message);
export const configInvalid = (problems: string[]) =>
  new SluiceError('config_invalid', `Invalid configuration:\n  - ${problems.join('\n  - ')}`, { problems });
