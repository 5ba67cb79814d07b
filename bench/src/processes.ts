// Every child process the harness starts is tracked by pid and killed by that pid at the end (also
// on SIGINT), so an interrupted or failed run leaves nothing behind.

import type { ChildProcess } from 'node:child_process';

const children = new Map<number, string>();

/** Tracks `child` until it exits; returns a function that stops tracking it. */
export function trackChild(child: ChildProcess, label: string): () => void {
  const pid = child.pid;
  if (pid === undefined) return () => {};
  children.set(pid, label);
  const untrack = () => children.delete(pid);
  child.once('exit', untrack);
  return untrack;
}

/** SIGKILLs every child still running, by its pid. Returns what was killed. */
export function killChildren(): string[] {
  const killed: string[] = [];
  for (const [pid, label] of children) {
    try {
      process.kill(pid, 'SIGKILL');
      killed.push(`${label} (pid ${pid})`);
    } catch {
      // Already gone.
    }
    children.delete(pid);
  }
  return killed;
}
