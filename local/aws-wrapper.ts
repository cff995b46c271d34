import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Writes `<outDir>/aws`: the AWS CLI pointed at the local stack. AWS CLI v2 reads `AWS_ENDPOINT_URL_<SERVICE>` from
 * `.local/env`; AWS CLI v1 ignores those variables and would call the real AWS endpoints, so the wrapper passes
 * `--endpoint-url` for the service named first (sqs, dynamodb, dynamodbstreams, secretsmanager) with either version.
 *
 *   .local/aws sqs receive-message --queue-url "$(jq -r '.[].EventsDlqUrl' .local/outputs.json)"
 *   .local/aws secretsmanager get-secret-value --secret-id "$(jq -r '.[].WebhookSigningSecretArn' .local/outputs.json)"
 * @returns the wrapper's path.
 */
export function writeAwsWrapper(outDir: string): string {
  const file = join(outDir, 'aws');
  writeFileSync(
    file,
    `#!/bin/sh
# The AWS CLI against the local stack (written by npm start). AWS CLI v1 ignores AWS_ENDPOINT_URL_<SERVICE>,
# so the endpoint of the service named first is passed as --endpoint-url.
set -a
. "$(dirname "$0")/env"
set +a
case "$1" in
  sqs) url="$AWS_ENDPOINT_URL_SQS" ;;
  dynamodb) url="$AWS_ENDPOINT_URL_DYNAMODB" ;;
  dynamodbstreams) url="$AWS_ENDPOINT_URL_DYNAMODB_STREAMS" ;;
  secretsmanager) url="$AWS_ENDPOINT_URL_SECRETS_MANAGER" ;;
  *) url="" ;;
esac
if [ -n "$url" ]; then exec aws "$@" --endpoint-url "$url"; else exec aws "$@"; fi
`,
  );
  chmodSync(file, 0o755);
  return file;
}
