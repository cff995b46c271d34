import { describe, expect, it } from 'vitest';
import { parseCliArgs } from '../../../local/cli-args.js';

describe('recorder and inspector flags of npm start', () => {
  it('reads --record-limit (0 turns recording off) and --inspector-port', () => {
    expect(parseCliArgs(['--record-limit', '5000', '--inspector-port', '0']).options).toMatchObject({ recordLimit: 5000, inspectorPort: 0 });
    expect(parseCliArgs(['--record-limit=0']).options).toMatchObject({ recordLimit: 0 });
  });

  it('rejects a record limit that is not a count of events, naming the value and the range', () => {
    expect(() => parseCliArgs(['--record-limit', '-1'])).toThrow('--record-limit must be a number of events 0–5000000 (0 = no recording), got "-1"');
    expect(() => parseCliArgs(['--record-limit', 'lots'])).toThrow(/got "lots"/);
    expect(() => parseCliArgs(['--inspector-port', '70000'])).toThrow(/--inspector-port must be a port number 0–65535, got "70000"/);
  });
});
