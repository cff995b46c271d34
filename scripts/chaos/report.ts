import type { ChaosResult } from './runner.js';

/** Renders rows as a plain-text table (first row = header). */
export function table(rows: ReadonlyArray<ReadonlyArray<string | number>>): string {
  const cells = rows.map((r) => r.map((c) => String(c)));
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

/** The summary a chaos run prints: verdict, per-layer comparison, dead letters, absorbed duplicates, findings. */
export function formatChaosReport(result: ChaosResult, options: { maxFindings?: number } = {}): string {
  const { report } = result;
  const out: string[] = [];
  const verdict = result.ok
    ? 'PASS: nothing lost, duplicated or out of order'
    : 'FAIL: effects lost, duplicated, out of order or unexpected, or payments still parked in the DLQ';
  out.push(
    `chaos run: ${result.options.messages} payments, seed ${result.options.seed}, consumer ${result.options.consumer}`,
    `faults: ${result.options.faults.join(', ') || 'none'}`,
    `timing: runtime ready ${ms(result.timings.startMs)}, sends ${ms(result.timings.sendMs)}, drain ${ms(result.timings.drainMs)}, total ${ms(result.timings.totalMs)}`,
    '',
    table([
      ['layer', 'expected', 'observed', 'lost', 'duplicated'],
      ...report.layers.map((l) => [l.layer, l.expected, l.observed, l.lost, l.duplicated]),
    ]),
    '',
    `lost ${report.lost} | duplicated ${report.duplicated} | out of order ${report.outOfOrder} | unexpected ${report.unexpected} | ` +
      `dead-lettered without effect and redriven ${report.redriven.length} | still parked in DLQ ${report.parked.length}`,
    `DLQ round trips: ${report.reorderedByRedrive} payment(s) applied after newer ones of their account, ` +
      `${report.decisionsChangedByRedrive} decision(s) (applied/rejected) different from strict FIFO order`,
    '',
    table([
      ['duplicates absorbed at', 'injected', 'absorbed', 'source'],
      ...result.absorbed.map((a) => [a.layer, a.injected, a.absorbed ?? 'n/a', a.source]),
    ]),
    '',
    table([
      ['dead-lettered (queue)', 'count', 'reason'],
      ...(report.deadLettered.length > 0
        ? report.deadLettered.map((d) => [d.queue, d.count, d.reason])
        : [['none', 0, '']]),
    ]),
    '',
    `faults fired: ${
      Object.entries(result.metrics)
        .filter(([k]) => k.startsWith('InjectedFault|'))
        .map(([k, v]) => `${k.slice('InjectedFault|'.length)} ×${v}`)
        .join(', ') || 'none seen'
    }`,
    `harness faults: version skew ×${result.harnessFaults.versionSkew} (held alone first ×${result.harnessFaults.versionSkewHeld}), blocked-group receives ×${result.harnessFaults.blockedReceives}, ` +
      `wrong-group sends ×${result.harnessFaults.wrongGroupSends}, expired markers redriven late ×${result.harnessFaults.expiredMarkers}`,
    `zombie commits refused by the sequence fence: ${result.metrics['ZombieCommitsFenced|ledger'] ?? 0} ` +
      `(the others were absorbed by the dedup marker); poison messages seen by the ledger: ${result.metrics['PoisonMessages|ledger'] ?? 0}`,
    `webhook: ${result.webhook.calls} calls, ${result.webhook.accepted} accepted, ${result.webhook.failed} answered 5xx, ${result.webhook.hung} hung; ` +
      `${report.redeliveredSameKey} re-deliveries under an already-accepted Idempotency-Key (deduped by the receiver)`,
  );
  const fnRows = Object.entries(result.functionErrors);
  if (fnRows.length > 0) {
    out.push('', table([['function', 'invocations', 'errors'], ...fnRows.map(([n, s]) => [n, s.invocations, s.errors])]));
  }
  const findings = report.findings.filter((f) => f.kind !== 'unexpected' || !f.detail.includes('follows from'));
  if (findings.length > 0) {
    const max = options.maxFindings ?? 15;
    out.push('', `findings (${findings.length}${findings.length > max ? `, first ${max}` : ''}):`);
    for (const f of findings.slice(0, max)) {
      out.push(`  ${f.kind} @ ${f.layer}${f.accountId ? ` ${f.accountId}` : ''}${f.paymentId ? ` ${f.paymentId}` : ''}: ${f.detail}`);
    }
  }
  out.push('', verdict);
  return out.join('\n');
}

function ms(value: number): string {
  return value >= 10_000 ? `${(value / 1000).toFixed(1)} s` : `${value} ms`;
}

/** Facts about the run that the record must carry to be reproducible. */
export interface RunRecordMeta {
  readonly command: string;
  readonly commit: string;
  readonly date: string;
  readonly machine: string;
}

/**
 * The markdown record of a chaos run (chaos/RUN-2000.md): the exact command, commit, date and machine, the verdict
 * and the summary table, so the repository keeps the latest result next to the code that produced it.
 */
export function formatRunRecord(result: ChaosResult, meta: RunRecordMeta): string {
  const throughput = result.timings.sendMs + result.timings.drainMs > 0
    ? (result.options.messages / ((result.timings.sendMs + result.timings.drainMs) / 1000)).toFixed(1)
    : 'n/a';
  return [
    '# Chaos run: the full pipeline under every fault',
    '',
    'Written by `npm run chaos -- … --record chaos/RUN-2000.md` (scripts/chaos/cli.ts). Do not edit by hand: re-run.',
    '',
    '| | |',
    '|---|---|',
    `| Command | \`${meta.command}\` |`,
    `| Commit | \`${meta.commit}\` |`,
    `| Date | ${meta.date} |`,
    `| Machine | ${meta.machine} |`,
    `| Verdict | **${result.ok ? 'PASS: nothing lost, duplicated or out of order' : 'FAIL: effects lost, duplicated, out of order or unexpected, or payments still parked in the DLQ'}** |`,
    `| Payments | ${result.options.messages} unique (${Object.values(result.injected).reduce((a, b) => a + b, 0)} actions incl. duplicates and poison) |`,
    `| End-to-end rate on DynamoDB Local | ${throughput} payments/s (sends + drain; a local figure, not an AWS one) |`,
    '',
    '```text',
    formatChaosReport(result, { maxFindings: 40 }),
    '```',
    '',
  ].join('\n');
}
