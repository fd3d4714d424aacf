import { validateFolder } from '../../pipeline/validateFolder.js';
import { EXIT, printJson } from '../output.js';
import { folderArgument, type Command } from './shared.js';

export const validateCommand: Command = {
  summary: 'validate <folder> [--feed F]: every check, offline, without a database',
  options: { feed: { type: 'string' } },
  async run(input) {
    const result = await validateFolder(folderArgument(input, 0), { feed: input.options.feed as string | undefined });
    if (input.json) {
      printJson({
        ok: result.ok,
        rows: result.rows,
        errorRows: result.errorRows,
        failure: result.failure ?? null,
        ignoredColumns: result.ignoredColumns,
        holds: result.holds,
        errors: result.problems.map(({ text: _text, ...p }) => p),
      });
    } else {
      for (const line of result.ignoredColumns) process.stdout.write(`note: ${line}\n`);
      for (const line of result.holds) process.stdout.write(`would be held: ${line}\n`);
      for (const p of result.problems) process.stdout.write(`${p.level === 'set' ? 'error' : 'row error'}: ${p.text} [${p.code}]\n`);
      process.stdout.write(
        result.ok
          ? `ok: ${result.rows} rows, ${result.errorRows} would be skipped\n`
          : `failed: ${result.failure}\n`,
      );
    }
    return result.ok ? EXIT.done : EXIT.failed;
  },
};
