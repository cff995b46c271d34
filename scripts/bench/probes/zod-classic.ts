// Probe: the cost of zod v4's classic API (`z` namespace), with a schema shaped like the payment message.
import { z } from 'zod';

const Message = z
  .object({ accountId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/), amount: z.number().int(), currency: z.enum(['EUR', 'USD']) })
  .strict();

export const handler = async (event: unknown) => Message.parse(event);
