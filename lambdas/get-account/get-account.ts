import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { errorResponse, jsonResponse } from '../shared/http.js';
import type { Observability } from '../shared/observability.js';
import { AccountId } from '../shared/payments-model.js';
import { readAccount } from '../ledger/ledger.js';

/** The read model `GET /accounts/{accountId}` returns. */
export interface AccountView {
  readonly accountId: string;
  readonly balance: number;
  /** Null until the account's first applied payment sets it. */
  readonly currency: string | null;
  readonly applied: number;
  readonly rejected: number;
}

/** Ports of the `GET /accounts/{accountId}` handler. */
export interface GetAccountDeps {
  readonly client: () => DynamoDBClient;
  readonly tableName: string;
  readonly observability: Observability;
}

/** Builds `GET /accounts/{accountId}`: 200 with the account view, 404 when unknown, 400 for an invalid id. */
export function getAccountHandler(deps: GetAccountDeps) {
  const { logger } = deps.observability;
  return async (event: APIGatewayProxyEvent, context?: Context): Promise<APIGatewayProxyResult> => {
    const requestId = event.requestContext?.requestId ?? context?.awsRequestId;
    const raw = event.pathParameters?.accountId;
    const parsed = AccountId.safeParse(raw);
    if (!parsed.success) {
      return errorResponse(400, 'InvalidAccountId', parsed.error.issues[0]?.message ?? 'accountId is invalid', { requestId });
    }
    try {
      const account = await readAccount(deps.client(), deps.tableName, parsed.data);
      if (!account.exists) {
        return errorResponse(404, 'AccountNotFound', `No account ${parsed.data}: it has received no payment yet`, { requestId });
      }
      const view: AccountView = {
        accountId: account.accountId,
        balance: account.balance,
        currency: account.currency ?? null,
        applied: account.applied,
        rejected: account.rejected,
      };
      return jsonResponse(200, view);
    } catch (error) {
      logger.error('Unexpected error while reading an account', { error: error as Error, requestId });
      return errorResponse(500, 'InternalError', 'The account could not be read; retry later', { requestId });
    }
  };
}
