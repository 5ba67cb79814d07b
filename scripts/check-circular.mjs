#!/usr/bin/env node
// Fails when a package's sources import each other in a cycle. A runtime cycle can hand a module a
// binding that is not initialised yet (a TDZ error or an undefined export, depending on who loads
// first); a type-only cycle is harmless at run time but still tangles the design, so both fail and
// each is labelled. An import madge cannot resolve would silently drop edges from the graph, so a
// relative import it skips fails the check too.
//
//   node scripts/check-circular.mjs                 every packages/*/src
//   node scripts/check-circular.mjs <dir>/src ...   only these (a tsconfig.json next to src/ is used)
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));

function loadMadge() {
  try {
    return require('madge');
  } catch {
    // A fresh clone: install dependencies (no build needed) and try once more.
    const r = spawnSync(process.execPath, [join(root, 'scripts', 'bootstrap.mjs'), '--no-build'], { stdio: 'inherit' });
    if (r.status !== 0) process.exit(r.status ?? 1);
    return require('madge');
  }
}

function sourceDirs(args) {
  if (args.length > 0) return args.map((a) => resolve(a));
  const packages = join(root, 'packages');
  return readdirSync(packages, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(packages, d.name, 'src')))
    .map((d) => join(packages, d.name, 'src'));
}

const madge = loadMadge();
let failed = false;
let files = 0;

for (const src of sourceDirs(process.argv.slice(2))) {
  if (!existsSync(src)) {
    console.error(`check-circular: ${src} does not exist`);
    failed = true;
    continue;
  }
  const own = join(dirname(src), 'tsconfig.json');
  const tsConfig = existsSync(own) ? own : join(root, 'tsconfig.base.json');
  const config = { fileExtensions: ['ts'], tsConfig };
  const all = await madge(src, config);
  const runtime = await madge(src, { ...config, detectiveOptions: { ts: { skipTypeImports: true } } });
  const name = src.startsWith(root) ? relative(root, src) : src;
  files += Object.keys(all.obj()).length;

  const unresolved = all.warnings().skipped.filter((s) => s.startsWith('.'));
  if (unresolved.length > 0) {
    failed = true;
    console.error(`${name}: imports madge could not resolve (the graph would be incomplete):`);
    for (const s of unresolved) console.error(`  ${s}`);
  }

  const runtimeCycles = new Set(runtime.circular().map((c) => c.join(' -> ')));
  const cycles = all.circular();
  if (cycles.length > 0) {
    failed = true;
    console.error(`${name}: ${cycles.length} circular import${cycles.length === 1 ? '' : 's'}:`);
    for (const cycle of cycles) {
      const path = cycle.join(' -> ');
      const label = runtimeCycles.has(path) ? 'runtime' : 'type-only';
      console.error(`  [${label}] ${path} -> ${cycle[0]}`);
    }
  }
}

if (failed) process.exit(1);
console.log(`check-circular: no circular imports in ${files} files`);
