import { evaluate, requiredAuthorizations } from './iam-engine.js';
import type { PrincipalRegistry } from '../iam/principals.js';
import type { TemplatePolicies } from '../iam/template-policies.js';
import { UsageRecorder } from '../iam/usage-report.js';
import { Authorizer } from './authorizer.js';
import { DynamoDbService } from './dynamodb-service.js';
import { Gateway } from './gateway.js';
import { SecretsManagerService } from './secrets-manager-service.js';
import type { SecretsManagerHandler } from '../secrets/secrets-api.js';
import type { SecretStore } from '../secrets/secret-store.js';
import { SqsService } from './sqs-service.js';

/** Options of {@link startLocalGateway}. */
export interface LocalGatewayOptions {
  /** Edge port; 0 picks a free one. */
  readonly port: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** Verify signatures and authorize calls. */
  readonly enforce: boolean;
  readonly principals: PrincipalRegistry;
  /** Filled as stacks are read; looked up on every call. */
  readonly policies: TemplatePolicies;
  readonly dynamodbEndpoint: string;
  readonly sqsEndpoint: string;
  readonly region: string;
  readonly accountId: string;
  readonly partition: string;
  /** The template's secrets, served as Secrets Manager under the same enforcement. @default - not served */
  readonly secrets?: { readonly store: SecretStore; readonly handler: SecretsManagerHandler };
}

/** The running edge endpoint of the local runtime with its authorizer and usage recorder. */
export interface LocalGateway {
  readonly gateway: Gateway;
  /** Judges calls and mapping permissions (also when not enforcing: for the usage report and start checks). */
  readonly authorizer: Authorizer;
  /** Authorizations made by the gateway, per role. */
  readonly usage: UsageRecorder;
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Starts the gateway with DynamoDB (+ Streams), SQS and (when given) Secrets Manager mounted: one origin for every SDK client, IAM enforced
 * unless `enforce` is false (then calls are forwarded unjudged, and still reported to `onCall`).
 */
export async function startLocalGateway(options: LocalGatewayOptions): Promise<LocalGateway> {
  const usage = new UsageRecorder();
  const { region, accountId, partition, policies } = options;
  const authorizer = new Authorizer({ evaluate, policies, region, accountId, onCheck: (check) => usage.record(check) });
  const enforcing = options.enforce ? authorizer : undefined;
  const dynamodb = new DynamoDbService({ endpoint: options.dynamodbEndpoint, authorizer: enforcing, requiredAuthorizations, region, accountId, partition });
  const sqs = new SqsService({ endpoint: options.sqsEndpoint, authorizer: enforcing, requiredAuthorizations, policies, region, accountId, partition });
  const gateway = new Gateway({ principals: options.principals, enforce: options.enforce, host: options.host });
  gateway.registerService('dynamodb', dynamodb).registerService('sqs', sqs);
  if (options.secrets) {
    gateway.registerService(
      'secretsmanager',
      new SecretsManagerService({ ...options.secrets, authorizer: enforcing, requiredAuthorizations, region, accountId, partition }),
    );
  }
  const { port, url } = await gateway.listen(options.port);
  return {
    gateway,
    authorizer,
    usage,
    url,
    port,
    close: async () => {
      await gateway.close();
      dynamodb.close();
      sqs.close();
    },
  };
}
