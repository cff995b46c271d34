// Probe: the same schema with zod/mini (tree-shakable functional API).
import * as z from 'zod/mini';

const Message = z.strictObject({
  accountId: z.string().check(z.regex(/^[A-Za-z0-9_-]{1,64}$/)),
  amount: z.int(),
  currency: z.enum(['EUR', 'USD']),
});

export const handler = async (event: unknown) => z.parse(Message, event);
