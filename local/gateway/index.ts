/**
 * The local runtime's edge endpoint: SigV4 authentication, IAM authorization and routing of every AWS call to its
 * emulator. Mount another service (Secrets Manager…) with `gateway.registerService('<scope name>', handler)`: the
 * handler gets authenticated requests (`request.principal`) and judges them with the shared {@link Authorizer}.
 */
export { Authorizer, denialMessage, type AuthorizationCheck, type AuthorizationListener, type AuthorizerOptions } from './authorizer.js';
export { DynamoDbService, type DynamoDbServiceOptions } from './dynamodb-service.js';
export { GatewaySetupError } from './errors.js';
export { Gateway, SIGNATURE_MESSAGES, type GatewayOptions } from './gateway.js';
export { startLocalGateway, type LocalGateway, type LocalGatewayOptions } from './local-gateway.js';
export { Upstream, type ForwardOptions } from './proxy.js';
export { parseAuthorization, verifySignature, type ParsedAuthorization, type SignedRequest } from './sigv4.js';
export { SqsService, queueArnFromUrl, SQS_MAX_PAYLOAD_BYTES, type SqsServiceOptions } from './sqs-service.js';
export type { CallOutcome, GatewayCall, GatewayError, GatewayErrorKind, GatewayRequest, ServiceHandler, UnauthenticatedRequest } from './types.js';
