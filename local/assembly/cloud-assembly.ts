import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AssemblyError } from '../errors.js';
import type { CfnTemplate } from '../template/types.js';

/** One CloudFormation stack of a cloud assembly. */
export interface AssemblyStack {
  /** Artifact id in manifest.json. */
  readonly artifactId: string;
  /** Deployed stack name (`properties.stackName`, else the artifact id). */
  readonly stackName: string;
  readonly template: CfnTemplate;
  /** Directory of the assembly that holds the template and its assets. */
  readonly directory: string;
  /** Artifact ids this stack depends on. */
  readonly dependencies: readonly string[];
  /** File asset source directories by S3 object key (`<hash>.zip` → `/abs/cdk.out/asset.<hash>`). */
  readonly assetsByObjectKey: ReadonlyMap<string, string>;
}

interface ManifestArtifact {
  readonly type: string;
  readonly properties?: { templateFile?: string; stackName?: string; file?: string; directoryName?: string };
  readonly dependencies?: string[];
}

/**
 * Reads a cloud assembly (`cdk.out`): every stack's template and the file assets of its asset manifests,
 * including nested assemblies (CDK Stages). Stacks come back in dependency order.
 *
 * @throws AssemblyError when manifest.json or a template is missing or unreadable.
 */
export function readCloudAssembly(directory: string): AssemblyStack[] {
  const stacks: AssemblyStack[] = [];
  collect(resolve(directory), stacks);
  return dependencyOrder(stacks);
}

function collect(directory: string, stacks: AssemblyStack[]): void {
  const manifestPath = join(directory, 'manifest.json');
  if (!existsSync(manifestPath)) {
    throw new AssemblyError(`${manifestPath} not found: ${directory} is not a cloud assembly (run \`cdk synth\` or pass --app)`);
  }
  const manifest = readJson(manifestPath) as { artifacts?: Record<string, ManifestArtifact> };
  const artifacts = Object.entries(manifest.artifacts ?? {});
  const assets = new Map<string, string>();
  for (const [, artifact] of artifacts) {
    if (artifact.type !== 'cdk:asset-manifest' || !artifact.properties?.file) continue;
    const assetManifest = readJson(join(directory, artifact.properties.file)) as {
      files?: Record<string, { source: { path?: string }; destinations: Record<string, { objectKey: string }> }>;
    };
    for (const file of Object.values(assetManifest.files ?? {})) {
      if (!file.source.path) continue;
      for (const destination of Object.values(file.destinations)) {
        assets.set(destination.objectKey, join(directory, file.source.path));
      }
    }
  }
  for (const [artifactId, artifact] of artifacts) {
    if (artifact.type === 'cdk:cloud-assembly' && artifact.properties?.directoryName) {
      collect(join(directory, artifact.properties.directoryName), stacks);
    }
    if (artifact.type !== 'aws:cloudformation:stack' || !artifact.properties?.templateFile) continue;
    stacks.push({
      artifactId,
      stackName: artifact.properties.stackName ?? artifactId,
      template: readJson(join(directory, artifact.properties.templateFile)) as CfnTemplate,
      directory,
      dependencies: artifact.dependencies ?? [],
      assetsByObjectKey: assets,
    });
  }
}

function dependencyOrder(stacks: AssemblyStack[]): AssemblyStack[] {
  const byId = new Map(stacks.map((stack) => [stack.artifactId, stack]));
  const ordered: AssemblyStack[] = [];
  const seen = new Set<string>();
  const visit = (stack: AssemblyStack) => {
    if (seen.has(stack.artifactId)) return;
    seen.add(stack.artifactId);
    for (const dependency of stack.dependencies) {
      const other = byId.get(dependency);
      if (other) visit(other);
    }
    ordered.push(stack);
  };
  stacks.forEach(visit);
  return ordered;
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new AssemblyError(`cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
}
