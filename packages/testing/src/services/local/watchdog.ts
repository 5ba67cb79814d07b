// If the process that started local services dies without calling `stop()` (a killed test
// worker, Ctrl-C), a small detached watchdog ends the servers by pid and removes the run folder.
// It reads the current pids from `<runDir>/processes.json`, so it follows restarts, and exits on
// its own once the run folder is gone (a normal stop).

import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface RecordedProcess {
  readonly server: string;
  readonly pid: number;
  readonly stopSignal: NodeJS.Signals;
}

export function processesFile(runDir: string): string {
  return join(runDir, 'processes.json');
}

export function writeProcesses(runDir: string, processes: readonly RecordedProcess[]): void {
  writeFileSync(processesFile(runDir), JSON.stringify(processes));
}

// Plain JavaScript run with `node -e`, so it needs no file on disk (src and dist alike).
const WATCHDOG_SOURCE = `
const fs = require('node:fs');
const [parentArg, runDir] = process.argv.slice(1);
const parent = Number(parentArg);
const alive = (pid) => {
  try { process.kill(pid, 0); } catch (e) { return e.code === 'EPERM'; }
  try {
    const s = fs.readFileSync('/proc/' + pid + '/stat', 'utf8');
    const st = s.slice(s.lastIndexOf(')') + 2, s.lastIndexOf(')') + 3);
    return st !== 'Z' && st !== 'X';
  } catch { return true; }
};
const ours = (pid) => {
  try { const cwd = fs.readlinkSync('/proc/' + pid + '/cwd'); return cwd === runDir || cwd.startsWith(runDir + '/'); }
  catch (e) { return e.code === 'ENOENT' ? process.platform !== 'linux' : e.code === 'EACCES'; }
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function reap() {
  let list = [];
  try { list = JSON.parse(fs.readFileSync(runDir + '/processes.json', 'utf8')); } catch {}
  const victims = list.filter((p) => alive(p.pid) && ours(p.pid));
  for (const p of victims) { try { process.kill(p.pid, p.stopSignal || 'SIGTERM'); process.kill(p.pid, 'SIGCONT'); } catch {} }
  const deadline = Date.now() + 10000;
  while (victims.some((p) => alive(p.pid)) && Date.now() < deadline) await sleep(100);
  for (const p of victims) { if (alive(p.pid)) { try { process.kill(p.pid, 'SIGKILL'); } catch {} } }
  fs.rmSync(runDir, { recursive: true, force: true });
}
(async () => {
  for (;;) {
    if (!fs.existsSync(runDir)) return;
    if (!alive(parent)) { await reap(); return; }
    await sleep(500);
  }
})();
`;

/** Starts the watchdog for `runDir` on behalf of this process; returns its pid. */
export function startWatchdog(runDir: string, parentPid = process.pid): number | undefined {
  const child = spawn(process.execPath, ['-e', WATCHDOG_SOURCE, String(parentPid), runDir], {
    cwd: '/',
    stdio: 'ignore',
    detached: true,
  });
  child.unref();
  child.on('error', () => undefined);
  return child.pid;
}
