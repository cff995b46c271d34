import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { LOCAL_ACCOUNT_ID } from '../constants.js';
import { AssemblyError } from '../errors.js';
import { synthesisFingerprint } from './fingerprint.js';

/** Options for {@link synthesize}. */
export interface SynthesizeOptions {
  /** Project directory (holds cdk.json). @default process.cwd() */
  readonly projectDir?: string;
  /** App command, as `cdk --app`. @default - the `app` of cdk.json */
  readonly app?: string;
  /** Context as `cdk -c key=value`, overriding cdk.json and cdk.context.json. @default {} */
  readonly context?: Readonly<Record<string, string>>;
  /** Where to write the cloud assembly (emptied first). */
  readonly outDir: string;
  /** Region the app sees as CDK_DEFAULT_REGION. */
  readonly region: string;
  /** Reuse the assembly in `outDir` when the app, context and source files are unchanged since it was written. @default true */
  readonly reuse?: boolean;
}

/** Result of {@link synthesize}. */
export interface SynthesisResult {
  /** The cloud assembly directory. */
  readonly directory: string;
  /** true when the previous assembly was reused (inputs unchanged). */
  readonly reused: boolean;
}

/**
 * Synthesizes a CDK app into a cloud assembly the way the CDK CLI does: runs the app command with CDK_OUTDIR and
 * CDK_CONTEXT_JSON (cdk.json context, then cdk.context.json, then `-c` values). NodejsFunction assets are bundled
 * by the app itself with the local esbuild (never Docker: esbuild is installed).
 *
 * The assembly is reused, without running the app, when a fingerprint of its inputs (app command, context, files
 * under cdk.json `watch.include` and next to the app's entry file) matches the one stored with it.
 *
 * @throws AssemblyError with the app's stderr when the app fails.
 */
export async function synthesize(options: SynthesizeOptions): Promise<SynthesisResult> {
  const projectDir = resolve(options.projectDir ?? process.cwd());
  const cdkJson = readOptionalJson(join(projectDir, 'cdk.json')) as
    | { app?: string; context?: Record<string, unknown>; watch?: { include?: string[] } }
    | undefined;
  const app = options.app ?? cdkJson?.app;
  if (!app) throw new AssemblyError(`no app to synthesize: pass --app "<command>" or add "app" to ${join(projectDir, 'cdk.json')}`);
  const context: Record<string, unknown> = {
    ...(cdkJson?.context ?? {}),
    ...((readOptionalJson(join(projectDir, 'cdk.context.json')) as Record<string, unknown> | undefined) ?? {}),
    ...(options.context ?? {}),
    'aws:cdk:enable-path-metadata': true,
    'aws:cdk:enable-asset-metadata': true,
    'aws:cdk:version-reporting': false,
    'aws:cdk:bundling-stacks': ['**'],
  };
  const outDir = resolve(projectDir, options.outDir);
  const fingerprintFile = join(outDir, 'local-runtime.fingerprint');
  const fingerprint = synthesisFingerprint(projectDir, app, context, cdkJson?.watch?.include ?? [], outDir);
  if (
    (options.reuse ?? true) &&
    existsSync(join(outDir, 'manifest.json')) &&
    existsSync(fingerprintFile) &&
    readFileSync(fingerprintFile, 'utf8') === fingerprint
  ) {
    return { directory: outDir, reused: true };
  }
  rmSync(fingerprintFile, { force: true });
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CDK_OUTDIR: outDir,
    CDK_CONTEXT_JSON: JSON.stringify(context),
    CDK_DEFAULT_REGION: options.region,
    CDK_DEFAULT_ACCOUNT: LOCAL_ACCOUNT_ID,
    // The project's node_modules/.bin first, so `npx tsx` and esbuild resolve to the pinned versions.
    PATH: [join(projectDir, 'node_modules', '.bin'), process.env.PATH ?? ''].join(delimiter),
  };
  const { code, stderr } = await run(app, projectDir, env);
  if (code !== 0) {
    throw new AssemblyError(`synthesis failed: \`${app}\` exited with code ${code}\n${stderr.trim()}`);
  }
  if (!existsSync(join(outDir, 'manifest.json'))) {
    throw new AssemblyError(`\`${app}\` wrote no cloud assembly to ${outDir} (does it call app.synth()?)`);
  }
  writeFileSync(fingerprintFile, fingerprint);
  return { directory: outDir, reused: false };
}

function run(command: string, cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, { cwd, env, shell: true, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-20_000);
    });
    child.once('error', (error) => reject(new AssemblyError(`cannot run \`${command}\`: ${error.message}`, { cause: error })));
    child.once('close', (code) => resolvePromise({ code: code ?? 1, stderr }));
  });
}

function readOptionalJson(path: string): unknown {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new AssemblyError(`cannot parse ${path}: ${(error as Error).message}`, { cause: error });
  }
}
