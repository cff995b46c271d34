import { EmulatorPatchError } from './errors.js';
import { FAUXQS_VERSIONS_CHECKED, importFauxqsFile } from './fauxqs-fifo-batches.js';

/**
 * SQS fair queues in fauxqs (issue 14, item 3).
 *
 * On AWS a standard queue whose messages carry a MessageGroupId is a fair queue: the group names the message's tenant
 * (a message without one is a tenant of its own). When a tenant holds more than 10 % of the queue's in-flight
 * messages and at least 30 of its own, SQS marks it a noisy neighbour and serves the other (quiet) tenants' messages
 * first whenever there are any; noisy tenants are then served fewest-in-flight first. Nothing is dropped or delayed
 * beyond that, and a standard queue promises no order either way. fauxqs 2.4 accepts MessageGroupId on a standard
 * queue and drops it: no fairness, and no MessageGroupId attribute on the received message.
 *
 * The model emulated here, in process, before the emulator serves a request:
 * - a SendMessage / SendMessageBatch entry's MessageGroupId is kept on a standard queue's message (so ReceiveMessage
 *   returns it as the `MessageGroupId` system attribute, and the local event source mapping puts it in the record);
 * - each ReceiveMessage on a standard queue counts the in-flight messages per tenant; a tenant is noisy when it holds
 *   > 10 % of them and ≥ 30 of its own (the concurrency share); the visible messages of quiet tenants (and those
 *   without a group id) go first in their queue order, then the noisy tenants' messages, fewest in flight first.
 *
 * Not emulated: the processing-time share (a tenant with few but slow messages), and the hysteresis (AWS keeps a
 * tenant noisy until its backlog is drained or it sends nothing for 5 minutes; here the share is measured at each
 * receive). FIFO queues are untouched (see fauxqs-fifo-batches.ts).
 *
 * Applied by `startEmulators` before fauxqs starts (the send handlers are wrapped as the server registers them);
 * idempotent; refuses, naming the fix, when the installed fauxqs differs from the version it was checked against.
 *
 * @see https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-fair-queues-detailed.html
 */
export const NOISY_TENANT_RULE = { minimumInFlight: 30, share: 0.1 } as const;

const PATCHED = Symbol.for('exactly-once.fauxqs-fair-queues');

/**
 * The tenant of a message being sent, keyed by the identity of the entry's MessageAttributes object: fauxqs hands
 * that very object to `createMessage` for a standard queue (which it calls without the group id), so the tenant is
 * attached in the same synchronous call, before a waiting receive can take the message.
 */
const TENANT_OF = new WeakMap<object, string>();

interface FauxqsMessage {
  messageGroupId?: string;
}

interface FauxqsQueue {
  messages: FauxqsMessage[];
  inflightMessages: Map<string, { message: FauxqsMessage }>;
  isFifo(): boolean;
  processTimers(): void;
  dequeue(maxCount: number, visibilityTimeoutOverride?: number, dlqResolver?: unknown): unknown[];
}

type CreateMessage = (body: string, attributes?: object, delaySeconds?: number, groupId?: string, dedupId?: string) => FauxqsMessage;
type Handler = (body: unknown, store: FauxqsStore, request: unknown) => unknown;

interface FauxqsStore {
  getQueue(url: string): FauxqsQueue | undefined;
}

interface StoreModule {
  SqsQueue?: { prototype: FauxqsQueue & { [PATCHED]?: true } };
  SqsStore?: { createMessage: CreateMessage };
}

interface RouterModule {
  SqsRouter?: { prototype: { register(action: string, handler: Handler): void } };
}

/**
 * Makes the in-process fauxqs keep MessageGroupId on standard queues and deliver them fairly (see the module comment).
 * Safe to call more than once; must run before `startFauxqs` to see sends.
 *
 * @throws EmulatorPatchError when the installed fauxqs is not a version this patch was checked against, or lacks a
 *   class or method the patch relies on.
 */
