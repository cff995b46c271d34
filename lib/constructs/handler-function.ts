import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { allResolved } from './windows.js';
import { ConstructValidationError } from '../errors.js';

/** The Lambda runtime of every function: Node.js 24 (the `node` devDependency pins the same major locally). */
export const NODE_RUNTIME: lambda.Runtime =
  (lambda.Runtime as unknown as Record<string, lambda.Runtime | undefined>).NODEJS_24_X ??
  new lambda.Runtime('nodejs24.x', lambda.RuntimeFamily.NODEJS, { supportsInlineCode: true });

/**
 * esbuild options shared by every function: ESM, minified, source maps, module-first resolution (smaller bundles),
 * the AWS SDK v3 bundled (a pinned version instead of the runtime's), and a `require` shim for CommonJS
 * dependencies inside an ESM bundle. Bundling always runs the local esbuild, never Docker.
 */
export const BUNDLING_DEFAULTS: nodejs.BundlingOptions = {
  format: nodejs.OutputFormat.ESM,
  target: 'node24',
  minify: true,
  sourceMap: true,
  sourcesContent: false,
  mainFields: ['module', 'main'],
  externalModules: [],
  bundleAwsSDK: true,
  banner: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
  forceDockerBundling: false,
};

/** Options a caller may set on a {@link HandlerFunction} through the constructs that create one. */
export interface HandlerFunctionOptions {
  /**
   * Function timeout.
   * @default Duration.seconds(30)
   */
  readonly timeout?: Duration;
  /**
   * Memory in MB (the benchmarks measure the handlers at this size).
   * @default 512
   */
  readonly memorySize?: number;
  /**
   * Extra environment variables, merged over the construct's own (never replaced).
   * @default - none
   */
  readonly environment?: Record<string, string>;
  /**
   * Log retention of the function's log group.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Removal policy of the log group.
   * @default RemovalPolicy.RETAIN
   */
  readonly logRemovalPolicy?: RemovalPolicy;
  /**
   * Description shown in the Lambda console.
   * @default - none
   */
  readonly description?: string;
  /**
   * Reserved concurrency.
   * @default - unreserved
   */
  readonly reservedConcurrentExecutions?: number;
  /**
   * esbuild options merged over {@link BUNDLING_DEFAULTS}.
   * @default BUNDLING_DEFAULTS
   */
  readonly bundling?: nodejs.BundlingOptions;
}

/** Props of {@link HandlerFunction}. */
export interface HandlerFunctionProps extends HandlerFunctionOptions {
  /** Path of the handler's TypeScript entry (exports `handler`). */
  readonly entry: string;
  /**
   * Powertools service name (logs and the `service` metric dimension).
   * @default - the construct id in kebab-case
   */
  readonly serviceName?: string;
  /**
   * Powertools metrics namespace.
   * @default 'ExactlyOncePayments'
   */
  readonly metricsNamespace?: string;
  /**
   * Powertools log level.
   * @default 'INFO'
   */
  readonly logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
}

/** Powertools metrics namespace the handlers emit to (EMF). */
export const METRICS_NAMESPACE = 'ExactlyOncePayments';

/**
 * A Node.js 24 arm64 Lambda function bundled by the local esbuild, with its own log group and its own role (no
 * managed policy: the role may write its log group and nothing else until a grant adds a permission).
 */
export class HandlerFunction extends Construct {
  /** The function. */
  readonly function: nodejs.NodejsFunction;
  /** Its execution role (least privilege: grants add statements to it). */
  readonly role: iam.Role;
  /** Its log group. */
  readonly logGroup: logs.LogGroup;
  /** Its Powertools service name. */
  readonly serviceName: string;
  /** Path of its TypeScript entry (what the security test bundles to derive the calls it makes). */
  readonly entry: string;

  constructor(scope: Construct, id: string, props: HandlerFunctionProps) {
    super(scope, id);
    const memorySize = props.memorySize ?? 512;
    if (allResolved(memorySize) && (!Number.isInteger(memorySize) || memorySize < 128 || memorySize > 10_240)) {
      throw new ConstructValidationError(
        this.node.path,
        `memorySize (${memorySize}) must be an integer from 128 to 10240 MB; pick a value in that range (512 is the measured default)`,
      );
    }
    this.entry = props.entry;
    this.serviceName = props.serviceName ?? id.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();

    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of ${this.node.path}`,
    });
    // Only its own log group: no AWSLambdaBasicExecutionRole (that one allows every log group of the account).
    this.logGroup.grant(this.role, 'logs:CreateLogStream', 'logs:PutLogEvents');

    const bundling = { ...BUNDLING_DEFAULTS, ...props.bundling };
    this.function = new nodejs.NodejsFunction(this, 'Function', {
      entry: props.entry,
      handler: 'handler',
      runtime: NODE_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      memorySize,
      timeout: props.timeout ?? Duration.seconds(30),
      description: props.description,
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      bundling,
      environment: {
        // Stack traces point at the TypeScript sources (the bundle ships its source map).
        ...(bundling.sourceMap ? { NODE_OPTIONS: '--enable-source-maps' } : {}),
        POWERTOOLS_SERVICE_NAME: this.serviceName,
        POWERTOOLS_METRICS_NAMESPACE: props.metricsNamespace ?? METRICS_NAMESPACE,
        POWERTOOLS_LOG_LEVEL: props.logLevel ?? 'INFO',
        ...props.environment,
      },
    });
  }
}
