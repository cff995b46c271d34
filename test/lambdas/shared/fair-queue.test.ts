import { describe, expect, it } from 'vitest';
import { FairQueueTenantError, tenantGroupId } from '../../../lambdas/shared/fair-queue.js';

describe('tenantGroupId', () => {
  it('sends the tenant key field as the MessageGroupId', () => {
    expect(tenantGroupId({ accountId: 'acct-42', amount: 5 }, 'accountId')).toBe('acct-42');
    expect(tenantGroupId({ tenant: 7 }, 'tenant')).toBe('7');
  });

  it('rejects a body without the tenant key, naming the key', () => {
    expect(() => tenantGroupId({ amount: 5 }, 'accountId')).toThrow(FairQueueTenantError);
    expect(() => tenantGroupId({ amount: 5 }, 'accountId')).toThrow(/tenant key "accountId" is missing from the message body \(got undefined\)/);
  });

  it('rejects a tenant SQS would refuse as a MessageGroupId (too long, or not letters, digits, punctuation)', () => {
    expect(() => tenantGroupId({ accountId: 'x'.repeat(129) }, 'accountId')).toThrow(/must be 1–128 characters \(MessageGroupId\), got 129/);
    expect(() => tenantGroupId({ accountId: 'a b' }, 'accountId')).toThrow(/characters a MessageGroupId refuses/);
    expect(() => tenantGroupId({ accountId: '' }, 'accountId')).toThrow(/got 0/);
  });
});