export async function patchFauxqsFairQueues(): Promise<void> {
  const purpose = 'emulate SQS fair queues; review local/esm/fauxqs-fair-queues.ts for this version';
  const store = await importFauxqsFile<StoreModule>('sqs/sqsStore.js', purpose);
  const router = await importFauxqsFile<RouterModule>('sqs/sqsRouter.js', purpose);
  const { SqsQueue, SqsStore } = store.module;
  const { SqsRouter } = router.module;
  if (SqsQueue?.prototype[PATCHED]) return;
  const fix = `review local/esm/fauxqs-fair-queues.ts against fauxqs ${store.version}, then widen FAUXQS_VERSIONS_CHECKED`;
  if (!FAUXQS_VERSIONS_CHECKED.test(store.version)) {
    throw new EmulatorPatchError(`fauxqs ${store.version} is not a version the fair-queue patch was checked against (${FAUXQS_VERSIONS_CHECKED}): ${fix}`);
  }
  const missing = [
    typeof SqsQueue?.prototype.dequeue === 'function' ? '' : 'SqsQueue.dequeue',
    typeof SqsQueue?.prototype.processTimers === 'function' ? '' : 'SqsQueue.processTimers',
    typeof SqsStore?.createMessage === 'function' ? '' : 'SqsStore.createMessage',
    typeof SqsRouter?.prototype.register === 'function' ? '' : 'SqsRouter.register',
  ].filter(Boolean);
  if (missing.length > 0 || !SqsQueue || !SqsStore || !SqsRouter) {
    throw new EmulatorPatchError(`fauxqs ${store.version} lacks ${missing.join(', ')}: ${fix}`);
  }

  const originalCreate = SqsStore.createMessage;
  SqsStore.createMessage = function createMessage(this: unknown, body, attributes = {}, delaySeconds, groupId, dedupId) {
    return originalCreate.call(this, body, attributes, delaySeconds, groupId ?? TENANT_OF.get(attributes), dedupId);
  };

  const originalRegister = SqsRouter.prototype.register;
  SqsRouter.prototype.register = function register(this: unknown, action: string, handler: Handler) {
    const keepsTenant = action === 'SendMessage' || action === 'SendMessageBatch';
    originalRegister.call(this, action, keepsTenant ? (body, sqsStore, request) => handler(markTenants(body, sqsStore), sqsStore, request) : handler);
  };

  const proto = SqsQueue.prototype;
  const originalDequeue = proto.dequeue;
  proto.dequeue = function dequeue(this: FauxqsQueue, maxCount: number, visibilityTimeoutOverride?: number, dlqResolver?: unknown) {
    if (!this.isFifo()) serveQuietTenantsFirst(this);
    return originalDequeue.call(this, maxCount, visibilityTimeoutOverride, dlqResolver);
  };
  proto[PATCHED] = true;
}

/** Gives each standard-queue entry that carries a MessageGroupId its own attributes object, keyed to its tenant. */
function markTenants(body: unknown, store: FauxqsStore): unknown {
  const request = body as { QueueUrl?: unknown; Entries?: unknown } | null;
  if (!request || typeof request.QueueUrl !== 'string') return body;
  const queue = store.getQueue(request.QueueUrl);
  if (!queue || queue.isFifo()) return body;
  const entries = Array.isArray(request.Entries) ? request.Entries : [request];
  for (const entry of entries as { MessageGroupId?: unknown; MessageAttributes?: object }[]) {
    if (typeof entry?.MessageGroupId !== 'string' || entry.MessageGroupId === '') continue;
    // A copy, so two entries never share the object (fauxqs treats a missing map as {} as well).
    entry.MessageAttributes = { ...(entry.MessageAttributes ?? {}) };
    TENANT_OF.set(entry.MessageAttributes, entry.MessageGroupId);
  }
  return body;
}

/**
 * Reorders a standard queue's visible messages for the next receive: quiet tenants' first (queue order), then the
 * noisy tenants', fewest in flight first. Leaves the queue as it is when no tenant is noisy.
 */
function serveQuietTenantsFirst(queue: FauxqsQueue): void {
  // Fewer in flight than one noisy tenant needs: nothing to do (processTimers only ever lowers the count).
  if (queue.inflightMessages.size < NOISY_TENANT_RULE.minimumInFlight) return;
  queue.processTimers();
  if (queue.messages.length < 2 || queue.inflightMessages.size < NOISY_TENANT_RULE.minimumInFlight) return;
  const inFlight = new Map<string, number>();
  for (const { message } of queue.inflightMessages.values()) {
    if (message.messageGroupId !== undefined) inFlight.set(message.messageGroupId, (inFlight.get(message.messageGroupId) ?? 0) + 1);
  }
  const total = queue.inflightMessages.size;
  const noisy = new Map<string, number>();
  for (const [tenant, count] of inFlight) {
    if (count >= NOISY_TENANT_RULE.minimumInFlight && count > NOISY_TENANT_RULE.share * total) noisy.set(tenant, count);
  }
  if (noisy.size === 0) return;
  const quiet: FauxqsMessage[] = [];
  const held: FauxqsMessage[] = [];
  for (const message of queue.messages) {
    (message.messageGroupId !== undefined && noisy.has(message.messageGroupId) ? held : quiet).push(message);
  }
  if (held.length === 0) return;
  // Array.prototype.sort is stable: each noisy tenant keeps its queue order.
  held.sort((a, b) => noisy.get(a.messageGroupId!)! - noisy.get(b.messageGroupId!)!);
  queue.messages = [...quiet, ...held];
}
