import { CfnOutput, Stack } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AccountId, CURRENCIES, MAX_ABS_AMOUNT } from '../lambdas/shared/payments-model.js';

/**
 * Who may call what on the payments API, and what API Gateway checks before a request reaches a function.
 *
 * Authorization model: every method is AWS_IAM. A caller (a service role, a partner's role in its account) is
 * allowed `execute-api:Invoke` on exactly the method ARNs it needs: `POST /payments` for a producer, and
 * `GET /accounts/<id>` for each account it may read (no wildcard: a reader of account A cannot read B). API Gateway
 * evaluates the policy before the function runs, so the handler never sees an unauthorized read.
 * @see https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-iam-policy-examples-for-api-execution.html
 */

/** Largest body the payment model admits, in bytes, besides JSON whitespace (the handler's own limit is 8 KB). */
export const PAYMENT_MODEL_STRING_LIMITS = { accountId: 64, currency: 3, reference: 140 } as const;

/**
 * Adds the `PaymentRequest` model (JSON Schema draft 4) that the request validator applies to `POST /payments`:
 * the fields, their types and every string's maxLength, no other property. A body of megabytes (under API Gateway's
 * 10 MB, over Lambda's 6 MB) is refused here with a 400 instead of failing the invocation with a 5xx.
 */
export function addPaymentRequestModel(api: apigateway.RestApi): apigateway.Model {
  return api.addModel('PaymentRequest', {
    contentType: 'application/json',
    modelName: 'PaymentRequest',
    description: 'Body of POST /payments',
    schema: {
      schema: apigateway.JsonSchemaVersion.DRAFT4,
      title: 'PaymentRequest',
      type: apigateway.JsonSchemaType.OBJECT,
      required: ['accountId', 'amount', 'currency'],
      additionalProperties: false,
      properties: {
        accountId: {
          type: apigateway.JsonSchemaType.STRING,
          minLength: 1,
          maxLength: PAYMENT_MODEL_STRING_LIMITS.accountId,
          pattern: '^[A-Za-z0-9_-]{1,64}$',
        },
        amount: { type: apigateway.JsonSchemaType.INTEGER, minimum: -MAX_ABS_AMOUNT, maximum: MAX_ABS_AMOUNT },
        currency: { type: apigateway.JsonSchemaType.STRING, maxLength: PAYMENT_MODEL_STRING_LIMITS.currency, enum: [...CURRENCIES] },
        reference: { type: apigateway.JsonSchemaType.STRING, maxLength: PAYMENT_MODEL_STRING_LIMITS.reference },
      },
    },
  });
}

/** Output names added with `-c apiKey=true`. */
export const API_KEY_OUTPUT_NAMES = ['ApiKeyId', 'ApiKeyValueCommand'] as const;

/**
 * Outputs where to get the API key: its id, and the AWS CLI command that prints its value (the value itself is never
 * an output: outputs are readable by anyone who can describe the stack).
 */
export function addApiKeyOutputs(stack: Stack, apiKey: apigateway.IApiKey): void {
  new CfnOutput(stack, 'ApiKeyId', { value: apiKey.keyId, description: 'API key required with the IAM signature (x-api-key)' });
  new CfnOutput(stack, 'ApiKeyValueCommand', {
    value: `aws apigateway get-api-key --api-key ${apiKey.keyId} --include-value --query value --output text`,
    description: 'Prints the API key value; send it as x-api-key (PAYMENTS_API_KEY for local/api-client.ts, npm run pay, the e2e suite)',
  });
}

/**
 * Grants `grantee` the right to send payments: execute-api:Invoke on `POST /payments` of the API's stage.
 */
export function grantCreatePayment(api: apigateway.RestApi, grantee: iam.IGrantable): iam.Grant {
  return iam.Grant.addToPrincipal({ grantee, actions: ['execute-api:Invoke'], resourceArns: [api.arnForExecuteApi('POST', '/payments', api.deploymentStage.stageName)] });
}

/**
 * Grants `grantee` the right to read the listed accounts and no other: execute-api:Invoke on
 * `GET /accounts/<id>` of the API's stage, one ARN per account.
 * @throws RangeError naming an account id that is not a valid path segment (it would widen or break the ARN).
 */
export function grantAccountRead(api: apigateway.RestApi, grantee: iam.IGrantable, accountIds: readonly string[]): iam.Grant {
  if (accountIds.length === 0) throw new RangeError('grantAccountRead needs at least one account id');
  for (const id of accountIds) {
    if (!AccountId.safeParse(id).success) {
      throw new RangeError(`account id "${id}" is not 1-64 characters of A-Z a-z 0-9 _ -; a wildcard or slash would widen the grant`);
    }
  }
  return iam.Grant.addToPrincipal({
    grantee,
    actions: ['execute-api:Invoke'],
    resourceArns: accountIds.map((id) => api.arnForExecuteApi('GET', `/accounts/${id}`, api.deploymentStage.stageName)),
  });
}
