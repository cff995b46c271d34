import { currentVersion, type SecretStore } from './secret-store.js';
import { SecretsManagerError } from './errors.js';

/**
 * Secrets Manager's API over a {@link SecretStore}: `(operation, input) → output`, the shape of the JSON 1.1 protocol
 * (`X-Amz-Target: secretsmanager.<Operation>`). The HTTP server here uses it, and so can a gateway that verifies
 * SigV4 and IAM policies before handing the request on (secretsmanager:GetSecretValue, secretsmanager:DescribeSecret,
 * secretsmanager:PutSecretValue on the secret's ARN: see {@link secretResourceArn}).
 * @see https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html
 */

/** The operations served. */
export const SECRETS_MANAGER_OPERATIONS = ['GetSecretValue', 'DescribeSecret', 'PutSecretValue'] as const;
/** One served operation. */
export type SecretsManagerOperation = (typeof SECRETS_MANAGER_OPERATIONS)[number];

/** A request handler: operation name and parsed JSON input to the JSON output. */
export type SecretsManagerHandler = (operation: string, input: Record<string, unknown>) => Record<string, unknown>;

/** The ARN an IAM policy must allow for this request (the secret's full ARN), for a gateway's authorization. */
export function secretResourceArn(store: SecretStore, input: Record<string, unknown>): string {
  return store.find(input.SecretId).arn;
}

/**
 * Builds the handler.
 * @throws SecretsManagerError with AWS's code: ResourceNotFoundException, InvalidParameterException,
 *   InvalidRequestException (unknown version), or UnknownOperationException.
 */
export function createSecretsManagerHandler(store: SecretStore): SecretsManagerHandler {
  return (operation, input) => {
    switch (operation) {
      case 'GetSecretValue': {
        const secret = store.find(input.SecretId);
        const versionId = input.VersionId;
        const stage = input.VersionStage ?? (versionId === undefined ? 'AWSCURRENT' : undefined);
        const version =
          versionId !== undefined
            ? secret.versions.find((v) => v.versionId === versionId)
            : stage === 'AWSCURRENT'
              ? currentVersion(secret)
              : secret.versions.find((v) => v.stages.includes(String(stage)));
        if (!version || (stage !== undefined && versionId !== undefined && !version.stages.includes(String(stage)))) {
          throw new SecretsManagerError('ResourceNotFoundException', "Secrets Manager can't find the specified secret value for staging label or version.");
        }
        return {
          ARN: secret.arn,
          Name: secret.name,
          VersionId: version.versionId,
          SecretString: version.secretString,
          VersionStages: version.stages,
          CreatedDate: version.createdDate / 1000,
        };
      }
      case 'DescribeSecret': {
        const secret = store.find(input.SecretId);
        return {
          ARN: secret.arn,
          Name: secret.name,
          ...(secret.description ? { Description: secret.description } : {}),
          ...(secret.kmsKeyId ? { KmsKeyId: secret.kmsKeyId } : {}),
          RotationEnabled: false,
          CreatedDate: secret.createdDate / 1000,
          LastChangedDate: Math.max(...secret.versions.map((v) => v.createdDate)) / 1000,
          VersionIdsToStages: Object.fromEntries(secret.versions.map((v) => [v.versionId, v.stages])),
        };
      }
      case 'PutSecretValue': {
        if (typeof input.SecretString !== 'string') {
          throw new SecretsManagerError('InvalidParameterException', 'You must provide either SecretString or SecretBinary (only SecretString is served locally).');
        }
        const secret = store.find(input.SecretId);
        const version = store.putValue(secret.arn, input.SecretString, typeof input.ClientRequestToken === 'string' ? input.ClientRequestToken : undefined);
        return { ARN: secret.arn, Name: secret.name, VersionId: version.versionId, VersionStages: version.stages };
      }
      default:
        throw new SecretsManagerError('UnknownOperationException', `${operation} is not served by the local Secrets Manager (${SECRETS_MANAGER_OPERATIONS.join(', ')})`);
    }
  };
}
