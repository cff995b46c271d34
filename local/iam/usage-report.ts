import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AuthorizationCheck } from '../gateway/authorizer.js';
import { statements, type TemplatePolicies } from './template-policies.js';

/** Services whose calls the local runtime sees (others — logs, xray… — are listed apart, never called locally). */
export const OBSERVED_SERVICES = ['dynamodb', 'sqs', 'kms', 'secretsmanager', 'execute-api'] as const;

/** One action a role used on one resource during a run. */
export interface UsedAction {
  readonly action: string;
  readonly resource: string;
  /** Calls allowed. */
  readonly allowed: number;
  /** Calls denied (each is also a used-but-not-granted finding). */
  readonly denied: number;
  /** Whether the template grants it (identity and resource policies evaluated now). */
  readonly granted: boolean;
}

/** One action and resource pattern a role's policies allow. */
export interface GrantedAction {
  readonly action: string;
  readonly resource: string;
  /** Where the grant comes from (policy resource or managed policy ARN). */
  readonly source: string;
}

/** The usage of one role. */
export interface RoleUsage {
  readonly roleArn: string;
  readonly roleName: string;
  readonly logicalId?: string;
  readonly used: readonly UsedAction[];
  /** Fails the check: the role called it and the template does not grant it (AccessDenied on AWS). */
  readonly usedButNotGranted: readonly UsedAction[];
  /** Allowed by the template, never called in the run, on a service the runtime observes (least-privilege hint). */
  readonly grantedButUnused: readonly GrantedAction[];
  /** Allowed by the template on services the runtime does not serve (CloudWatch Logs, X-Ray…): not judged. */
  readonly notObservable: readonly GrantedAction[];
}

/** What `.local/iam-usage.json` holds. */
export interface UsageReport {
  readonly generatedAt: string;
  /** `enforced` or `off` (`--no-iam`): with IAM off, used-but-not-granted calls succeeded locally. */
  readonly iam: 'enforced' | 'off';
  readonly roles: readonly RoleUsage[];
  /** Resource ARN → the template's logical id (`LedgerTable9343E4AA`, `… stream`), for a table that reads the same every run. */
  readonly labels?: Readonly<Record<string, string>>;
}

/**
 * Records which actions each role (each function principal) used on which resources, as the gateway authorizes
 * them. The outside caller is not recorded.
 */
export class UsageRecorder {
  private readonly uses = new Map<string, Map<string, { action: string; resource: string; allowed: number; denied: number }>>();

  /** Records one authorization (wire it to the authorizer's `onCheck`). */
  public record(check: AuthorizationCheck): void {
    if (check.principal.kind !== 'function') return;
    const role = check.principal.principal.arn;
    let byRole = this.uses.get(role);
    if (!byRole) this.uses.set(role, (byRole = new Map()));
    const key = `${check.action}\0${check.resource}`;
    let entry = byRole.get(key);
    if (!entry) byRole.set(key, (entry = { action: check.action, resource: check.resource, allowed: 0, denied: 0 }));
    if (check.decision.decision === 'Allow') entry.allowed++;
    else entry.denied++;
  }

  /** Role ARN → uses. */
  public snapshot(): Map<string, { action: string; resource: string; allowed: number; denied: number }[]> {
    return new Map([...this.uses].map(([role, entries]) => [role, [...entries.values()].map((e) => ({ ...e }))]));
  }
}

/**
 * Compares what each role used with what the template grants.
 * @param isGranted - evaluates one action on one resource for a role with the template's policies.
 */
