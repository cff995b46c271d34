import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { copyProject, generateAll, unregisterCheckoutConsumers } from './project-copy.js';

// Issue 12: after `npm run new`, the scaffold tests still count only the variants they generate. Their project copy
// drops the checkout's own registrations; this proves the drop restores the registries exactly.

const REGISTRIES = ['lib/consumers/index.ts', 'lambdas/relay/event-schemas.ts'];

describe('project copy for the scaffold tests', () => {
  it('unregisters the consumers a checkout registered (both registries back to what they were, files kept)', () => {
    // Prepare: a copy, then two consumers registered in it as a user would (one with an outbox)
    const copy = copyProject();
    try {
      const read = (file: string) => readFileSync(join(copy.root, file), 'utf8');
      const before = REGISTRIES.map(read);
      generateAll(copy.root, [
        { name: 'mine-points', queue: 'fifo', effect: 'dynamodb', outbox: true },
        { name: 'mine-crm', queue: 'standard', effect: 'external', outbox: false },
      ]);
      expect(REGISTRIES.map(read)).not.toEqual(before);

      // Act
      unregisterCheckoutConsumers(copy.root);

      // Assess
      expect(REGISTRIES.map(read)).toEqual(before);
      expect(read('lib/consumers/mine-points.ts')).toContain('addMinePointsConsumer');
    } finally {
      copy.remove();
    }
  });
});
