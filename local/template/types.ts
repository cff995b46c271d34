/** A CloudFormation resource as it appears in a synthesized template. */
export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly Condition?: string;
  readonly DependsOn?: string | string[];
  readonly Metadata?: Record<string, unknown>;
}

/** A CloudFormation output. */
export interface CfnOutput {
  readonly Value: unknown;
  readonly Condition?: string;
  readonly Description?: string;
  readonly Export?: { readonly Name: unknown };
}

/** The parts of a CloudFormation template the local runtime reads. */
export interface CfnTemplate {
  readonly Parameters?: Record<string, { readonly Type: string; readonly Default?: unknown }>;
  readonly Mappings?: Record<string, Record<string, Record<string, unknown>>>;
  readonly Conditions?: Record<string, unknown>;
  readonly Resources?: Record<string, CfnResource>;
  readonly Outputs?: Record<string, CfnOutput>;
}

/** What `Ref` and `Fn::GetAtt` return for one resource once it exists locally. */
export interface ResourceIdentity {
  /** Value of `Ref`. */
  readonly ref: string;
  /** Values of `Fn::GetAtt` by attribute name. */
  readonly attributes: Record<string, string>;
}
