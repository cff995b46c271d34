import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { EmulatorPatchError } from './errors.js';

/**
 * AWS-shaped FIFO receives in fauxqs (rule S9; issue 11, item 6).
 *
 * SQS answers a ReceiveMessage on a FIFO queue with as many consecutive messages of one message group as it can (up to
 * MaxNumberOfMessages), then fills the rest from other groups, each group in order; no message of a group is returned
 * while another of that group is in flight. fauxqs 2.4 keeps the second rule but stops after ONE message per group
 * (`dequeueFifo` breaks out of its per-group loop), and when several in-flight messages of a group reappear it puts
 * them back at the head of the group in reverse order (each one is `unshift`ed in turn).
 *
 * The local event source mapping cannot work around this through the SQS API (a group stays locked while its first
 * message is in flight), so the emulator itself is corrected, in process, before it serves a request:
 * - `dequeueFifo` takes consecutive messages of a group until the receive is full (AWS: "FIFO queue delivery logic");
 * - messages that reappear (visibility timeout ended, or ChangeMessageVisibility to 0) go back in their send order.
 *
 * Applied by `startEmulators`; idempotent. The store class is reached through the package's own file (its `exports`
 * map hides it), so the patch checks the version and the fields it relies on and refuses, naming the fix, when they
 * differ.
 *
 * @see https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/FIFO-queues-understanding-logic.html
 */
export const FAUXQS_VERSIONS_CHECKED = /^2\.4\./;

const PATCHED = Symbol.for('exactly-once.fauxqs-fifo-batches');
const RANK = Symbol.for('exactly-once.fauxqs-fifo-rank');
const DEFAULT_GROUP = '__default';

/** The part of a fauxqs message the patch reads and writes. */
interface FauxqsMessage {
  messageId: string;
  body: string;
  md5OfBody: string;
  md5OfMessageAttributes?: string;
  messageAttributes: Record<string, unknown>;
  approximateReceiveCount: number;
  approximateFirstReceiveTimestamp?: number;
  messageGroupId?: string;
  [RANK]?: number;
}

interface InflightEntry {
  message: FauxqsMessage;
  receiptHandle: string;
  visibilityDeadline: number;
}

/** The part of fauxqs's `SqsQueue` the patch relies on (checked at patch time). */
interface FauxqsQueue {
  name: string;
  attributes: Record<string, string>;
  inflightMessages: Map<string, InflightEntry>;
  fifoMessages: Map<string, FauxqsMessage[]>;
  fifoLockedGroups: Map<string, number>;
  spy?: { addMessage(event: Record<string, unknown>): void };
  persistence?: {
    deleteMessage(messageId: string): void;
    updateMessageInflight(id: string, handle: string, deadline: number, count: number, first?: number): void;
  };
  isFifo(): boolean;
  enqueue(message: FauxqsMessage): void;
  processTimers(): void;
  changeVisibility(receiptHandle: string, timeoutSeconds: number): void;
  dequeueFifo(maxCount: number, visibilityTimeoutOverride?: number, dlqResolver?: (arn: string) => FauxqsQueue | undefined): unknown[];
}

interface FauxqsQueueClass {
  new (name: string, url: string, arn: string, attributes?: Record<string, string>): FauxqsQueue;
  prototype: FauxqsQueue & { [PATCHED]?: true };
}

let rankCounter = 0;

/**
 * Makes the in-process fauxqs answer FIFO receives as SQS does (see the module comment). Safe to call more than once.
 *
 * @throws EmulatorPatchError when the installed fauxqs is not a version this patch was checked against, or its queue
 *   class lacks a field or method the patch relies on.
 */
