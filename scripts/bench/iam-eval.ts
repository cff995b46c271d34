/**
 * `npx tsx scripts/bench/iam-eval.ts [--calls N]`: the cost of one local IAM decision (issue 10).
 *
 * Synthesizes the payments stack (customer-managed key, so the roles carry their KMS grants), takes its largest
 * identity policy, and times `evaluate` per call over N calls (default 100,000) after a warm-up: authorized calls
 * (every action the policy grants, on a resource it names), denied calls, a KMS call under the key policy, a call
 * whose policy document is a fresh object each time (no compiled-policy cache), and `requiredAuthorizations` +
 * `evaluate` for a three-item TransactWriteItems. Prints the median and p99 in microseconds per call.
 * Target: < 1 ms median per authorized call (the gateway's HTTP hop is measured by the gateway's own bench).
 */
import { parseArgs } from 'node:util';
import {
  evaluate,
  requiredAuthorizations,
  type AuthorizationRequest,
  type PolicyDocument,
  type PolicyStatement,
  type RequestPrincipal,
} from '../../local/iam/index.js';
import { ACCOUNT, REGION, appPolicies, arnOf, logicalId } from '../../test/local/iam/evaluate-fixtures.js';

interface Case {
  readonly name: string;
  readonly run: () => unknown;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))]!;
}

/** Times `calls` runs of `run`, one hrtime pair per call; returns the sorted per-call durations in µs. */
function time(run: () => unknown, calls: number): number[] {
  const durations = new Array<number>(calls);
  for (let i = 0; i < calls; i++) {
    const start = process.hrtime.bigint();
    run();
    durations[i] = Number(process.hrtime.bigint() - start) / 1000;
  }
  return durations.sort((a, b) => a - b);
}

/** A concrete resource a pattern covers (`*` → `x`, `?` → `x`). */
const concrete = (pattern: string): string => (pattern === '*' ? '*' : pattern.replace(/[*?]/g, 'x'));

function main(): void {
  const { values } = parseArgs({ options: { calls: { type: 'string', default: '100000' } } });
  const calls = Number(values.calls);
  if (!Number.isInteger(calls) || calls < 1000) throw new Error(`--calls must be an integer ≥ 1000 (got ${values.calls})`);

  const app = appPolicies({ kmsKey: 'customer-managed' });
  const [largestId, largest] = [...app.policies.entries()].sort(
    (a, b) => JSON.stringify(b[1].document).length - JSON.stringify(a[1].document).length,
  )[0]!;
  const role = largest.roles[0]!;
  const identity = app.identity.get(role)!;
  const principal: RequestPrincipal = { type: 'AWS', arn: `arn:aws:sts::${ACCOUNT}:assumed-role/${role}/bench` };
  const context = { 'aws:SecureTransport': true, 'aws:PrincipalAccount': ACCOUNT, 'aws:RequestedRegion': REGION };
  const statements = (Array.isArray(largest.document.Statement) ? largest.document.Statement : [largest.document.Statement]) as PolicyStatement[];

  const authorized: AuthorizationRequest[] = [];
  for (const statement of statements) {
    if (statement.Effect !== 'Allow') continue;
    const resource = concrete([statement.Resource ?? '*'].flat()[0]!);
    for (const action of [statement.Action ?? []].flat()) authorized.push({ principal, action: action.replace(/\*/g, 'Get'), resource, context });
  }
  const denied: AuthorizationRequest[] = authorized.map((r) => ({ ...r, action: `${r.action.split(':')[0]}:DeleteEverything` }));
  for (const r of authorized) {
    const d = evaluate(r, { identity });
    if (d.decision !== 'Allow') throw new Error(`bench setup: expected Allow for ${r.action} on ${r.resource}, got ${d.decision} (${d.reason})`);
  }

  const keyArn = arnOf(app, logicalId(app, 'AWS::KMS::Key', 'DataKey'));
  const keyPolicy = app.keyPolicies.get(keyArn)!;
  const kmsRequest: AuthorizationRequest = { principal, action: 'kms:Decrypt', resource: keyArn, context };
  const ledgerTable = arnOf(app, logicalId(app, 'AWS::DynamoDB::Table', 'LedgerTable'));
  const arns = { region: REGION, accountId: ACCOUNT, partition: 'aws', queueArnForUrl: () => undefined };
  const transact = {
    TransactItems: [
      { Put: { TableName: ledgerTable, Item: {} } },
      { Update: { TableName: ledgerTable, Key: {} } },
      { ConditionCheck: { TableName: ledgerTable, Key: {} } },
    ],
  };

  let i = 0;
  const cases: Case[] = [
    { name: 'authorized call (largest policy, cached)', run: () => evaluate(authorized[i++ % authorized.length]!, { identity }) },
    { name: 'denied call (implicit deny)', run: () => evaluate(denied[i++ % denied.length]!, { identity }) },
    { name: 'kms:Decrypt under the key policy', run: () => evaluate(kmsRequest, { identity, resource: keyPolicy, resourcePolicyRequired: true }) },
    {
      name: 'authorized call, fresh policy objects (no cache)',
      run: () => evaluate(authorized[i++ % authorized.length]!, { identity: identity.map((d) => ({ ...d }) as PolicyDocument) }),
    },
    {
      name: 'TransactWriteItems ×3: map + evaluate each',
      run: () => {
        for (const a of requiredAuthorizations('dynamodb', 'TransactWriteItems', transact, arns)) {
          evaluate({ principal, action: a.action, resource: a.resource, context: { ...context, ...a.context } }, { identity });
        }
      },
    },
  ];

  console.log(`IAM evaluation: ${calls.toLocaleString('en')} calls per case, node ${process.version}`);
  console.log(`largest policy: ${largestId} (${statements.length} statements, ${JSON.stringify(largest.document).length} bytes JSON, role ${role}, ${identity.length} policy document(s))`);
  console.log('case'.padEnd(48), 'median µs'.padStart(10), 'p99 µs'.padStart(10), 'max µs'.padStart(10));
  for (const c of cases) {
    time(c.run, Math.min(10_000, calls)); // warm-up: JIT and the compiled-policy cache
    const sorted = time(c.run, calls);
    console.log(
      c.name.padEnd(48),
      percentile(sorted, 0.5).toFixed(2).padStart(10),
      percentile(sorted, 0.99).toFixed(2).padStart(10),
      sorted[sorted.length - 1]!.toFixed(0).padStart(10),
    );
  }
}

main();
