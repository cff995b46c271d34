import type { RedriveEntry, RedriveReport } from './redrive-messages.js';

/** One human-readable line per message. */
export function formatEntry(entry: RedriveEntry): string {
  const { verdict } = entry;
  const what =
    verdict.status === 'unknown'
      ? `unknown (${verdict.reason})`
      : `${verdict.status === 'applied' ? 'ALREADY APPLIED' : 'not applied'} — ${verdict.evidence}`;
  const action =
    entry.action === 'kept' && entry.plannedAction
      ? `kept in DLQ${entry.error ? ` (error: ${entry.error})` : ''}, a real run would have ${entry.plannedAction === 'resent' ? 'resent' : 'dropped'} it`
      : entry.action === 'resent'
        ? `resent as ${entry.newMessageId ?? '?'}`
        : entry.action === 'dropped'
          ? 'dropped from DLQ (effect already recorded)'
          : 'kept in DLQ';
  const group = entry.groupId ? ` group=${entry.groupId}` : '';
  const key = 'key' in verdict && verdict.key ? ` key=${verdict.key}` : '';
  const why = entry.deadLetter ? ` [dead-lettered by the ledger: ${entry.deadLetter.kind}${entry.deadLetter.reason ? ` — ${entry.deadLetter.reason}` : ''}]` : '';
  return `${entry.messageId}${group}${key} received=${entry.receiveCount}${why}: ${what}; ${action}`;
}

/** The summary printed after the per-message lines. */
export function formatSummary(report: RedriveReport): string {
  const c = report.counts;
  const lines = [
    `${report.dryRun ? 'DRY RUN — nothing moved. ' : ''}${report.entries.length} message(s) from ${report.dlqUrl} → ${report.sourceUrl}`,
    `  already applied: ${c.applied}, not applied: ${c.notApplied}, unknown: ${c.unknown}`,
    `  resent: ${c.resent}, dropped (applied): ${c.dropped}, kept in DLQ: ${c.kept}${c.errors ? `, errors: ${c.errors}` : ''}`,
  ];
  if (report.unexamined > 0) {
    lines.push(
      `  ${report.unexamined} message(s) not examined (beyond --max, or behind a kept message of the same FIFO group): run again`,
    );
  }
  return lines.join('\n');
}
