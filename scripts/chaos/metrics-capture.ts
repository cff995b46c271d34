/**
 * Collects the EMF metrics the functions print (Powertools Metrics writes one JSON line per flush to stdout; local
 * function workers pipe their stdout to this process), so a chaos run can report what each layer says it absorbed
 * (`DuplicatesSkipped` by `layer`) without CloudWatch, and which faults fired (`InjectedFault|<point>`, from the line
 * lambdas/shared/faults.ts prints when a fault fires). Function log lines are swallowed unless `passThrough`.
 */
export interface MetricCapture {
  /** Sums per `<metric>|<layer>` (and `<metric>` alone for metrics without a layer). */
  totals(): Record<string, number>;
  /** Restores stdout. */
  stop(): void;
}

/** Starts capturing; call `stop()` when the run ends. */
export function captureFunctionMetrics(options: { passThrough?: boolean } = {}): MetricCapture {
  const totals: Record<string, number> = {};
  const original = process.stdout.write.bind(process.stdout);
  let pending = '';
  const consume = (line: string): boolean => {
    if (line.startsWith('{') && line.includes('"injectedFault"')) {
      try {
        const point = (JSON.parse(line) as { injectedFault?: string }).injectedFault;
        if (point) totals[`InjectedFault|${point}`] = (totals[`InjectedFault|${point}`] ?? 0) + 1;
        return true;
      } catch {
        return false;
      }
    }
    if (!line.startsWith('{') || !line.includes('"_aws"')) return false;
    try {
      const record = JSON.parse(line) as Record<string, unknown> & {
        _aws?: { CloudWatchMetrics?: Array<{ Metrics?: Array<{ Name: string }> }> };
      };
      const layer = typeof record.layer === 'string' ? record.layer : undefined;
      for (const directive of record._aws?.CloudWatchMetrics ?? []) {
        for (const { Name } of directive.Metrics ?? []) {
          const raw = record[Name];
          const value = Array.isArray(raw) ? raw.reduce((a: number, b) => a + Number(b), 0) : Number(raw);
          if (!Number.isFinite(value)) continue;
          const key = layer ? `${Name}|${layer}` : Name;
          totals[key] = (totals[key] ?? 0) + value;
        }
      }
      return true;
    } catch {
      return false;
    }
  };
  const isFunctionLog = (line: string) => line.startsWith('{') && (line.includes('"level"') || line.includes('"_aws"'));
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    const text = pending + (typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    const lines = text.split('\n');
    pending = lines.pop() ?? '';
    const kept: string[] = [];
    for (const line of lines) {
      const metric = consume(line);
      if (options.passThrough || (!metric && !isFunctionLog(line))) kept.push(line);
    }
    if (kept.length > 0) return (original as (c: string, ...r: unknown[]) => boolean)(`${kept.join('\n')}\n`, ...rest);
    const callback = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
    callback?.();
    return true;
  }) as typeof process.stdout.write;
  return {
    totals: () => ({ ...totals }),
    stop: () => {
      process.stdout.write = original;
      if (pending) original(pending);
    },
  };
}
