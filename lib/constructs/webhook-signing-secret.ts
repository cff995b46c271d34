import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { ENV } from '../../lambdas/shared/env.js';

/** Props of {@link WebhookSigningSecret}. */
export interface WebhookSigningSecretProps {
  /**
   * Customer-managed key that encrypts the secret; readers also get kms:Decrypt on it.
   * @default - the account's AWS-managed key for Secrets Manager (aws/secretsmanager)
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Removal policy of the secret (receivers hold its value: deleting it breaks their verification).
   * @default RemovalPolicy.DESTROY
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The Standard Webhooks signing secret, in Secrets Manager. Its generated value is 32 characters of A-Z a-z 0-9: valid
 * base64 for a 24-byte key, the body of a `whsec_<base64>` secret (`standardwebhooks` accepts it with or without the
 * prefix). The value may hold several whitespace-separated keys: the notifier signs with each, which is how a rotation
 * keeps old and new receivers verifying (see README, "Rotating the signing secret").
 * @see https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetRandomPassword.html
 */
export class WebhookSigningSecret extends Construct {
  /** The secret. */
  readonly secret: secretsmanager.Secret;
  readonly #key?: kms.IKey;

  constructor(scope: Construct, id: string, props: WebhookSigningSecretProps = {}) {
    super(scope, id);
    this.#key = props.encryptionKey;
    this.secret = new secretsmanager.Secret(this, 'Secret', {
      description: 'Standard Webhooks signing key(s) of the payments notifier: whsec_<base64> or base64, space-separated during a rotation',
      encryptionKey: props.encryptionKey,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.DESTROY,
      generateSecretString: { passwordLength: 32, excludePunctuation: true, includeSpace: false, requireEachIncludedType: true },
    });
    Validations.of(this.secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'Receivers hold a copy of this key: rotation is a coordinated change (new key added beside the old one, receivers ' +
        'switch, old key removed), documented in the README, not a scheduled Lambda rotation that would break them.',
    });
  }

  /**
   * Lets `fn` sign with the secret: secretsmanager:GetSecretValue on this secret only (and kms:Decrypt on its
   * customer-managed key, when it has one), and the secret's ARN — never its value — in `WEBHOOK_SECRET_ARN`.
   */
  grantSign(fn: lambda.Function): void {
    iam.Grant.addToPrincipal({ grantee: fn, actions: ['secretsmanager:GetSecretValue'], resourceArns: [this.secret.secretArn] });
    this.#key?.grant(fn, 'kms:Decrypt');
    fn.addEnvironment(ENV.WEBHOOK_SECRET_ARN, this.secret.secretArn);
  }
}
