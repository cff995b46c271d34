/**
 * `npm run replay-outbox -- [--from <iso>] [--to <iso>] [--event-type T] [--dry-run] …`: re-publishes outbox events
 * from the effects table, for an operator (what the scheduled sweeper does on its own for items older than its
 * threshold). See scripts/replay-outbox/args.ts for every option.
 */
import { parseReplayArgs, REPLAY_USAGE } from './replay-outbox/args.js';
import { ReplayUsageError } from './replay-outbox/errors.js';
import { runReplay } from './replay-outbox/run-replay.js';

async function main(argv: readonly string[]): Promise<number> {
  const options = parseReplayArgs(argv);
  const report = await runReplay(options);
  if (options.json) {
    console.log(JSON.stringify(report, null, 2));
  } else {
    const verb = options.dryRun ? 'would publish' : 'published';
    for (const e of report.published) console.log(`${verb} ${e.eventId} (${e.eventType}) → ${e.to.join(', ')}`);
    for (const r of report.rejected) console.log(`rejected ${r.eventId ?? '(no id)'}: ${r.reasons.join('; ')}`);
    for (const f of report.failed) console.log(`FAILED ${f.eventId}: ${f.reason}`);
    if (report.unroutedTypes.length) console.log(`no queue output found for: ${report.unroutedTypes.join(', ')} (pass --queue)`);
    console.log(
      `${report.found} item(s) selected in ${report.table}: ${report.published.length} ${verb}, ${report.rejected.length} rejected, ` +
        `${report.failed.length} failed${options.dryRun ? ' (dry run: nothing sent or marked)' : ''}`,
    );
  }
  return report.failed.length > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof ReplayUsageError) {
      if (error.message === REPLAY_USAGE) {
        console.log(REPLAY_USAGE);
        process.exit(0);
      }
      console.error(error.message);
      process.exit(2);
    }
    console.error(error);
    process.exit(1);
  },
);
