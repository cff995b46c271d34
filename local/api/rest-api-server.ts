import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LOCAL_ACCOUNT_ID } from '../constants.js';
import type { Authorizer } from '../gateway/authorizer.js';
import { SIGNATURE_MESSAGES } from '../gateway/gateway.js';
import { parseAuthorization, verifySignature } from '../gateway/sigv4.js';
import { LOCAL_CALLER_NAME, type LocalPrincipal, type PrincipalRegistry } from '../iam/principals.js';
import type { FunctionInvoker } from '../lambda/types.js';
import type { RestApiDefinition, Route } from './rest-api-definitions.js';

/** Options for {@link startRestApiServer}. */
export interface RestApiServerOptions {
  readonly api: RestApiDefinition;
  /** 0 picks a free port. */
  readonly port: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** Looks up the function of a Lambda proxy integration by its ARN. */
  readonly invoker: (functionArn: string) => FunctionInvoker | undefined;
  /**
   * IAM authorization of AWS_IAM methods: SigV4 verified with the local principals' keys, execute-api:Invoke
   * authorized on the method ARN (C6). @default - not verified: signed or unsigned requests are accepted
   */
  readonly iam?: {
    readonly principals: PrincipalRegistry;
    readonly authorizer: Authorizer;
    readonly region: string;
    readonly accountId: string;
    readonly partition: string;
  };
}

/** A running local REST API. */
export interface RestApiServer {
  readonly port: number;
  /** Base URL including the stage, with a trailing slash, like the deployed `https://…/prod/`. */
  readonly url: string;
  close(): Promise<void>;
}

const FORBIDDEN = { statusCode: 403, body: { message: 'Missing Authentication Token' } };
const BAD_GATEWAY = { statusCode: 502, body: { message: 'Internal server error' } };

/**
 * Serves an API Gateway REST API on localhost at `/<stage>/<path>` like its deployed URL: Lambda proxy
 * integrations get the REST proxy event and their `{statusCode, headers, body}` response is mapped back.
 * With `iam`, AWS_IAM methods verify the SigV4 signature and authorize execute-api:Invoke on the method ARN, with
 * API Gateway's 403 answers (C6); without it, signatures are not verified.
 * Unknown routes answer 403 `{"message":"Missing Authentication Token"}` as on AWS; a function error or a malformed
 * response answers 502 `{"message":"Internal server error"}`.
 *
 * @see https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html
 */
