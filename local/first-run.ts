import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { LocalRuntime, LocalRuntimeOptions } from './runtime.js';
import { startWebhookReceiver, type WebhookCall, type WebhookReceiver } from './webhook-receiver.js';

/**
 * `npm start` without a webhook: a built-in receiver takes the deliveries, so a first run works end to end. It
 * verifies every signature with the stack's signing secret (served by the local Secrets Manager), dedups by
 * `webhook-id` and prints each delivery on one line.
 */

/** Port the built-in receiver prefers (a stable URL lets the synthesized app be reused across runs). */
export const BUILT_IN_RECEIVER_PORT = 4599;

/** Stack output holding the signing secret's ARN (lib/payments-stack.ts). */
export const SIGNING_SECRET_OUTPUT = 'WebhookSigningSecretArn';

/** Where webhook deliveries go in this run. */
export interface WebhookTarget {
  /** Runtime options with `webhookUrl` set when the built-in receiver runs. */
  readonly options: LocalRuntimeOptions;
  /** The built-in receiver, when it runs. */
  readonly receiver?: WebhookReceiver;
  /** Ready-table row: kind, id, where. */
  row(): [string, string, string] | undefined;
  /** Gives the receiver the stack's signing secret once the runtime is up. */
  attach(runtime: LocalRuntime): void;
  stop(): Promise<void>;
}

/**
 * Starts the built-in receiver when the run sets no `webhookUrl` (neither `-c webhookUrl=…` nor cdk.json) and runs
 * the project's own app; otherwise only reports the configured target.
 */
export async function prepareWebhookTarget(options: LocalRuntimeOptions, log: (line: string) => void = console.log): Promise<WebhookTarget> {
  const configured = options.context?.webhookUrl ?? cdkJsonContext(options.projectDir)?.webhookUrl;
  if (configured !== undefined || options.assembly !== undefined || options.app !== undefined) {
    return {
      options,
      row: () => (typeof configured === 'string' ? ['Webhook', 'webhookUrl', `${configured}  (deliveries are signed; see README, webhook contract)`] : undefined),
      attach: () => undefined,
      stop: async () => undefined,
    };
  }
  let secret: string | undefined;
  const receiver = await startWebhookReceiver({
    port: BUILT_IN_RECEIVER_PORT,
    fallbackToFreePort: true,
    secret: () => secret,
    onCall: (call, { duplicate }) => log(deliveryLine(call, duplicate)),
  });
  return {
    options: { ...options, context: { ...options.context, webhookUrl: receiver.url } },
    receiver,
    row: () => ['Webhook', 'built-in receiver', `${receiver.url}  (verifies signatures, dedups by webhook-id; -c webhookUrl=… for yours)`],
    attach: (runtime) => {
      for (const outputs of Object.values(runtime.outputs)) {
        const arn = outputs[SIGNING_SECRET_OUTPUT];
        if (arn) secret = runtime.secrets.currentValue(arn);
      }
    },
    stop: () => receiver.stop(),
  };
}

/** One line per call: `webhook 200 evt_… PaymentApplied acc-1 +100 EUR → balance 100  signature ok`. */
export function deliveryLine(call: WebhookCall, duplicate: boolean): string {
  const event = (call.json ?? {}) as { eventType?: string; accountId?: string; amount?: number; currency?: string; balance?: number; reason?: string };
  const amount = typeof event.amount === 'number' ? `${event.amount > 0 ? '+' : ''}${event.amount} ${event.currency ?? ''}` : '';
  const what = [event.eventType, event.accountId, amount, event.balance === undefined ? '' : `→ balance ${event.balance}`, event.reason ?? '']
    .filter((part) => part !== '')
    .join(' ');
  const check = call.verified === undefined ? 'not verified (no secret)' : call.verified ? 'signature ok' : `REJECTED: ${call.rejection}`;
  const dedup = duplicate ? '  duplicate webhook-id: already processed, dropped' : '';
  return `  webhook ${call.status ?? '-'} ${call.webhookId ?? call.idempotencyKey ?? '(no id)'} ${what}  ${check}${dedup}`;
}

function cdkJsonContext(projectDir = process.cwd()): Record<string, unknown> | undefined {
  const file = join(resolve(projectDir), 'cdk.json');
  if (!existsSync(file)) return undefined;
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { context?: Record<string, unknown> }).context;
  } catch {
    return undefined;
  }
}
