import { TemplateResolutionError } from '../errors.js';
import type { TemplateResolver } from '../template/resolver.js';

/** What a method does: invoke a function (Lambda proxy) or answer by itself (MOCK, for CORS preflights). */
export type RouteIntegration =
  | { readonly type: 'AWS_PROXY'; readonly functionArn: string }
  | { readonly type: 'MOCK'; readonly statusCode: number; readonly headers: Readonly<Record<string, string>> };

/** One AWS::ApiGateway::Method: a resource path and an HTTP method (or ANY). */
export interface Route {
  /** Resource path template, e.g. `/accounts/{accountId}`. */
  readonly resourcePath: string;
  readonly resourceId: string;
  readonly httpMethod: string;
  readonly authorizationType: string;
  readonly integration: RouteIntegration;
}

/** An AWS::ApiGateway::RestApi with its stage and routes. */
export interface RestApiDefinition {
  readonly logicalId: string;
  readonly apiId: string;
  readonly stageName: string;
  readonly routes: readonly Route[];
}

type Raw = Record<string, any>;

/**
 * Reads every API Gateway REST API of a stack: its stage (AWS::ApiGateway::Stage or a Deployment's StageName), its
 * resource tree and its methods with AWS_PROXY or MOCK integrations. Other integration types are skipped.
 *
 * @throws TemplateResolutionError naming the method whose integration target cannot be resolved.
 */
export function readRestApis(resolver: TemplateResolver): { apis: RestApiDefinition[]; notes: string[] } {
  const resources = Object.entries(resolver.template.Resources ?? {}).filter(([id]) => resolver.isEnabled(id));
  const notes: string[] = [];
  const apis: RestApiDefinition[] = [];
  for (const [apiLogicalId, api] of resources) {
    if (api.Type !== 'AWS::ApiGateway::RestApi') continue;
    const belongs = (p: Raw | undefined) => refTarget(p?.RestApiId) === apiLogicalId;
    const stage =
      resources.find(([, r]) => r.Type === 'AWS::ApiGateway::Stage' && belongs(r.Properties))?.[1].Properties?.StageName ??
      resources.find(([, r]) => r.Type === 'AWS::ApiGateway::Deployment' && belongs(r.Properties) && r.Properties?.StageName)?.[1].Properties?.StageName;
    const stageName = String(resolver.resolve(stage ?? 'prod', `Resources.${apiLogicalId}`));
    const pathOf = (resourceRef: unknown): string => {
      const target = refTarget(resourceRef);
      if (!target || target === apiLogicalId) return '/'; // GetAtt RestApi.RootResourceId
      const resource = resolver.template.Resources?.[target];
      if (resource?.Type !== 'AWS::ApiGateway::Resource') return '/';
      const parent = pathOf(resource.Properties?.ParentId);
      return `${parent === '/' ? '' : parent}/${String(resource.Properties?.PathPart)}`;
    };
    const routes: Route[] = [];
    for (const [methodId, method] of resources) {
      if (method.Type !== 'AWS::ApiGateway::Method' || !belongs(method.Properties)) continue;
      const p = method.Properties as Raw;
      const path = `Resources.${methodId}.Properties`;
      const integration = p.Integration as Raw | undefined;
      const base = {
        resourcePath: pathOf(p.ResourceId),
        resourceId: refTarget(p.ResourceId) ?? 'root',
        httpMethod: String(p.HttpMethod).toUpperCase(),
        authorizationType: String(p.AuthorizationType ?? 'NONE'),
      };
      if (integration?.Type === 'AWS_PROXY') {
        const uri = String(resolver.resolve(integration.Uri, `${path}.Integration.Uri`));
        const functionArn = /functions\/(.+)\/invocations/.exec(uri)?.[1];
        if (!functionArn) throw new TemplateResolutionError(`${path}.Integration.Uri`, `not a Lambda invocation URI: ${uri}`);
        routes.push({ ...base, integration: { type: 'AWS_PROXY', functionArn } });
      } else if (integration?.Type === 'MOCK') {
        const response = ((resolver.resolve(integration.IntegrationResponses ?? [], `${path}.Integration.IntegrationResponses`) as Raw[]) ?? [])[0] ?? {};
        const headers: Record<string, string> = {};
        for (const [key, value] of Object.entries((response.ResponseParameters ?? {}) as Record<string, string>)) {
          const header = /^method\.response\.header\.(.+)$/.exec(key)?.[1];
          // Mapped values are quoted literals ('*'); other mapping expressions are not evaluated locally.
          if (header && /^'.*'$/.test(value)) headers[header] = value.slice(1, -1);
        }
        routes.push({ ...base, integration: { type: 'MOCK', statusCode: Number(response.StatusCode ?? 200), headers } });
      } else {
        notes.push(`${methodId}: integration type ${integration?.Type ?? '(none)'} is not served locally`);
      }
    }
    apis.push({ logicalId: apiLogicalId, apiId: resolver.identity(apiLogicalId).ref, stageName, routes });
  }
  return { apis, notes };
}

function refTarget(value: unknown): string | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const v = value as Raw;
  if (typeof v.Ref === 'string') return v.Ref;
  if (v['Fn::GetAtt']) return Array.isArray(v['Fn::GetAtt']) ? String(v['Fn::GetAtt'][0]) : String(v['Fn::GetAtt']).split('.')[0];
  return undefined;
}