export async function patchFauxqsFifoBatches(): Promise<void> {
  const { SqsQueue, version } = await loadSqsQueueClass();
  const proto = SqsQueue.prototype;
  if (proto[PATCHED]) return;
  assertShape(SqsQueue, version);

  const originalEnqueue = proto.enqueue;
  const originalProcessTimers = proto.processTimers;
  const originalChangeVisibility = proto.changeVisibility;

  proto.enqueue = function enqueue(this: FauxqsQueue, message: FauxqsMessage) {
    // Send order within this queue; a message moved to a DLQ is ranked again there, in the order it arrives.
    message[RANK] = ++rankCounter;
    originalEnqueue.call(this, message);
  };
  proto.processTimers = function processTimers(this: FauxqsQueue) {
    keepGroupOrder(this, () => originalProcessTimers.call(this));
  };
  proto.changeVisibility = function changeVisibility(this: FauxqsQueue, receiptHandle: string, timeoutSeconds: number) {
    keepGroupOrder(this, () => originalChangeVisibility.call(this, receiptHandle, timeoutSeconds));
  };
  proto.dequeueFifo = dequeueFifoBatch;
  proto[PATCHED] = true;
}

/** Runs `requeue` (which may move in-flight messages back to their groups) and restores send order in those groups. */
function keepGroupOrder(queue: FauxqsQueue, requeue: () => void): void {
  if (!queue.isFifo() || queue.inflightMessages.size === 0) {
    requeue();
    return;
  }
  const groupOf = new Map<string, string>();
  for (const [handle, entry] of queue.inflightMessages) groupOf.set(handle, entry.message.messageGroupId ?? DEFAULT_GROUP);
  requeue();
  if (queue.inflightMessages.size === groupOf.size) return;
  const touched = new Set<string>();
  for (const [handle, group] of groupOf) if (!queue.inflightMessages.has(handle)) touched.add(group);
  for (const group of touched) queue.fifoMessages.get(group)?.sort((a, b) => (a[RANK] ?? 0) - (b[RANK] ?? 0));
}

/** fauxqs's FIFO dequeue without its one-message-per-group stop: consecutive messages of a group fill the receive. */
function dequeueFifoBatch(
  this: FauxqsQueue,
  maxCount: number,
  visibilityTimeoutOverride?: number,
  dlqResolver?: (arn: string) => FauxqsQueue | undefined,
): unknown[] {
  this.processTimers();
  const visibilityTimeout = visibilityTimeoutOverride ?? Number.parseInt(this.attributes.VisibilityTimeout ?? '30', 10);
  const { maxReceiveCount, deadLetterTargetArn } = redrivePolicy(this.attributes.RedrivePolicy);
  const count = Math.min(maxCount, 10);
  const received: Record<string, unknown>[] = [];
  for (const [groupId, messages] of this.fifoMessages) {
    if (received.length >= count) break;
    if (this.fifoLockedGroups.has(groupId)) continue;
    while (received.length < count && messages.length > 0) {
      const message = messages.shift() as FauxqsMessage;
      message.approximateReceiveCount++;
      message.approximateFirstReceiveTimestamp ??= Date.now();
      if (deadLetterTargetArn && dlqResolver && message.approximateReceiveCount > maxReceiveCount) {
        const dlq = dlqResolver(deadLetterTargetArn);
        if (dlq) {
          this.spy?.addMessage({
            service: 'sqs', queueName: this.name, messageId: message.messageId, body: message.body,
            messageAttributes: message.messageAttributes, status: 'dlq', timestamp: Date.now(),
          });
          this.persistence?.deleteMessage(message.messageId);
          dlq.enqueue(message);
          continue;
        }
      }
      const receiptHandle = randomUUID();
      const visibilityDeadline = Date.now() + visibilityTimeout * 1000;
      this.inflightMessages.set(receiptHandle, { message, receiptHandle, visibilityDeadline });
      this.persistence?.updateMessageInflight(
        message.messageId, receiptHandle, visibilityDeadline, message.approximateReceiveCount, message.approximateFirstReceiveTimestamp,
      );
      const out: Record<string, unknown> = {
        MessageId: message.messageId, ReceiptHandle: receiptHandle, MD5OfBody: message.md5OfBody, Body: message.body,
      };
      if (message.md5OfMessageAttributes) out.MD5OfMessageAttributes = message.md5OfMessageAttributes;
      if (Object.keys(message.messageAttributes).length > 0) out.MessageAttributes = message.messageAttributes;
      received.push(out);
      // One lock count per message in flight: the group opens again when the last of them is deleted or reappears.
      this.fifoLockedGroups.set(groupId, (this.fifoLockedGroups.get(groupId) ?? 0) + 1);
    }
    if (messages.length === 0) this.fifoMessages.delete(groupId);
  }
  return received;
}

