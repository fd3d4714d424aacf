#!/usr/bin/env node
import { loadConfig } from '../config.js';
import { SluiceError } from '../errors.js';
import { EXIT } from './output.js';
import { buildProgram, CommanderError, exitCodeOf, type Parsed } from './program.js';

/** `sluice <verb> [args] [--json]`: parses the command line and hands it to one command. */
export async function main(argv: string[]): Promise<number> {
  let parsed: Parsed | undefined;
  try {
    await buildProgram((p) => (parsed = p)).parseAsync(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) return exitCodeOf(error);
    throw error;
  }
  if (!parsed) return EXIT.usage;
  const { verb, json } = parsed as Parsed;
  // Commands print their own results; routine progress logs would only clutter a terminal.
  process.env.LOG_LEVEL ??= 'warn';
  try {
    return await (parsed as Parsed).run(loadConfig);
  } catch (error) {
    if (error instanceof SluiceError) {
      if (json) process.stdout.write(JSON.stringify({ error: { code: error.code, message: error.message } }) + '\n');
      else process.stderr.write(`sluice ${verb}: ${error.message}\n`);
      return error.exitCode;
    }
    process.stderr.write(`sluice ${verb}: ${(error as Error)?.stack ?? error}\n`);
    return EXIT.failed;
  }
}
