import { createHash } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const SKIP_DIRS = new Set(['node_modules', '.git', 'cdk.out', '.local']);

/**
 * A fingerprint of what a synthesis depends on: the app command, the context, and the size and mtime of every file
 * under the cdk.json `watch.include` roots, under the directory of any file named in the app command, plus
 * cdk.json, cdk.context.json and package-lock.json. Same fingerprint → the previous cloud assembly can be reused.
 */
export function synthesisFingerprint(projectDir: string, app: string, context: unknown, watchInclude: readonly string[], outDir: string): string {
  const hash = createHash('sha256').update(app).update(JSON.stringify(context));
  const roots = new Set<string>();
  for (const pattern of watchInclude) {
    // "lib/**" or "lambdas/**/*.ts" → the directory before the first glob character.
    const root = pattern.split(/[*?[{]/)[0]!.replace(/\/+$/, '');
    roots.add(resolve(projectDir, root || '.'));
  }
  for (const token of app.split(/\s+/)) {
    const path = resolve(projectDir, token.replace(/^['"]|['"]$/g, ''));
    if (/\.[cm]?[jt]s$/.test(token) && existsSync(path)) roots.add(resolve(path, '..'));
  }
  const files: string[] = [];
  for (const name of ['cdk.json', 'cdk.context.json', 'package-lock.json']) {
    if (existsSync(join(projectDir, name))) files.push(join(projectDir, name));
  }
  for (const root of roots) walk(root, files, resolve(outDir));
  for (const file of [...new Set(files)].sort()) {
    const stat = statSync(file);
    hash.update(`${relative(projectDir, file)}:${stat.size}:${stat.mtimeMs}\n`);
  }
  return hash.digest('hex');
}

function walk(path: string, files: string[], outDir: string): void {
  if (!existsSync(path) || path === outDir) return;
  const stat = statSync(path);
  if (stat.isFile()) {
    files.push(path);
    return;
  }
  if (!stat.isDirectory()) return;
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    if (entry.isDirectory() && (SKIP_DIRS.has(entry.name) || entry.name.startsWith('.'))) continue;
    walk(join(path, entry.name), files, outDir);
  }
}
