import { UnsafeDeploymentError } from '../errors.js';

/** What {@link checkStreamViewChange} decided. */
export type StreamViewChange = 'unchanged' | 'first-deployment' | 'acknowledged-replacement';

/** Input of {@link checkStreamViewChange}. */
export interface StreamViewChangeInput {
  /** Construct path or stack name, for the message. */
  readonly where: string;
  /** The stream view type this synthesis gives the effects table. */
  readonly desired: string;
  /**
   * The stream view type the deployed stage has (pinned in context by the operator after a deployment).
   * @default - unknown: treated as a first deployment
   */
  readonly deployed?: string;
  /** The operator acknowledged that the stream and its mapping will be replaced. */
  readonly acknowledged: boolean;
  /** Context keys to name in the message. */
  readonly contextKeys: { readonly deployed: string; readonly acknowledge: string };
}

/**
 * Refuses a change of the effects table's stream view type on a deployed stage unless acknowledged. DynamoDB cannot
 * change a stream's view type in place: CloudFormation disables the stream and enables a new one, and the relay's
 * mapping is replaced with it, so records written in between are never delivered to the relay. Outbox items written
 * then are published by the outbox sweeper once they pass its threshold; events carried on entity items (the
 * watermark strategy's `lastEvent`) are not, hence the procedure in lib/README.md ("Changing the ledger strategy").
 * @throws UnsafeDeploymentError naming both view types, the procedure and the acknowledgement key.
 */
export function checkStreamViewChange(input: StreamViewChangeInput): StreamViewChange {
  if (input.deployed === undefined) return 'first-deployment';
  if (input.deployed === input.desired) return 'unchanged';
  if (input.acknowledged) return 'acknowledged-replacement';
  throw new UnsafeDeploymentError(
    `${input.where}: the deployed stream view type is ${input.deployed} (context ${input.contextKeys.deployed}) and this ` +
      `synthesis needs ${input.desired}: DynamoDB replaces the stream and the relay's mapping, and records written ` +
      'during the replacement are never delivered to the relay. Follow "Changing the ledger strategy" in lib/README.md ' +
      `(drain, deploy, let the outbox sweeper publish the gap), then pass -c ${input.contextKeys.acknowledge}=true`,
  );
}
