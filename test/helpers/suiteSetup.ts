/**
 * Heavy setup shared by the tests of a suite, started by the first test that awaits it.
 *
 * Why not `beforeAll`: in vitest 4 a `beforeAll` that throws or runs past its timeout reports
 * every test of its suite as *skipped* (vitest PR #6524): a slow machine then reads as "0 failed,
 * 32 skipped" instead of a failure. Awaited inside each test, a failing or slow setup fails every
 * test with its own message. The setup has its own deadline (`timeoutMs`); a test that awaits it
 * needs a timeout of the setup's plus its own.
 */
export function suiteSetup<T>(what: string, timeoutMs: number, work: () => Promise<T>) {
  let running: Promise<T> | undefined;
  let guarded: Promise<T> | undefined;
  const setup = () =>
    (guarded ??= new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${what} took longer than ${timeoutMs / 1000} s; the tests that need it fail`)), timeoutMs);
      running = work();
      running.then(resolve, reject).finally(() => clearTimeout(timer));
    }));
  /** For `afterAll`: waits until the work itself has stopped (even past its deadline), whatever its outcome. */
  const stopped = async () => {
    await running?.catch(() => undefined);
  };
  return Object.assign(setup, { stopped });
}