export function buildUsageReport(input: {
  readonly recorder: UsageRecorder;
  readonly policies: TemplatePolicies;
  readonly isGranted: (roleArn: string, action: string, resource: string) => boolean;
  readonly iam: 'enforced' | 'off';
  /** Roles of functions the runtime ran (listed even when they made no call). */
  readonly roleArns: readonly string[];
  /** Resource ARN → logical id of the template. @default {} */
  readonly labels?: Readonly<Record<string, string>>;
}): UsageReport {
  const uses = input.recorder.snapshot();
  const roleArns = [...new Set([...input.roleArns, ...uses.keys()])].sort();
  const roles = roleArns.map((roleArn): RoleUsage => {
    const role = input.policies.roles.get(roleArn);
    const used = (uses.get(roleArn) ?? [])
      .map((u) => ({ ...u, granted: input.isGranted(roleArn, u.action, u.resource) }))
      .sort((a, b) => a.action.localeCompare(b.action) || a.resource.localeCompare(b.resource));
    const grants: GrantedAction[] = [];
    for (const { source, document } of role?.policies ?? []) {
      for (const statement of statements(document)) {
        if (statement.Effect !== 'Allow' || statement.Action === undefined) continue;
        const resources = statement.Resource === undefined ? ['*'] : list(statement.Resource);
        for (const action of list(statement.Action)) for (const resource of resources) grants.push({ action, resource, source });
      }
    }
    const observable = (action: string) => (OBSERVED_SERVICES as readonly string[]).includes(action.split(':')[0]!.toLowerCase()) || action === '*';
    const unused = grants.filter((g) => observable(g.action) && !used.some((u) => u.allowed + u.denied > 0 && wildcardMatch(g.action, u.action, true) && wildcardMatch(g.resource, u.resource, false)));
    return {
      roleArn,
      roleName: role?.roleName ?? roleArn.split('/').pop() ?? roleArn,
      logicalId: role?.logicalId,
      used,
      usedButNotGranted: used.filter((u) => !u.granted),
      grantedButUnused: dedupe(unused),
      notObservable: dedupe(grants.filter((g) => !observable(g.action))),
    };
  });
  return { generatedAt: new Date().toISOString(), iam: input.iam, roles, labels: input.labels ?? {} };
}

/** The findings that fail the check: one line per used-but-not-granted action. */
export function usageProblems(report: UsageReport): string[] {
  return report.roles.flatMap((role) =>
    role.usedButNotGranted.map((u) => `${role.roleName}${role.logicalId ? ` (${role.logicalId})` : ''} used ${u.action} on ${u.resource} (${u.allowed + u.denied} call(s)) but the template does not grant it`),
  );
}

/** The report as a markdown table per role: used actions (✔ granted / ✘ not granted) and granted-but-unused ones. */
export function usageMarkdown(report: UsageReport): string {
  const lines = [`IAM usage of a local run (${report.generatedAt}, IAM ${report.iam}): what each function's role called, and what it is granted but never called.`, ''];
  lines.push('| Role | Action | Resource | Calls | Granted |', '| --- | --- | --- | ---: | --- |');
  for (const role of report.roles) {
    const label = (arn: string) => report.labels?.[arn] ?? shortArn(arn);
    for (const u of role.used) lines.push(`| ${role.logicalId ?? role.roleName} | ${u.action} | ${label(u.resource)} | ${u.allowed + u.denied} | ${u.granted ? 'yes' : '**NO**'} |`);
    for (const g of role.grantedButUnused) lines.push(`| ${role.logicalId ?? role.roleName} | ${g.action} | ${label(g.resource)} | 0 | yes, never used |`);
  }
  return `${lines.join('\n')}\n`;
}

/** Writes `<outDir>/iam-usage.json` and `<outDir>/iam-usage.md`; returns their paths. */
export function writeUsageReport(outDir: string, report: UsageReport): { json: string; markdown: string } {
  mkdirSync(outDir, { recursive: true });
  const json = join(outDir, 'iam-usage.json');
  const markdown = join(outDir, 'iam-usage.md');
  writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(markdown, usageMarkdown(report));
  return { json, markdown };
}

/** IAM wildcard match (`*` any run, `?` one character). */
export function wildcardMatch(pattern: string, value: string, ignoreCase: boolean): boolean {
  const source = `^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`;
  return new RegExp(source, ignoreCase ? 'is' : 's').test(value);
}

function list(value: string | readonly string[]): string[] {
  return Array.isArray(value) ? [...value] : [value as string];
}

function dedupe(grants: GrantedAction[]): GrantedAction[] {
  const seen = new Set<string>();
  return grants.filter((g) => {
    const key = `${g.action}\0${g.resource}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function shortArn(arn: string): string {
  return arn.replace(/^arn:aws:[a-z0-9-]+:[a-z0-9-]*:\d{12}:/, '');
}
