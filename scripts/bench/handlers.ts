import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundle, listHandlers, measureColdStart, median, VARIANTS, writeBareHandler, type BuiltBundle } from './bundles.js';
import { round } from './results.js';

/** One handler built with one esbuild variant, as published in the JSON (`handlers[]`). */
export interface HandlerResult {
  readonly name: string;
  readonly variant: string;
  readonly bundleBytes: number;
  /** Median import time of the bundle in fresh Node processes. */
  readonly initMs: number;
  /** initMs / the bare handler's (same SDK clients, same variant, measured interleaved). */
  readonly initRatio: number;
  readonly bareInitMs: number;
  /** Median CPU time of the import (user + system), and its ratio to the bare handler's: less sensitive to load. */
  readonly initCpuMs: number;
  readonly bareInitCpuMs: number;
  readonly initCpuRatio: number;
  readonly bareBundleBytes: number;
  readonly sdkClients: string[];
  /** Median RSS of the process right after the import. */
  readonly rssAfterInitMb: number;
  readonly runs: number;
  readonly error?: string;
}

/** Options for {@link measureHandlers}. */
export interface MeasureHandlersOptions {
  readonly root: string;
  readonly outDir: string;
  /** Cold starts per handler and per bare baseline. */
  readonly runs: number;
  /** Variant names to measure. @default every variant */
  readonly variants?: readonly string[];
  /** Handler names to measure. @default every `lambdas/<name>/handler.ts` */
  readonly handlers?: readonly string[];
  readonly log?: (line: string) => void;
}

/**
 * Bundles every handler with every variant and measures cold starts, alternating handler and bare baseline so both
 * see the same machine load.
 */
export async function measureHandlers(options: MeasureHandlersOptions): Promise<HandlerResult[]> {
  const results: HandlerResult[] = [];
  const handlers = listHandlers(options.root).filter((h) => options.handlers === undefined || options.handlers.includes(h));
  const variants = VARIANTS.filter((v) => options.variants === undefined || options.variants.includes(v.name));
  const bundlesDir = join(options.outDir, 'bundles');
  for (const variant of variants) {
    const bareCache = new Map<string, BuiltBundle>();
    for (const name of handlers) {
      try {
        const built = await bundle(options.root, name, join('lambdas', name, 'handler.ts'), variant, bundlesDir);
        const signature = built.sdkClients.join('+') || 'none';
        let bare = bareCache.get(signature);
        if (bare === undefined) {
          bare = await bundle(options.root, `bare-${signature.replace(/[@/+]/g, '_')}`, writeBareHandler(options.outDir, built.sdkClients), variant, bundlesDir);
          bareCache.set(signature, bare);
        }
        const own: number[] = [];
        const base: number[] = [];
        const ownCpu: number[] = [];
        const baseCpu: number[] = [];
        const rss: number[] = [];
        for (let i = 0; i < options.runs; i++) {
          const h = await measureColdStart(built.path);
          own.push(h.initMs);
          ownCpu.push(h.initCpuMs);
          rss.push(h.rssBytes);
          const b = await measureColdStart(bare.path);
          base.push(b.initMs);
          baseCpu.push(b.initCpuMs);
        }
        const initMs = median(own);
        const bareInitMs = median(base);
        const initCpuMs = median(ownCpu);
        const bareInitCpuMs = median(baseCpu);
        results.push({
          name,
          variant: variant.name,
          bundleBytes: built.bytes,
          initMs: round(initMs, 1),
          initRatio: round(initMs / bareInitMs, 2),
          bareInitMs: round(bareInitMs, 1),
          initCpuMs: round(initCpuMs, 1),
          bareInitCpuMs: round(bareInitCpuMs, 1),
          initCpuRatio: round(initCpuMs / bareInitCpuMs, 2),
          bareBundleBytes: bare.bytes,
          sdkClients: built.sdkClients,
          rssAfterInitMb: round(median(rss) / 2 ** 20, 1),
          runs: options.runs,
        });
        options.log?.(`  ${variant.name.padEnd(16)} ${name.padEnd(15)} ${(built.bytes / 1024).toFixed(0).padStart(6)} KB  init ${initMs.toFixed(0)} ms (bare ${bareInitMs.toFixed(0)} ms), CPU ${initCpuMs.toFixed(0)} ms (bare ${bareInitCpuMs.toFixed(0)} ms)`);
      } catch (error) {
        const message = error instanceof Error ? error.message.split('\n').slice(0, 3).join(' ') : String(error);
        options.log?.(`  ${variant.name.padEnd(16)} ${name.padEnd(15)} FAILED: ${message}`);
        results.push({
          name,
          variant: variant.name,
          bundleBytes: 0,
          initMs: NaN,
          initRatio: NaN,
          bareInitMs: NaN,
          initCpuMs: NaN,
          bareInitCpuMs: NaN,
          initCpuRatio: NaN,
          bareBundleBytes: 0,
          sdkClients: [],
          rssAfterInitMb: NaN,
          runs: 0,
          error: message,
        });
      }
    }
  }
  return results;
}

/** A library measured alone (bundled like the stack, imported in fresh processes). */
export interface ProbeResult {
  readonly name: string;
  readonly bundleBytes: number;
  readonly initMs: number;
  readonly initCpuMs: number;
  readonly runs: number;
}

const PROBES = [
  { name: 'zod (classic `z`)', file: 'zod-classic.ts' },
  { name: 'zod/mini', file: 'zod-mini.ts' },
] as const;

/** Measures the probes in scripts/bench/probes (the same schema with zod classic and zod/mini). */
export async function measureProbes(options: { root: string; outDir: string; runs: number }): Promise<ProbeResult[]> {
  const results: ProbeResult[] = [];
  for (const probe of PROBES) {
    const entry = fileURLToPath(new URL(`./probes/${probe.file}`, import.meta.url));
    const built = await bundle(options.root, `probe-${probe.file.replace('.ts', '')}`, entry, VARIANTS[0]!, join(options.outDir, 'bundles'));
    const wall: number[] = [];
    const cpu: number[] = [];
    for (let i = 0; i < options.runs; i++) {
      const c = await measureColdStart(built.path);
      wall.push(c.initMs);
      cpu.push(c.initCpuMs);
    }
    results.push({ name: probe.name, bundleBytes: built.bytes, initMs: round(median(wall), 1), initCpuMs: round(median(cpu), 1), runs: options.runs });
  }
  return results;
}
