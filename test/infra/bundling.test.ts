import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, describe, expect, it } from 'vitest';
import { HandlerFunction } from '../../lib/constructs/handler-function.js';

const outdir = mkdtempSync(path.join(tmpdir(), 'infra-bundle-'));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

describe('bundling', () => {
  it('bundles a real handler with the local esbuild (no Docker) into an ESM file that Node 24 loads', () => {
    // GIVEN an app that really bundles (no bundling-stacks override), with Docker unreachable
    const previousDocker = process.env.CDK_DOCKER;
    process.env.CDK_DOCKER = '/nonexistent/docker';
    try {
      const app = new App({ outdir, context: { 'aws:cdk:enable-asset-metadata': true } });
      const stack = new Stack(app, 'Bundled');
      new HandlerFunction(stack, 'GetAccount', {
        entry: path.resolve('lambdas/get-account/handler.ts'),
      });
      // WHEN
      const template = Template.fromStack(stack);
      app.synth();
      // THEN the function points at an asset folder holding index.mjs (ESM) with the require shim
      const [fn] = Object.values(template.findResources('AWS::Lambda::Function'));
      expect(fn.Properties.Handler).toBe('index.handler');
      const assetPath: string = fn.Metadata['aws:asset:path'];
      const bundle = path.join(outdir, assetPath, 'index.mjs');
      expect(existsSync(bundle)).toBe(true);
      expect(existsSync(`${bundle}.map`)).toBe(true);
      const code = readFileSync(bundle, 'utf8');
      expect(code.startsWith("import { createRequire as __cr } from 'node:module'")).toBe(true);
      // the SDK is bundled (pinned), not imported from the runtime
      expect(code).not.toMatch(/from\s*["']@aws-sdk\//);
      // AND Node loads it as a module and finds the handler
      const loaded = execFileSync(
        process.execPath,
        ['--input-type=module', '-e', `const m = await import(${JSON.stringify(bundle)}); console.log(typeof m.handler);`],
        { env: { ...process.env, LEDGER_TABLE_NAME: 'ledger', AWS_REGION: 'us-east-1' }, encoding: 'utf8' },
      );
      expect(loaded.trim()).toBe('function');
    } finally {
      if (previousDocker === undefined) delete process.env.CDK_DOCKER;
      else process.env.CDK_DOCKER = previousDocker;
    }
  });
});
