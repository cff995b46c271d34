import { readFileSync } from 'node:fs';
import { RecorderError } from './errors.js';
import type { RecordedEvent } from './types.js';

/**
 * Reads a recording written by the runtime (`.local/recording.jsonl`, or the `/recording` endpoint's answer).
 * @throws RecorderError naming the file and the first line that is not a recorded event.
 */
export function readRecording(file: string): RecordedEvent[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new RecorderError(`cannot read the recording ${file}: ${(error as Error).message} (the runtime writes it on stop)`, { cause: error });
  }
  return parseRecording(text, file);
}

/** Parses JSON Lines of recorded events. @throws RecorderError naming the bad line. */
export function parseRecording(text: string, origin = 'recording'): RecordedEvent[] {
  const events: RecordedEvent[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (!line) continue;
    let event: RecordedEvent;
    try {
      event = JSON.parse(line) as RecordedEvent;
    } catch (error) {
      throw new RecorderError(`${origin} line ${i + 1} is not JSON: ${line.slice(0, 80)}`, { cause: error });
    }
    if (typeof event.seq !== 'number' || typeof event.t !== 'number' || !Array.isArray(event.keys)) {
      throw new RecorderError(`${origin} line ${i + 1} is not a recorded event (needs seq, t, keys): ${line.slice(0, 80)}`);
    }
    events.push(event);
  }
  return events;
}