export async function startRestApiServer(options: RestApiServerOptions): Promise<RestApiServer> {
  const host = options.host ?? '127.0.0.1';
  const server = createServer((request, response) => {
    handle(options, request, response).catch((error: unknown) => {
      send(response, 500, { 'content-type': 'application/json' }, JSON.stringify({ message: 'Internal server error' }));
      process.stderr.write(`local API: ${(error as Error).stack ?? String(error)}\n`);
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://${host}:${port}/${options.api.stageName}/`,
    close: () => closeServer(server),
  };
}

async function handle(options: RestApiServerOptions, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const { api } = options;
  const url = new URL(request.url ?? '/', 'http://local');
  const body = await readBody(request);
  const segments = url.pathname.split('/').filter(Boolean);
  const requestId = randomUUID();
  const baseHeaders = { 'content-type': 'application/json', 'x-amzn-requestid': requestId };
  if (segments[0] !== api.stageName) return json(response, FORBIDDEN, baseHeaders);
  const path = `/${segments.slice(1).map(decodeURIComponent).join('/')}`;
  const method = (request.method ?? 'GET').toUpperCase();
  const match = matchRoute(api.routes, method, path);
  if (!match) return json(response, FORBIDDEN, baseHeaders);
  const { route, pathParameters } = match;
  let caller: LocalPrincipal | undefined;
  if (options.iam && route.authorizationType === 'AWS_IAM') {
    const methodArn = `arn:${options.iam.partition}:execute-api:${options.iam.region}:${options.iam.accountId}:${api.apiId}/${api.stageName}/${method}${path}`;
    const verdict = await authorizeIam(options.iam, request, url, body, methodArn);
    if ('denied' in verdict) {
      return send(response, 403, { ...baseHeaders, 'x-amzn-errortype': verdict.errorType }, JSON.stringify({ message: verdict.denied }));
    }
    caller = verdict.principal;
  }
  if (route.integration.type === 'MOCK') {
    return send(response, route.integration.statusCode, { ...baseHeaders, ...route.integration.headers }, '');
  }
  const invoker = options.invoker(route.integration.functionArn);
  if (!invoker) return json(response, BAD_GATEWAY, baseHeaders);
  const event = proxyEvent({ api, route, request, url, path, pathParameters, body, requestId, caller });
  const result = await invoker.invoke(event);
  if (!result.ok) return json(response, BAD_GATEWAY, baseHeaders);
  const payload = result.payload as { statusCode?: unknown; headers?: Record<string, unknown>; multiValueHeaders?: Record<string, unknown[]>; body?: unknown; isBase64Encoded?: boolean } | null;
  if (!payload || typeof payload !== 'object' || !Number.isInteger(Number(payload.statusCode))) {
    return json(response, BAD_GATEWAY, baseHeaders);
  }
  const headers: Record<string, string | string[]> = { ...baseHeaders };
  for (const [key, value] of Object.entries(payload.headers ?? {})) headers[key.toLowerCase()] = String(value);
  for (const [key, values] of Object.entries(payload.multiValueHeaders ?? {})) headers[key.toLowerCase()] = values.map(String);
  const raw = payload.body === undefined || payload.body === null ? '' : String(payload.body);
  send(response, Number(payload.statusCode), headers, payload.isBase64Encoded ? Buffer.from(raw, 'base64') : raw);
}

/** Finds the route for a method and path: literal segments beat `{param}`, which beats `{proxy+}`; a method beats ANY. */
export function matchRoute(routes: readonly Route[], method: string, path: string): { route: Route; pathParameters: Record<string, string> } | undefined {
  const parts = path.split('/').filter(Boolean);
  let best: { route: Route; pathParameters: Record<string, string>; score: number } | undefined;
  for (const route of routes) {
    if (route.httpMethod !== method && route.httpMethod !== 'ANY') continue;
    const template = route.resourcePath.split('/').filter(Boolean);
    const pathParameters: Record<string, string> = {};
    let score = route.httpMethod === 'ANY' ? 0 : 1;
    let matched = true;
    for (let i = 0; i < template.length; i++) {
      const segment = template[i]!;
      const greedy = /^\{(.+)\+\}$/.exec(segment);
      if (greedy) {
        if (i >= parts.length) matched = false;
        else pathParameters[greedy[1]!] = parts.slice(i).join('/');
        score += 1;
        break;
      }
      if (i >= parts.length) {
        matched = false;
        break;
      }
      const param = /^\{(.+)\}$/.exec(segment);
      if (param) {
        pathParameters[param[1]!] = parts[i]!;
        score += 10;
      } else if (segment === parts[i]) score += 100;
      else {
        matched = false;
        break;
      }
    }
    const last = template[template.length - 1];
    const greedyEnd = last !== undefined && /\+\}$/.test(last);
    if (!greedyEnd && template.length !== parts.length) matched = false;
    if (matched && (!best || score > best.score)) best = { route, pathParameters, score };
  }
  return best && { route: best.route, pathParameters: best.pathParameters };
}

interface ProxyEventInput {
  readonly api: RestApiDefinition;
  readonly route: Route;
  readonly request: IncomingMessage;
  readonly url: URL;
  readonly path: string;
  readonly pathParameters: Record<string, string>;
  readonly body: Buffer;
  readonly requestId: string;
  /** The verified caller of an AWS_IAM method. */
  readonly caller?: LocalPrincipal;
}

/** The API Gateway REST (v1) Lambda proxy event. */
function proxyEvent({ api, route, request, url, path, pathParameters, body, requestId, caller }: ProxyEventInput) {
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (let i = 0; i < request.rawHeaders.length; i += 2) {
    const name = request.rawHeaders[i]!;
    const value = request.rawHeaders[i + 1]!;
    headers[name] = value;
    (multiValueHeaders[name] ??= []).push(value);
  }
  const query: Record<string, string> = {};
  const multiQuery: Record<string, string[]> = {};
  for (const [key, value] of url.searchParams) {
    query[key] = value;
    (multiQuery[key] ??= []).push(value);
  }
  const hasQuery = Object.keys(query).length > 0;
  const accessKey = /Credential=([^/,\s]+)/.exec(request.headers.authorization ?? '')?.[1] ?? null;
  const now = Date.now();
  const method = (request.method ?? 'GET').toUpperCase();
  return {
    resource: route.resourcePath,
    path,
    httpMethod: method,
    headers,
    multiValueHeaders,
    queryStringParameters: hasQuery ? query : null,
    multiValueQueryStringParameters: hasQuery ? multiQuery : null,
    pathParameters: Object.keys(pathParameters).length ? pathParameters : null,
    stageVariables: null,
    requestContext: {
      accountId: LOCAL_ACCOUNT_ID,
      apiId: api.apiId,
      resourceId: route.resourceId,
      resourcePath: route.resourcePath,
      httpMethod: method,
      path: `/${api.stageName}${path}`,
      stage: api.stageName,
      requestId,
      extendedRequestId: requestId,
      requestTime: new Date(now).toUTCString(),
      requestTimeEpoch: now,
      protocol: `HTTP/${request.httpVersion}`,
      domainName: request.headers.host ?? 'localhost',
      identity: {
        sourceIp: request.socket.remoteAddress ?? '127.0.0.1',
        userAgent: request.headers['user-agent'] ?? null,
        // IAM auth: the caller's access key from the SigV4 header (verified when the runtime enforces IAM).
        accessKey,
        caller: accessKey,
        user: accessKey,
        // With IAM off the signature is not verified: the caller is still reported as the local caller.
        userArn: caller ? caller.displayArn : accessKey ? `arn:aws:iam::${LOCAL_ACCOUNT_ID}:user/${LOCAL_CALLER_NAME}` : null,
        accountId: accessKey ? LOCAL_ACCOUNT_ID : null,
        cognitoIdentityPoolId: null,
        cognitoIdentityId: null,
        cognitoAuthenticationType: null,
        cognitoAuthenticationProvider: null,
        apiKey: null,
        principalOrgId: null,
      },
      authorizer: null,
    },
    body: body.length ? body.toString('utf8') : null,
    isBase64Encoded: false,
  };
}

/**
 * API Gateway's IAM authorization of one request: a SigV4 signature for `execute-api` made with a key the runtime
 * knows, and execute-api:Invoke allowed on the method ARN.
 */
async function authorizeIam(
  iam: NonNullable<RestApiServerOptions['iam']>,
  request: IncomingMessage,
  url: URL,
  body: Buffer,
  methodArn: string,
): Promise<{ principal: LocalPrincipal } | { denied: string; errorType: string }> {
  const auth = parseAuthorization(request.headers.authorization);
  if (auth === undefined) return { denied: 'Missing Authentication Token', errorType: 'MissingAuthenticationTokenException' };
  if (auth === 'malformed') return { denied: SIGNATURE_MESSAGES.incomplete, errorType: 'IncompleteSignatureException' };
  const lookup = iam.principals.resolve(auth.accessKeyId);
  if (!lookup.known) return { denied: SIGNATURE_MESSAGES.unrecognized, errorType: 'UnrecognizedClientException' };
  const { principal } = lookup;
  if (principal.secretAccessKey !== undefined) {
    const signed = { method: request.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: request.headers, body };
    if (auth.service !== 'execute-api' || !(await verifySignature(signed, auth, principal.secretAccessKey))) {
      return { denied: SIGNATURE_MESSAGES.signature, errorType: 'InvalidSignatureException' };
    }
  }
  const check = iam.authorizer.check(principal, { action: 'execute-api:Invoke', resource: methodArn });
  if (check.decision.decision === 'Allow') return { principal };
  // API Gateway's wording has no "because …" for an implicit deny.
  const explicit = check.decision.decision === 'ExplicitDeny' ? ' with an explicit deny' : '';
  return { denied: `User: ${principal.displayArn} is not authorized to perform: execute-api:Invoke on resource: ${methodArn}${explicit}`, errorType: 'AccessDeniedException' };
}

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

function json(response: ServerResponse, answer: { statusCode: number; body: unknown }, headers: Record<string, string>): void {
  send(response, answer.statusCode, headers, JSON.stringify(answer.body));
}

function send(response: ServerResponse, statusCode: number, headers: Record<string, string | string[]>, body: string | Buffer): void {
  response.writeHead(statusCode, headers);
  response.end(body);
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
