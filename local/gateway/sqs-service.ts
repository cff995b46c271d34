import type { ServerResponse } from 'node:http';
import type { RequiredAuthorization, RequiredAuthorizations } from '../iam/types.js';
import type { TemplatePolicies } from '../iam/template-policies.js';
import { denialMessage, type Authorizer } from './authorizer.js';
import { Upstream, type ForwardOptions } from './proxy.js';
import { messageAttributesError, messageSystemAttributesError } from './sqs-message-rules.js';
import { jsonErrorToQueryXml, jsonToQueryXml, queryToJson, xml } from './sqs-query-protocol.js';
import type { CallOutcome, GatewayError, GatewayErrorKind, GatewayRequest, ServiceHandler, UnauthenticatedRequest } from './types.js';

/** Options of {@link SqsService}. */
export interface SqsServiceOptions {
  /** fauxqs's endpoint. */
  readonly endpoint: string;
  /** Judges calls; undefined = IAM off (everything is forwarded). */
  readonly authorizer?: Authorizer;
  readonly requiredAuthorizations: RequiredAuthorizations;
  /** Queue policies and queue keys. */
  readonly policies: TemplatePolicies;
  readonly region: string;
  readonly accountId: string;
  readonly partition: string;
}

/** SQS's JSON-protocol error (`__type`), query-protocol code (`x-amzn-query-error`) and status per error kind. */
const ERRORS: Record<GatewayErrorKind, { type: string; code: string; status: number }> = {
  MissingAuthenticationToken: { type: 'com.amazon.coral.service#MissingAuthenticationTokenException', code: 'MissingAuthenticationToken', status: 403 },
  IncompleteSignature: { type: 'com.amazon.coral.service#IncompleteSignatureException', code: 'IncompleteSignature', status: 400 },
  UnrecognizedClient: { type: 'com.amazon.coral.service#UnrecognizedClientException', code: 'InvalidClientTokenId', status: 403 },
  InvalidSignature: { type: 'com.amazon.coral.service#InvalidSignatureException', code: 'SignatureDoesNotMatch', status: 403 },
  AccessDenied: { type: 'com.amazon.coral.service#AccessDeniedException', code: 'AccessDenied', status: 403 },
  KmsAccessDenied: { type: 'com.amazonaws.sqs#KmsAccessDenied', code: 'KMS.AccessDeniedException', status: 400 },
  Validation: { type: 'com.amazonaws.sqs#InvalidParameterValue', code: 'InvalidParameterValue', status: 400 },
  UnknownOperation: { type: 'com.amazon.coral.service#UnknownOperationException', code: 'InvalidAction', status: 400 },
};

/** Query-protocol codes of SQS errors whose JSON name differs. */
const QUERY_CODES: Record<string, string> = {
  BatchRequestTooLong: 'AWS.SimpleQueueService.BatchRequestTooLong',
  UnsupportedOperation: 'AWS.SimpleQueueService.UnsupportedOperation',
};

/** AWS's limit on a message and on the sum of a batch's messages (body plus attributes). */
export const SQS_MAX_PAYLOAD_BYTES = 1_048_576;

/**
 * SQS in front of fauxqs, in both protocols SDKs speak: AWS JSON (`X-Amz-Target: AmazonSQS.<Op>`, SDK v3) and the
 * query protocol (`Action=<Op>` form, AWS CLI v1). Each call is authorized with the caller's identity policies and
 * the queue policy (C3); on a queue encrypted with a customer-managed key, sending also needs kms:GenerateDataKey and
 * kms:Decrypt, receiving kms:Decrypt, under the key policy (C4). Queue URLs are answered with the gateway's origin
 * (fauxqs builds them from the Host header, which is forwarded unchanged).
 */
export class SqsService implements ServiceHandler {
  private readonly upstream: Upstream;

  public constructor(private readonly options: SqsServiceOptions) {
    this.upstream = new Upstream(options.endpoint);
  }

  public claims(request: UnauthenticatedRequest): boolean {
    if (String(request.headers['x-amz-target'] ?? '').startsWith('AmazonSQS.')) return true;
    return readQuery(request).has('Action');
  }

