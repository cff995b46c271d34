import { buildJourney, formatJourney } from '../recorder/journey.js';
import type { RecordedEvent } from '../recorder/types.js';

/**
 * The closing lines of `npm run demo`: one payment's journey as text, and the inspector link that draws it.
 * @param inspectorUrl the runtime's inspector URL ('' when recording is off)
 */
export function journeyLinkLines(events: readonly RecordedEvent[], inspectorUrl: string, key: string, label: string): string {
  const journey = buildJourney(events, key);
  const counts = Object.entries(journey.summary).map(([verdict, count]) => `${count} ${verdict}`).join(', ');
  return [
    `\nJourney of ${label} (${counts}):`,
    formatJourney(journey),
    inspectorUrl ? `\nWatch it in the inspector: ${inspectorUrl}#${encodeURIComponent(key)}` : '',
  ].join('\n');
}
