import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { AssemblyStack } from '../assembly/cloud-assembly.js';
import { LAMBDA_DEFAULTS } from '../constants.js';
import { TemplateResolutionError } from '../errors.js';
import type { TemplateResolver } from '../template/resolver.js';

/** What the local runtime needs to run one AWS::Lambda::Function. */
export interface FunctionDefinition {
  readonly logicalId: string;
  readonly stackName: string;
  /** CDK construct path (`Stack/Construct/Resource`), when the template has path metadata. */
  readonly constructPath?: string;
  readonly functionName: string;
  readonly arn: string;
  /** Directory of the bundled asset (the Lambda task root). */
  readonly codeDir: string;
  /** Handler string, e.g. `index.handler`. */
  readonly handler: string;
  readonly runtime: string;
  readonly timeoutSeconds: number;
  readonly memorySize: number;
  /** Environment.Variables with every intrinsic resolved. */
  readonly environment: Readonly<Record<string, string>>;
  readonly reservedConcurrency?: number;
}

/** A function of the template the local runtime does not run, with the reason. */
export interface SkippedFunction {
  readonly logicalId: string;
  readonly reason: string;
}

/** CDK's own helper functions (custom resource providers, log retention…): deploy-time plumbing, not the app. */
const CDK_INTERNAL = [
  /LogRetention[0-9a-f]{32}/i,
  /CustomResourceProvider/,
  /AWS679f53fac002430cb0da5b7982bd2287/,
  /BucketNotificationsHandler/,
  /CDKBucketDeployment/,
  /Provider\/framework-/,
  /AutoDeleteObjects/,
];

/**
 * Reads every AWS::Lambda::Function of a stack into a {@link FunctionDefinition}, skipping (with a reason)
 * CDK-internal providers, non-Node.js runtimes, container images and inline code.
 *
 * @throws TemplateResolutionError naming the function when its asset cannot be found or its environment resolved.
 */
export function readFunctions(stack: AssemblyStack, resolver: TemplateResolver): { functions: FunctionDefinition[]; skipped: SkippedFunction[] } {
  const functions: FunctionDefinition[] = [];
  const skipped: SkippedFunction[] = [];
  for (const [logicalId, resource] of Object.entries(stack.template.Resources ?? {})) {
    if (resource.Type !== 'AWS::Lambda::Function' || !resolver.isEnabled(logicalId)) continue;
    const path = `Resources.${logicalId}.Properties`;
    const constructPath = resource.Metadata?.['aws:cdk:path'] as string | undefined;
    const p = resource.Properties ?? {};
    if (CDK_INTERNAL.some((pattern) => pattern.test(logicalId) || pattern.test(constructPath ?? ''))) {
      skipped.push({ logicalId, reason: 'CDK deploy-time helper, not part of the app' });
      continue;
    }
    const runtime = String(resolver.resolve(p.Runtime, `${path}.Runtime`) ?? '');
    if (!runtime.startsWith('nodejs')) {
      skipped.push({ logicalId, reason: `runtime ${runtime || '(container image)'} is not Node.js` });
      continue;
    }
    const code = (p.Code ?? {}) as Record<string, unknown>;
    if (code.ZipFile !== undefined || code.ImageUri !== undefined) {
      skipped.push({ logicalId, reason: 'inline or container-image code is not run locally' });
      continue;
    }
    const codeDir = assetDirectory(stack, logicalId, resource.Metadata, resolver.resolve(code.S3Key, `${path}.Code.S3Key`));
    const identity = resolver.identity(logicalId);
    const variables = (resolver.resolve((p.Environment as { Variables?: unknown } | undefined)?.Variables ?? {}, `${path}.Environment.Variables`) ?? {}) as Record<string, unknown>;
    const environment = Object.fromEntries(Object.entries(variables).map(([key, value]) => [key, typeof value === 'string' ? value : JSON.stringify(value)]));
    const reserved = resolver.resolve(p.ReservedConcurrentExecutions, `${path}.ReservedConcurrentExecutions`);
    functions.push({
      logicalId,
      stackName: stack.stackName,
      constructPath,
      functionName: identity.ref,
      arn: identity.attributes.Arn!,
      codeDir,
      handler: String(resolver.resolve(p.Handler, `${path}.Handler`) ?? 'index.handler'),
      runtime,
      timeoutSeconds: Number(resolver.resolve(p.Timeout, `${path}.Timeout`) ?? LAMBDA_DEFAULTS.timeoutSeconds),
      memorySize: Number(resolver.resolve(p.MemorySize, `${path}.MemorySize`) ?? LAMBDA_DEFAULTS.memorySize),
      environment,
      reservedConcurrency: reserved === undefined ? undefined : Number(reserved),
    });
  }
  return { functions, skipped };
}

function assetDirectory(stack: AssemblyStack, logicalId: string, metadata: Record<string, unknown> | undefined, s3Key: unknown): string {
  const fromMetadata = metadata?.['aws:asset:path'];
  const candidates = [
    typeof fromMetadata === 'string' ? join(stack.directory, fromMetadata) : undefined,
    typeof s3Key === 'string' ? stack.assetsByObjectKey.get(s3Key) : undefined,
  ].filter((candidate): candidate is string => candidate !== undefined);
  const found = candidates.find((candidate) => existsSync(candidate));
  if (!found) {
    throw new TemplateResolutionError(
      `Resources.${logicalId}.Properties.Code`,
      `bundled asset not found (looked for ${candidates.join(', ') || 'aws:asset:path metadata or an asset manifest entry'}); synthesize with asset staging on`,
    );
  }
  return found;
}