function redrivePolicy(raw: string | undefined): { maxReceiveCount: number; deadLetterTargetArn?: string } {
  if (!raw) return { maxReceiveCount: Number.POSITIVE_INFINITY };
  try {
    const policy = JSON.parse(raw) as { maxReceiveCount?: number | string; deadLetterTargetArn?: string };
    return { maxReceiveCount: Number(policy.maxReceiveCount ?? Number.POSITIVE_INFINITY), deadLetterTargetArn: policy.deadLetterTargetArn };
  } catch {
    // fauxqs ignores a policy it cannot parse; so does the patch.
    return { maxReceiveCount: Number.POSITIVE_INFINITY };
  }
}

/** Loads fauxqs's queue class from the very file its server imports (same module instance, so the patch applies). */
async function loadSqsQueueClass(): Promise<{ SqsQueue: FauxqsQueueClass; version: string }> {
  const { module, version, file } = await importFauxqsFile<{ SqsQueue?: FauxqsQueueClass }>(
    'sqs/sqsStore.js',
    'make FIFO receives AWS-shaped; review local/esm/fauxqs-fifo-batches.ts for this version',
  );
  if (typeof module.SqsQueue !== 'function') {
    throw new EmulatorPatchError(
      `fauxqs ${version}: ${file} no longer exports SqsQueue; review local/esm/fauxqs-fifo-batches.ts for this version`,
    );
  }
  return { SqsQueue: module.SqsQueue, version };
}

/**
 * Imports a file of the installed fauxqs (`dist/<relative>`), the very module instance its server uses, so a patch of
 * its classes applies to the running emulator. Shared by the fauxqs patches of this folder.
 * @throws EmulatorPatchError naming `purpose` when fauxqs is not installed or the file cannot be loaded.
 */
export async function importFauxqsFile<T>(relative: string, purpose: string): Promise<{ module: T; version: string; file: string }> {
  // Node's own lookup path (the package's `exports` map blocks require.resolve of an inner file), then the real
  // path, as Node's ESM loader uses it to key modules.
  const lookup = createRequire(import.meta.url).resolve.paths('fauxqs') ?? [];
  const found = lookup.map((dir) => join(dir, 'fauxqs')).find((dir) => existsSync(join(dir, 'package.json')));
  if (!found) throw new EmulatorPatchError(`fauxqs is not installed (looked in ${lookup.join(', ')}): run npm install`);
  const root = realpathSync(found);
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  const file = join(root, 'dist', ...relative.split('/'));
  try {
    return { module: (await import(pathToFileURL(file).href)) as T, version, file };
  } catch (error) {
    throw new EmulatorPatchError(`fauxqs ${version}: cannot load ${file} to ${purpose}`, { cause: error });
  }
}

function assertShape(SqsQueue: FauxqsQueueClass, version: string): void {
  const fix = 'review local/esm/fauxqs-fifo-batches.ts against the new dequeueFifo/processTimers/changeVisibility, then widen FAUXQS_VERSIONS_CHECKED';
  if (!FAUXQS_VERSIONS_CHECKED.test(version)) {
    throw new EmulatorPatchError(`fauxqs ${version} is not a version the FIFO batch patch was checked against (${FAUXQS_VERSIONS_CHECKED}): ${fix}`);
  }
  const missing = ['enqueue', 'processTimers', 'changeVisibility', 'dequeueFifo', 'isFifo'].filter(
    (name) => typeof (SqsQueue.prototype as unknown as Record<string, unknown>)[name] !== 'function',
  );
  const probe = new SqsQueue('probe.fifo', 'http://probe/probe.fifo', 'arn:aws:sqs:us-east-1:000000000000:probe.fifo', { FifoQueue: 'true' });
  for (const field of ['inflightMessages', 'fifoMessages', 'fifoLockedGroups'] as const) {
    if (!(probe[field] instanceof Map)) missing.push(field);
  }
  if (missing.length > 0) {
    throw new EmulatorPatchError(`fauxqs ${version}: its SqsQueue lacks ${missing.join(', ')}: ${fix}`);
  }
}
