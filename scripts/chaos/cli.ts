import { parseArgs } from 'node:util';
import { ALL_FAULT_KINDS, FAULT_KINDS, type FaultKind } from './plans.js';
import { formatChaosReport, formatRunRecord } from './report.js';
import { CHAOS_CONSUMERS, runChaos, type ChaosConsumer } from './runner.js';
import { gitState, machineDescription } from './run-facts.js';

/**
 * `npm run chaos -- --messages N --seed S [--faults a,b,…] [--consumer atomic|powertools|at-least-once]`
 *
 * Runs the payments pipeline on the local runtime under injected faults and duplicates, checks every effect, prints a
 * summary table, and exits 0 only when nothing was lost or duplicated (1 otherwise, 2 on a usage error).
 */
const USAGE = `Usage: npm run chaos -- --messages N --seed S [--faults a,b,...] [--consumer ${CHAOS_CONSUMERS.join('|')}]
       [--accounts K] [--fault-scale X] [--concurrency C] [--via api|queue] [--idle-timeout-minutes M]
       [--app-dir DIR [--no-iam]] [--json FILE] [--record FILE.md] [--verbose]

  --via queue   first sends go straight onto the payments FIFO queue (same body, group and dedup id as the API):
                for long runs; the API-retry duplicate is then not injected.
  --app-dir DIR run the app of another checkout (its cdk.json, lib/, lambdas/) under this harness: the
                negative control, e.g. the code before a fix (git archive <commit> | tar -x -C DIR, then link
                node_modules into DIR).
  --no-iam      do not enforce IAM at the local gateway: for an --app-dir whose grants predate what its code
                calls (the ledger before issue 11, commit 80144ce, reads with BatchGetItem under a GetItem grant).
  --idle-timeout-minutes M
                a drain fails after M minutes WITHOUT progress (default 5), naming what is stuck where; a drain
                that keeps progressing takes as long as it needs.

Faults (default: all):
${Object.entries(FAULT_KINDS)
  .map(([k, v]) => `  ${k.padEnd(22)} ${v}`)
  .join('\n')}
  none                   no injected faults or duplicates`;

async function main(argv: string[]): Promise<number> {
  const commit = gitState(['lambdas', 'lib', 'bin', 'local', 'scripts/chaos']);
  const startedAt = new Date().toISOString();
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        messages: { type: 'string', default: '50' },
        seed: { type: 'string', default: '1' },
        faults: { type: 'string' },
        consumer: { type: 'string', default: 'atomic' },
        accounts: { type: 'string' },
        'fault-scale': { type: 'string' },
        concurrency: { type: 'string' },
        json: { type: 'string' },
        record: { type: 'string' },
        via: { type: 'string', default: 'api' },
        'app-dir': { type: 'string' },
        'no-iam': { type: 'boolean', default: false },
        'idle-timeout-minutes': { type: 'string' },
        verbose: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
      allowPositionals: false,
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const int = (name: string, raw: string | undefined, min: number): number | undefined => {
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer ≥ ${min}, got "${raw}"`);
    return n;
  };
  try {
    const consumer = values.consumer as ChaosConsumer;
    if (!CHAOS_CONSUMERS.includes(consumer)) {
      throw new UsageError(`--consumer must be one of ${CHAOS_CONSUMERS.join(', ')}, got "${values.consumer}"`);
    }
    const faults = parseFaults(values.faults);
    const scale = values['fault-scale'] === undefined ? undefined : Number(values['fault-scale']);
    if (scale !== undefined && !(scale >= 0)) throw new UsageError(`--fault-scale must be a number ≥ 0, got "${values['fault-scale']}"`);
    if (values.via !== 'api' && values.via !== 'queue') throw new UsageError(`--via must be api or queue, got "${values.via}"`);
    const idleMinutes = int('idle-timeout-minutes', values['idle-timeout-minutes'], 1);
    const result = await runChaos({
      via: values.via,
      appDir: values['app-dir'],
      ...(values['no-iam'] ? { iam: false } : {}),
      idleTimeoutMs: idleMinutes === undefined ? undefined : idleMinutes * 60_000,
      messages: int('messages', values.messages, 1)!,
      seed: int('seed', values.seed, 0)!,
      faults,
      consumer,
      accounts: int('accounts', values.accounts, 1),
      faultScale: scale,
      concurrency: int('concurrency', values.concurrency, 1),
      showFunctionLogs: values.verbose,
      log: (line) => console.error(`[chaos] ${line}`),
    });
    console.log(formatChaosReport(result));
    if (values.record) {
      const { writeFile } = await import('node:fs/promises');
      await writeFile(
        values.record,
        formatRunRecord(result, {
          command: `npm run chaos -- ${argv.join(' ')}`,
          commit,
          date: `${startedAt} (started) to ${new Date().toISOString()} (finished)`,
          machine: machineDescription(),
        }),
      );
    }
    if (values.json) {
      const { writeFile } = await import('node:fs/promises');
      const { workload, ...rest } = result;
      await writeFile(values.json, JSON.stringify({ ...rest, runId: workload.runId }, null, 2));
    }
    return result.ok ? 0 : 1;
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`${error.message}\n\n${USAGE}`);
      return 2;
    }
    throw error;
  }
}

class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

function parseFaults(raw: string | undefined): FaultKind[] {
  if (raw === undefined || raw === 'all') return ALL_FAULT_KINDS;
  if (raw === 'none' || raw === '') return [];
  const kinds = raw.split(',').map((s) => s.trim()).filter(Boolean);
  for (const kind of kinds) {
    if (!(kind in FAULT_KINDS)) throw new UsageError(`Unknown fault "${kind}"`);
  }
  return kinds as FaultKind[];
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
