#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { SluiceError } from '../errors.js';
import { commands, usage } from './commands/index.js';
import { commandHelp, hideNegativeNumbers, revealNegativeNumber } from './help.js';
import { EXIT } from './output.js';

/** `sluice <verb> [args] [--json]`: parses the command line and hands it to one command. */
export async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (!verb || verb === 'help' || verb === '--help' || verb === '-h') {
    process.stdout.write(usage);
    return verb ? EXIT.done : EXIT.usage;
  }
  const command = commands[verb];
  if (!command) {
    process.stderr.write(`sluice: unknown command "${verb}"\n\n${usage}`);
    return EXIT.usage;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(commandHelp(verb, command.summary));
    return EXIT.done;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: hideNegativeNumbers(rest), options: { json: { type: 'boolean' }, ...command.options }, allowPositionals: true, strict: true });
    parsed.positionals = parsed.positionals.map(revealNegativeNumber);
    for (const [name, value] of Object.entries(parsed.values)) (parsed.values as Record<string, unknown>)[name] = revealNegativeNumber(value);
  } catch (error) {
    process.stderr.write(`sluice ${verb}: ${(error as Error).message}\n`);
    return EXIT.usage;
  }
  const json = Boolean(parsed.values.json);
  // Commands print their own results; routine progress logs would only clutter a terminal.
  process.env.LOG_LEVEL ??= 'warn';
  try {
    return await command.run({ args: parsed.positionals, options: parsed.values as Record<string, unknown>, json, loadConfig });
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
