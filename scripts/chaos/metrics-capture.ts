/**
 * Collects, from the functions' log lines, the EMF metrics they print (Powertools Metrics writes one JSON line per
 * flush) and the line lambdas/shared/faults.ts prints when a fault fires, so a chaos run can report what each layer
 * says it absorbed (`DuplicatesSkipped|<layer>`) and which faults it really injected (`InjectedFault|<point>`)
 * without CloudWatch. The local runtime hands every function output line to its `log` option as
 * `  <LogicalId> | <line>`.
 */
export interface MetricCapture {
  /** Feed one log line of the runtime. */
  line(line: string): void;
  /** Sums per `<metric>|<layer>` (and `<metric>` alone for metrics without a layer). */
  totals(): Record<string, number>;
}

/** Creates a capture; `forward` receives the lines that are neither metrics nor fault notes (e.g. to print them). */
export function captureFunctionMetrics(forward?: (line: string) => void): MetricCapture {
  const totals: Record<string, number> = {};
  const add = (key: string, value: number) => (totals[key] = (totals[key] ?? 0) + value);
  const consume = (json: string): boolean => {
    if (!json.startsWith('{')) return false;
    const fault = json.includes('"injectedFault"');
    if (!fault && !json.includes('"_aws"')) return false;
    let record: Record<string, unknown> & { _aws?: { CloudWatchMetrics?: Array<{ Metrics?: Array<{ Name: string }> }> } };
    try {
      record = JSON.parse(json) as typeof record;
    } catch {
      return false;
    }
    if (fault) {
      add(`InjectedFault|${String(record.injectedFault)}`, 1);
      return true;
    }
    const layer = typeof record.layer === 'string' ? record.layer : undefined;
    for (const directive of record._aws?.CloudWatchMetrics ?? []) {
      for (const { Name } of directive.Metrics ?? []) {
        const raw = record[Name];
        const value = Array.isArray(raw) ? raw.reduce((a: number, b) => a + Number(b), 0) : Number(raw);
        if (Number.isFinite(value)) add(layer ? `${Name}|${layer}` : Name, value);
      }
    }
    return true;
  };
  return {
    line: (line) => {
      const bar = line.indexOf(' | ');
      const body = bar >= 0 && bar < 80 ? line.slice(bar + 3) : line;
      if (!consume(body.trim())) forward?.(line);
    },
    totals: () => ({ ...totals }),
  };
}
