/**
 * `npm run redrive -- <dlq> [--to <source>] [--dry-run] [--include-applied]`: moves dead-lettered messages back to
 * their source queue and reports which were already applied. See scripts/redrive/args.ts for every option.
 */
import { parseRedriveArgs, REDRIVE_USAGE } from './redrive/args.js';
import { RedriveError, RedriveUsageError } from './redrive/errors.js';
import { formatEntry, formatSummary } from './redrive/format-report.js';
import { runRedrive } from './redrive/run-redrive.js';

async function main(argv: readonly string[]): Promise<number> {
  const cli = parseRedriveArgs(argv);
  const report = await runRedrive(cli, cli.json ? undefined : (entry) => console.log(formatEntry(entry)));
  console.log(cli.json ? JSON.stringify(report, null, 2) : formatSummary(report));
  return report.counts.errors > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof RedriveUsageError && error.message === REDRIVE_USAGE) {
      console.log(REDRIVE_USAGE); // --help
      process.exit(0);
    }
    if (error instanceof RedriveUsageError || error instanceof RedriveError) {
      console.error(error.message);
      process.exit(2);
    }
    console.error(error);
    process.exit(1);
  },
);
