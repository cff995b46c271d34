export * from './types.js';
export { FlightRecorder, DEFAULT_RECORD_LIMIT, MAX_RECORD_LIMIT, sourceName, type FlightRecorderOptions, type RecordableCall, type RecordableResult } from './flight-recorder.js';
export { buildJourney, formatJourney, type Journey, type JourneyHop, type HopVerdict } from './journey.js';
export { extractKeys, parseFunctionLine, CORRELATION_FIELDS } from './correlation-keys.js';
export { startRecording, RECORDING_FILE, type Recording, type RecordingOptions } from './recording.js';
export { readRecording } from './read-recording.js';
export { RecorderError, RecorderOptionError, TraceError } from './errors.js';
