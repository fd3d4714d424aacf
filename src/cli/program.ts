import { Command as Program, CommanderError, type Option } from 'commander';
import type { Config } from '../config.js';
import { commands } from './commands/index.js';
import { verbs, type VerbSpec } from './verbs.js';

const NEGATIVE_NUMBER = /^-\d+(\.\d+)?$/;

/** What the chosen command should do once parsing is over: its verb, module and input. */
export interface Parsed {
  verb: string;
  run(loadConfig: () => Config): Promise<number>;
  json: boolean;
}

/** commander names options by attribute (`passwordStdin`); the command modules read them by flag. */
function optionsOf(cmd: Program): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const option of cmd.options as readonly Option[]) {
    const value = cmd.getOptionValue(option.attributeName());
    if (option.negate) {
      if (value === false) values[option.long!.slice(2)] = true;
    } else if (value !== undefined) values[option.long!.slice(2)] = value;
  }
  return values;
}

function describe(cmd: Program, spec: Omit<VerbSpec, 'subs'>) {
  cmd.description(spec.description);
  for (const arg of spec.args ?? []) cmd.argument(arg);
  for (const [flags, description] of spec.options ?? []) cmd.option(flags, description);
  cmd.addHelpText('after', `\nExamples:\n${spec.examples.map((e) => `  ${e}`).join('\n')}\n`);
}

/**
 * A leaf command: it takes `--json`, and a value such as `-5` is an argument, checked by the
 * command itself (commander would take it for an unknown option). Options commander does not
 * know are let through only to find such numbers; anything else is still refused, exit 2.
 */
function leaf(cmd: Program, verb: string, sub: string | undefined, spec: Omit<VerbSpec, 'subs'>, done: (parsed: Parsed) => void) {
  // Counted here rather than by commander, which would report `--bogus` as an extra argument.
  cmd.option('--json', 'print JSON').allowUnknownOption();
  cmd.action((...params: unknown[]) => {
    const self = params[params.length - 1] as Program;
    const unknown = self.args.find((a) => a.startsWith('-') && a !== '-' && !NEGATIVE_NUMBER.test(a));
    if (unknown) self.error(`error: unknown option '${unknown}'`, { code: 'commander.unknownOption', exitCode: 2 });
    const expected = spec.args?.length ?? 0;
    if (self.args.length > expected) {
      self.error(`error: too many arguments for '${[verb, sub].filter(Boolean).join(' ')}'. Expected ${expected} argument(s) but got ${self.args.length}.`, { code: 'commander.excessArguments', exitCode: 2 });
    }
    const options = optionsOf(self);
    if (self.optsWithGlobals().json) options.json = true;
    const args = sub ? [sub, ...self.args] : self.args;
    done({ verb, json: Boolean(options.json), run: (loadConfig) => commands[verb]!.run({ args, options, json: Boolean(options.json), loadConfig }) });
  });
}

/** The `sluice` program: parsing and help only; `done` receives the command that was chosen. */
export function buildProgram(done: (parsed: Parsed) => void): Program {
  const program = new Program('sluice')
    .usage('<command> [arguments] [--json]')
    .exitOverride()
    // Options after a sub-verb are the sub-verb's: `mail show 3 --json` is not `mail --json`.
    .enablePositionalOptions()
    .option('--json', 'print JSON (also after the command)')
    .showHelpAfterError('(add --help for usage and examples)')
    .addHelpText(
      'after',
      `
Exit codes: 0 done, 1 failed, 2 usage, 3 held, 4 gave up waiting (upload).
Configuration: DATABASE_URL (default sqlite under SLUICE_DATA_DIR, ./data), SLUICE_DATA_DIR.

Examples:
  sluice feed add hr --name "HR system"
  sluice import ./drop --feed hr
  sluice run show 42 --help
`,
    );
  for (const [verb, spec] of Object.entries(verbs)) {
    const cmd = program.command(verb);
    describe(cmd, spec);
    if (spec.subs) {
      for (const [sub, subSpec] of Object.entries(spec.subs)) {
        const subCmd = cmd.command(sub);
        describe(subCmd, subSpec);
        leaf(subCmd, verb, sub, subSpec, done);
      }
    }
    // A verb with sub-verbs and an action of its own (`mail`) lists when no sub-verb is given.
    if (!spec.subs || spec.args || spec.options) leaf(cmd, verb, undefined, spec, done);
  }
  return program;
}

/** Help and version are answers, not failures; every other parser complaint is a usage error. */
export const exitCodeOf = (error: CommanderError) => (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' ? 0 : 2);
export { CommanderError };
