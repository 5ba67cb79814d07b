// A throwaway Redis: Debian's redis-server on a free port, no persistence, working folder in the
// run folder. A restart comes back empty.

import { mkdirSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { ServiceUnavailableError } from '../errors.js';
import type { LocalServerPlan } from './local-server.js';
import { freePort } from './support.js';
import { findRedisServer } from './toolchain.js';

export async function planRedis(runDir: string, debianReady: Promise<void>): Promise<LocalServerPlan> {
  await debianReady;
  const binary = findRedisServer();
  if (binary === undefined) throw new ServiceUnavailableError('redis', 'redis-server is not installed');
  const dir = join(runDir, 'redis');
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  return {
    server: 'redis',
    services: ['redis'],
    endpoints: { redis: { url: `redis://127.0.0.1:${port}` } },
    process: {
      label: 'redis',
      command: binary,
      args: [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
        '--daemonize',
        'no',
        '--logfile',
        '',
      ],
      cwd: dir,
      logFile: join(dir, 'redis.log'),
      graceMs: 5_000,
    },
    ready: () => redisPing('127.0.0.1', port),
    readyTimeoutMs: 30_000,
  };
}

/** Sends `PING` in RESP and expects `+PONG`. */
export function redisPing(host: string, port: number, timeoutMs = 2_000): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let reply = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`redis PING to ${host}:${port} timed out`));
    }, timeoutMs);
    socket.once('connect', () => socket.write('*1\r\n$4\r\nPING\r\n'));
    socket.setEncoding('utf8').on('data', (chunk: string) => {
      reply += chunk;
      if (reply.includes('\r\n')) {
        clearTimeout(timer);
        socket.end();
        resolve(reply.startsWith('+PONG'));
      }
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}
