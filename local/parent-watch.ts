import { readFileSync } from 'node:fs';

/**
 * Notices when the processes that started this one go away, so the local runtime does not outlive `npm start`.
 *
 * A supervisor (or a script) that sends SIGTERM/SIGINT to the `npm start` process reaches npm only: npm exits without
 * relaying the signal through its shell and tsx, and this process — with DynamoDB Local and the ports — would be left
 * running. So the runtime watches its ancestors up to npm (tsx, the shell, npm) and stops when one of them exits or
 * is re-parented. On Linux the chain is read from /proc; elsewhere only the direct parent is watched.
 */

interface Ancestor {
  readonly pid: number;
  readonly ppid: number;
}

/** Options of {@link watchParent}. */
export interface ParentWatchOptions {
  /** Ancestors watched above this process. @default 4 */
  readonly depth?: number;
  /** Poll interval, in ms. @default 500 */
  readonly intervalMs?: number;
  /** This process's pid and parent. @default process.pid, process.ppid */
  readonly pid?: number;
}

/**
 * Calls `onGone` once when an ancestor exits (or the direct parent changes).
 * @returns a function that stops watching; the timer never keeps the process alive.
 */
export function watchParent(onGone: (reason: string) => void, options: ParentWatchOptions = {}): () => void {
  const chain = ancestors(options.pid ?? process.pid, options.depth ?? 4);
  const initialPpid = process.ppid;
  let fired = false;
  const timer = setInterval(() => {
    const reason = goneReason(chain, initialPpid);
    if (reason && !fired) {
      fired = true;
      clearInterval(timer);
      onGone(reason);
    }
  }, options.intervalMs ?? 500);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * The ancestors of `pid` (parent first) up to and including the `npm` process that ran it, each with the parent it
 * had when read. Without an npm ancestor within `depth` levels (started by `tsx` or `node` directly), only the direct
 * parent: a shell that ran `nohup npm start &` and exited must not stop the runtime.
 */
export function ancestors(pid: number, depth: number): Ancestor[] {
  const chain: Ancestor[] = [];
  let current = readStat(pid);
  while (current && chain.length < depth && current.ppid > 1) {
    const parent = readStat(current.ppid);
    if (!parent) break;
    chain.push({ pid: current.ppid, ppid: parent.ppid });
    if (isNpm(current.ppid)) return chain;
    current = parent;
  }
  return chain.slice(0, 1);
}

/** True when the process runs npm (its title is `npm <command>`, or node runs npm-cli.js). */
function isNpm(pid: number): boolean {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return argv.slice(0, 2).some((arg) => /(^|\/)npm(-cli\.js)?(\s|$)/.test(arg));
  } catch {
    return false;
  }
}

function goneReason(chain: readonly Ancestor[], initialPpid: number): string | undefined {
  if (process.ppid !== initialPpid) return `parent process ${initialPpid} exited`;
  for (const ancestor of chain) {
    const stat = readStat(ancestor.pid);
    if (!stat || stat.state === 'Z' || stat.state === 'X') return `ancestor process ${ancestor.pid} exited`;
    if (stat.ppid !== ancestor.ppid) return `ancestor process ${ancestor.ppid} exited (process ${ancestor.pid} was re-parented)`;
  }
  return undefined;
}

/** State and parent of a process from /proc/<pid>/stat (Linux), or undefined when it does not exist or /proc is absent. */
function readStat(pid: number): { state: string; ppid: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: parse after the last ')'.
    const [state, ppid] = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: state!, ppid: Number(ppid) };
  } catch {
    return undefined;
  }
}
