import { buildJourney, formatJourney } from '../../local/recorder/journey.js';
import type { RecordedEvent } from '../../local/recorder/types.js';
import type { Finding } from './checker.js';

/**
 * The journeys, from the runtime's flight recording, of the payments the checker found lost or duplicated: what
 * each layer did with that message (applied twice? retried? dead-lettered?), hop by hop. Empty when nothing was.
 * @param max journeys printed at most (the first findings)
 */
export function formatFindingJourneys(findings: readonly Finding[], events: readonly RecordedEvent[], max = 3): string {
  const seen = new Set<string>();
  const parts: string[] = [];
  for (const finding of findings) {
    if ((finding.kind !== 'lost' && finding.kind !== 'duplicated') || !finding.paymentId || seen.has(finding.paymentId)) continue;
    seen.add(finding.paymentId);
    if (parts.length >= max) break;
    parts.push(`${finding.kind} at the ${finding.layer} (${finding.detail}) — ${formatJourney(buildJourney(events, finding.paymentId))}`);
  }
  if (parts.length === 0) return '';
  const more = [...new Set(findings.filter((f) => (f.kind === 'lost' || f.kind === 'duplicated') && f.paymentId).map((f) => f.paymentId))].length - parts.length;
  return [`journeys of the payments found lost or duplicated (flight recording)${more > 0 ? `; ${more} more not shown` : ''}:`, ...parts].join('\n');
}
