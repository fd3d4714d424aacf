/** An example for each verb's `--help`: what a first-time operator types. */
export const examples: Record<string, string[]> = {
  serve: ['sluice serve', 'PORT=8080 DATABASE_URL=mysql://sluice:secret@db/sluice sluice serve'],
  migrate: ['sluice migrate'],
  feed: ['sluice feed add hr --name "HR system"', 'sluice feed set hr maxUserRemovals 20', 'sluice feed show hr'],
  runs: ['sluice runs --feed hr --state held'],
  run: ['sluice run show 42', 'sluice run show 42 --changes suspend', 'sluice run apply 42'],
  validate: ['sluice validate ./drop/2026-11-28 --feed hr'],
  import: ['sluice import /srv/sftp/hr/outgoing --feed hr'],
  key: ['sluice key create hr --label "HR nightly export"'],
  admin: ['sluice admin add ann@example.org --role operator'],
  upload: ['sluice upload --url https://sluice.example.org --key sk_… --feed hr ./drop'],
  changes: ['sluice changes --after 0 --limit 100'],
};

/** `sluice <verb> --help`: the verb's usage line and examples. */
export function commandHelp(verb: string, summary: string): string {
  const lines = [`Usage: sluice ${summary}`, '', 'Options: --json prints JSON; --help prints this.'];
  if (examples[verb]?.length) lines.push('', 'Examples:', ...examples[verb]!.map((e) => `  ${e}`));
  return lines.join('\n') + '\n';
}

/**
 * A value such as `-5` (a number below zero) is a value, not an option: node's parseArgs would
 * refuse it as an unknown short option before the setting's own check could explain the range.
 * Such arguments are hidden from the parser and given back afterwards.
 */
const hidden = '\u0000sluice-negative:';
export const hideNegativeNumbers = (args: string[]) => args.map((a) => (/^-\d+(\.\d+)?$/.test(a) ? `${hidden}${a}` : a));
export const revealNegativeNumber = <T>(value: T): T => (typeof value === 'string' && value.startsWith(hidden) ? (value.slice(hidden.length) as T) : value);
