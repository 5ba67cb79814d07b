// Node 24 comes from the npm registry as the package `node@24` (its bin/node): installed once into
// .cache/node24 so the unit suite can run on both supported majors.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { NODE24_VERSION } from './versions.mjs';

export async function ensureNode24(root) {
  const prefix = join(root, '.cache', 'node24');
  const binary = join(prefix, 'node_modules', 'node', 'bin', 'node');
  const works = () => existsSync(binary) && spawnSync(binary, ['--version']).stdout?.toString().startsWith('v24.');
  if (works()) return binary;
  mkdirSync(prefix, { recursive: true });
  console.log(`[test] installing node@${NODE24_VERSION} from the npm registry into ${prefix}`);
  const r = spawnSync(
    'npm',
    ['install', '--prefix', prefix, '--no-save', '--no-audit', '--no-fund', `node@${NODE24_VERSION}`],
    {
      stdio: 'inherit',
    },
  );
  if (r.status !== 0) return undefined;
  return works() ? binary : undefined;
}
