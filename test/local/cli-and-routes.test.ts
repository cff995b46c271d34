import { describe, expect, it } from 'vitest';
import type { Route } from '../../local/api/rest-api-definitions.js';
import { matchRoute } from '../../local/api/rest-api-server.js';
import { parseCliArgs } from '../../local/cli-args.js';

describe('parseCliArgs (npm start flags)', () => {
  it('parses app, assembly, repeated CDK-style context, ports, out dir and quiet', () => {
    // Act
    const { command, options } = parseCliArgs([
      'start', '--app', 'npx tsx bin/app.ts', '-c', 'stage=prod', '--context', 'webhookUrl=http://x/y?a=b', '--assembly=cdk.out',
      '--api-port', '0', '--dynamodb-port', '8001', '--sqs-port=4567', '--out-dir', '.tmp', '--quiet',
    ]);
    // Assess
    expect(command).toBe('start');
    expect(options).toMatchObject({
      app: 'npx tsx bin/app.ts',
      assembly: 'cdk.out',
      context: { stage: 'prod', webhookUrl: 'http://x/y?a=b' },
      ports: { api: 0, dynamodb: 8001, sqs: 4567 },
      outDir: '.tmp',
      quiet: true,
    });
  });

  it('defaults to the start command with no options', () => {
    expect(parseCliArgs([])).toEqual({ command: 'start', options: { context: {}, ports: {} } });
  });

  it('rejects a context value without key=value, a bad port and an unknown flag', () => {
    expect(() => parseCliArgs(['-c', 'stage'])).toThrow(/-c expects key=value, got "stage"/);
    expect(() => parseCliArgs(['--api-port', '70000'])).toThrow(/--api-port must be a port number 0–65535, got "70000"/);
    expect(() => parseCliArgs(['--bogus'])).toThrow(/unknown option "--bogus"/);
  });
});

const proxy = { type: 'AWS_PROXY', functionArn: 'arn' } as const;
const route = (httpMethod: string, resourcePath: string): Route => ({ httpMethod, resourcePath, resourceId: resourcePath, authorizationType: 'NONE', integration: proxy });

describe('matchRoute (API Gateway REST resource matching)', () => {
  const routes = [
    route('GET', '/accounts/{accountId}'),
    route('GET', '/accounts/me'),
    route('POST', '/payments'),
    route('ANY', '/payments'),
    route('ANY', '/files/{proxy+}'),
    route('GET', '/'),
  ];

  it('prefers a literal segment over a path parameter, and a method over ANY', () => {
    expect(matchRoute(routes, 'GET', '/accounts/me')?.route.resourcePath).toBe('/accounts/me');
    expect(matchRoute(routes, 'GET', '/accounts/a-1')).toMatchObject({ route: { resourcePath: '/accounts/{accountId}' }, pathParameters: { accountId: 'a-1' } });
    expect(matchRoute(routes, 'POST', '/payments')?.route.httpMethod).toBe('POST');
    expect(matchRoute(routes, 'DELETE', '/payments')?.route.httpMethod).toBe('ANY');
  });

  it('matches a greedy {proxy+} over one or more segments, and the root', () => {
    expect(matchRoute(routes, 'PUT', '/files/a/b/c')?.pathParameters).toEqual({ proxy: 'a/b/c' });
    expect(matchRoute(routes, 'GET', '/')?.route.resourcePath).toBe('/');
  });

  it('rejects unknown paths, methods and a greedy path with no segment', () => {
    expect(matchRoute(routes, 'GET', '/nope')).toBeUndefined();
    expect(matchRoute(routes, 'DELETE', '/accounts/a-1')).toBeUndefined();
    expect(matchRoute(routes, 'GET', '/files')).toBeUndefined();
    expect(matchRoute(routes, 'GET', '/accounts/a/extra')).toBeUndefined();
  });
});