  public sendError(request: UnauthenticatedRequest, response: ServerResponse, error: GatewayError): number {
    const { type, code, status } = ERRORS[error.kind];
    const errorCode = error.code ? (QUERY_CODES[error.code] ?? error.code) : code;
    if (request.headers['x-amz-target'] !== undefined) {
      response.writeHead(status, {
        'content-type': 'application/x-amz-json-1.0',
        'x-amzn-requestid': request.requestId,
        'x-amzn-query-error': `${errorCode};Sender`,
      });
      response.end(JSON.stringify({ __type: error.code ? `com.amazonaws.sqs#${error.code}` : type, message: error.message }));
    } else {
      response.writeHead(status, { 'content-type': 'text/xml', 'x-amzn-requestid': request.requestId });
      response.end(
        `<?xml version="1.0"?><ErrorResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><Error><Type>Sender</Type><Code>${xml(errorCode)}</Code><Message>${xml(error.message)}</Message><Detail/></Error><RequestId>${request.requestId}</RequestId></ErrorResponse>`,
      );
    }
    return status;
  }

  public async handle(request: GatewayRequest, response: ServerResponse): Promise<CallOutcome> {
    const parsed = parseSqsRequest(request);
    const { operation } = parsed;
    const fail = (error: GatewayError, decision: 'Deny' | 'Error' = 'Error', checks: CallOutcome['checks'] = []): CallOutcome => ({
      service: 'sqs',
      operation,
      checks,
      decision,
      status: this.sendError(request, response, error),
    });
    if (!operation) return fail({ kind: 'UnknownOperation', message: 'no SQS operation: send X-Amz-Target AmazonSQS.<Operation> or Action=<Operation>' });
    const queueArnForUrl = (url: string) => queueArnFromUrl(url, this.options);
    const queueUrl = typeof parsed.input.QueueUrl === 'string' ? parsed.input.QueueUrl : '';
    const fifo = (queueArnForUrl(queueUrl) ?? queueUrl).endsWith('.fifo');
    const invalid = validate(operation, parsed.input, fifo);
    if (invalid) return fail(invalid);
    const failed = failedEntries(operation, parsed.input, fifo);
    const { authorizer } = this.options;
    if (!authorizer) return { service: 'sqs', operation, checks: [], decision: 'Allow', status: await this.send(parsed, failed, request, response) };
    let required: RequiredAuthorization[];
    try {
      required = this.options.requiredAuthorizations('sqs', operation, parsed.input, {
        region: this.options.region,
        accountId: this.options.accountId,
        partition: this.options.partition,
        queueArnForUrl,
      });
    } catch (error) {
      return fail({ kind: 'Validation', message: `local IAM cannot authorize sqs ${operation}: ${(error as Error).message}` });
    }
    const { checks, denied } = authorizer.authorize(request.principal, required);
    if (denied) return fail({ kind: 'AccessDenied', message: denialMessage(denied, true) }, 'Deny', checks);
    // C4: SSE-KMS with a key of the template.
    const kmsActions = KMS_ACTIONS[operation.replace(/Batch$/, '')];
    const queueArn = required.find((r) => r.action.toLowerCase().startsWith('sqs:'))?.resource;
    const keyArn = queueArn ? this.options.policies.queueKeys.get(queueArn) : undefined;
    if (kmsActions && keyArn) {
      const kms = authorizer.authorize(
        request.principal,
        kmsActions.map((action) => ({ action, resource: keyArn })),
        { 'kms:ViaService': `sqs.${this.options.region}.amazonaws.com`, 'kms:CallerAccount': this.options.accountId, 'kms:EncryptionContext:aws:sqs:arn': queueArn! },
      );
      checks.push(...kms.checks);
      if (kms.denied) return fail({ kind: 'KmsAccessDenied', message: denialMessage(kms.denied) }, 'Deny', checks);
    }
    return { service: 'sqs', operation, checks, decision: 'Allow', status: await this.send(parsed, failed, request, response) };
  }

  /**
   * Forwards an authorized call to fauxqs. A SendMessageBatch with entries SQS fails one by one sends only the others
   * and answers the failed ones under `Failed` (all failed: answered here, HTTP 200, as SQS does).
   */
  private async send(parsed: ParsedSqsRequest, failed: readonly FailedEntry[], request: GatewayRequest, response: ServerResponse): Promise<number> {
    if (failed.length === 0) return this.upstream.forward(request, response, this.forwardOptions(parsed, request));
    const failedIds = new Set(failed.map((entry) => entry.Id));
    const entries = (parsed.input.Entries as Record<string, unknown>[]).filter((entry) => !failedIds.has(entry.Id as string));
    if (entries.length === 0) {
      const output = { Successful: [], Failed: failed };
      const body = parsed.query ? jsonToQueryXml(parsed.operation, output, request.requestId) : JSON.stringify(output);
      response.writeHead(200, { 'content-type': parsed.query ? 'text/xml' : 'application/x-amz-json-1.0', 'x-amzn-requestid': request.requestId });
      response.end(body);
      return 200;
    }
    const options = this.forwardOptions({ ...parsed, input: { ...parsed.input, Entries: entries } }, request);
    const addFailed = (body: Buffer, status: number): Buffer => {
      if (status >= 300) return body;
      const output = JSON.parse(body.toString('utf8')) as { Failed?: unknown[] };
      return Buffer.from(JSON.stringify({ ...output, Failed: [...(output.Failed ?? []), ...failed] }));
    };
    return this.upstream.forward(request, response, {
      ...options,
      // fauxqs speaks JSON: the request is the JSON of the remaining entries in both protocols.
      body: Buffer.from(JSON.stringify({ ...parsed.input, Entries: entries })),
      headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': `AmazonSQS.${parsed.operation}` },
      rewrite: (body, status, headers) => (options.rewrite ? options.rewrite(addFailed(body, status), status, headers) : { body: addFailed(body, status) }),
    });
  }

  /** Queue URLs in answers point at the origin the client used (fauxqs answers `http://sqs.<region>.localhost:<port>`). */
  private forwardOptions(parsed: ParsedSqsRequest, request: GatewayRequest): ForwardOptions {
    const { operation } = parsed;
    const fixUrls = QUEUE_URL_ANSWERS.has(operation)
      ? (text: string) => text.replace(/https?:\/\/sqs\.[^/"<\s]+\/(\d{12})\//g, `${request.origin}/$1/`)
      : (text: string) => text;
    if (!parsed.query) return QUEUE_URL_ANSWERS.has(operation) ? { rewrite: (body) => ({ body: Buffer.from(fixUrls(body.toString('utf8'))) }) } : {};
    // fauxqs speaks JSON only: translate the query request and the answer.
    return {
      body: Buffer.from(JSON.stringify(parsed.input)),
      headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': `AmazonSQS.${operation}` },
      rewrite: (body, status, headers) => {
        let output: Record<string, unknown> = {};
        try {
          output = body.length ? (JSON.parse(fixUrls(body.toString('utf8'))) as Record<string, unknown>) : {};
        } catch {
          output = { message: body.toString('utf8') };
        }
        const queryError = headers['x-amzn-query-error'];
        const xmlBody = status < 300 ? jsonToQueryXml(operation, output, request.requestId) : jsonErrorToQueryXml(output, Array.isArray(queryError) ? queryError[0] : queryError, request.requestId);
        return { body: Buffer.from(xmlBody), contentType: 'text/xml' };
      },
    };
  }

  /** Closes idle connections to fauxqs. */
  public close(): void {
    this.upstream.close();
  }
}

/** Operations whose answers hold queue URLs. */
const QUEUE_URL_ANSWERS = new Set(['CreateQueue', 'GetQueueUrl', 'ListQueues', 'ListDeadLetterSourceQueues']);

/**
 * KMS actions an SQS operation needs on a queue's customer-managed key (C4), by operation without its `Batch` suffix.
 * The least-privilege test (`test/infra/least-privilege.ts`) reads it too, so the two cannot disagree.
 */
export const KMS_ACTIONS: Record<string, readonly string[]> = {
  SendMessage: ['kms:GenerateDataKey', 'kms:Decrypt'],
  ReceiveMessage: ['kms:Decrypt'],
};

/** An SQS call: its operation, its input in the JSON shape, and whether it came in the query protocol. */
export interface ParsedSqsRequest {
  readonly operation: string;
  readonly input: Record<string, unknown>;
  readonly query: boolean;
}

/** The operation and its input (JSON body, or the query protocol's parameters turned into the JSON shape). */
export function parseSqsRequest(request: GatewayRequest): ParsedSqsRequest {
  const target = String(request.headers['x-amz-target'] ?? '');
  if (target.startsWith('AmazonSQS.')) {
    let input: Record<string, unknown> = {};
    try {
      input = request.body.length ? (JSON.parse(request.body.toString('utf8')) as Record<string, unknown>) : {};
    } catch {
      input = {};
    }
    return { operation: target.slice('AmazonSQS.'.length), input, query: false };
  }
  const params = readQuery(request);
  const operation = params.get('Action') ?? '';
  const input = queryToJson(operation, params);
  // The CLI posts to the queue URL itself and may leave QueueUrl out.
  if (input.QueueUrl === undefined && /^\/\d{12}\/[^/]+$/.test(request.path)) input.QueueUrl = `${request.origin}${request.path}`;
  return { operation, input, query: true };
}

function readQuery(request: { body: Buffer; query: URLSearchParams }): URLSearchParams {
  if (request.query.has('Action')) return request.query;
  const text = request.body.length && request.body.length < 2_000_000 ? request.body.toString('utf8') : '';
  return text.includes('Action=') ? new URLSearchParams(text) : request.query;
}

/** Queue ARN of a queue URL (`…/<account>/<name>`); the region comes from an `sqs.<region>.` host, else the local one. */
export function queueArnFromUrl(url: string, context: { region: string; partition: string }): string | undefined {
  const match = /^https?:\/\/([^/]+)\/(\d{12})\/([^/?#]+)\/?$/.exec(url);
  if (!match) return undefined;
  const region = /^sqs\.([a-z0-9-]+)\./.exec(match[1]!)?.[1] ?? context.region;
  return `arn:${context.partition}:sqs:${region}:${match[2]}:${match[3]}`;
}

/** A SendMessageBatch entry SQS refuses on its own (the call succeeds; the entry is listed under `Failed`). */
interface FailedEntry {
  readonly Id: string;
  readonly SenderFault: true;
  readonly Code: string;
  readonly Message: string;
}

/** What AWS refuses and fauxqs accepts (fauxqs already checks batch entry ids, batch sizes, message size, FIFO delay). */
function validate(operation: string, input: Record<string, unknown>, fifo: boolean): GatewayError | undefined {
  if (operation === 'SendMessage') {
    if (!fifo && input.MessageDeduplicationId !== undefined) {
      return { kind: 'Validation', message: `${NOT_FOR_QUEUE_TYPE} (MessageDeduplicationId is for FIFO queues only)` };
    }
    const attributes = messageAttributesError(input.MessageAttributes) ?? messageSystemAttributesError(input.MessageSystemAttributes);
    if (attributes) return attributes.code === 'InvalidParameterValue' ? { kind: 'Validation', message: attributes.message } : { kind: 'Validation', code: attributes.code, message: attributes.message };
    return undefined;
  }
  if (operation === 'SendMessageBatch') {
    const messages = Array.isArray(input.Entries) ? (input.Entries as Record<string, unknown>[]) : [];
    const total = messages.reduce((sum, m) => sum + messageSize(m), 0);
    if (total > SQS_MAX_PAYLOAD_BYTES) {
      return {
        kind: 'Validation',
        code: 'BatchRequestTooLong',
        message: `Batch requests cannot be longer than ${SQS_MAX_PAYLOAD_BYTES} bytes. You have sent ${total} bytes.`,
      };
    }
  }
  return undefined;
}

const NOT_FOR_QUEUE_TYPE = 'The request include parameter that is not valid for this queue type';

/**
 * The entries of a SendMessageBatch that SQS fails one by one (HTTP 200, each under `Failed` with SenderFault true,
 * the others sent): bad message (or system) attributes, a MessageDeduplicationId on a standard queue. Only for a well-formed batch
 * (1 to 10 entries, valid distinct ids): otherwise fauxqs answers the batch error for the whole call, as SQS does.
 */
function failedEntries(operation: string, input: Record<string, unknown>, fifo: boolean): FailedEntry[] {
  if (operation !== 'SendMessageBatch' || !Array.isArray(input.Entries)) return [];
  const entries = input.Entries as Record<string, unknown>[];
  const ids = entries.map((entry) => entry?.Id);
  const wellFormed =
    entries.length >= 1 && entries.length <= 10 && ids.every((id) => typeof id === 'string' && /^[A-Za-z0-9_-]{1,80}$/.test(id)) && new Set(ids).size === ids.length;
  if (!wellFormed) return [];
  const failed: FailedEntry[] = [];
  for (const entry of entries) {
    const error: { code: string; message: string } | undefined =
      !fifo && entry.MessageDeduplicationId !== undefined
        ? { code: 'InvalidParameterValue', message: NOT_FOR_QUEUE_TYPE }
        : (messageAttributesError(entry.MessageAttributes) ?? messageSystemAttributesError(entry.MessageSystemAttributes));
    if (error) failed.push({ Id: entry.Id as string, SenderFault: true, Code: error.code, Message: error.message });
  }
  return failed;
}

/** Body plus attribute names, types and values, as SQS counts a message's size. */
function messageSize(message: Record<string, unknown>): number {
  let size = Buffer.byteLength(String(message.MessageBody ?? ''));
  const attributes = (message.MessageAttributes ?? {}) as Record<string, { DataType?: string; StringValue?: string; BinaryValue?: string }>;
  for (const [name, value] of Object.entries(attributes)) {
    size += Buffer.byteLength(name) + Buffer.byteLength(value.DataType ?? '') + Buffer.byteLength(value.StringValue ?? '') + (value.BinaryValue ? Buffer.from(value.BinaryValue, 'base64').length : 0);
  }
  return size;
}
