#!/usr/bin/env node
// The package's install script: builds the optional native addon (native/portarc_sys.c →
// build/Release/portarc_sys.node) with node-gyp.
//
// DESIGN: the addon only makes portarc faster and more exact (ns timestamps, one syscall per
// xattr instead of a getfattr/setfattr run); src/fs/sys.ts falls back to those programs when
// it is missing. So an install must never fail because the addon did not build: on any
// failure this prints one line and exits 0. Set PORTARC_NO_NATIVE=1 to skip the build.

import { spawnSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const FALLBACK = 'portarc: the native addon was not built; portarc will use the slower getfattr/setfattr fallback';

if (process.env.PORTARC_NO_NATIVE === '1' || process.platform === 'win32') {
  console.log(`portarc: native addon skipped (${process.platform === 'win32' ? 'Windows' : 'PORTARC_NO_NATIVE=1'})`);
  process.exit(0);
}

/** The first way of running node-gyp that exists here, as [command, ...args]. */
function findNodeGyp() {
  // npm's own copy, found from the npm that runs this script or the npm on PATH.
  const npmClis = [];
  if (process.env.npm_execpath) npmClis.push(process.env.npm_execpath);
  const npmOnPath = onPath('npm');
  if (npmOnPath) npmClis.push(npmOnPath);
  for (const cli of npmClis) {
    try {
      const js = join(dirname(realpathSync(cli)), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
      if (existsSync(js)) return [process.execPath, js];
    } catch {
      // not a real file; try the next
    }
  }
  // npm puts its node-gyp-bin on PATH during lifecycle scripts.
  const onPathGyp = onPath('node-gyp');
  if (onPathGyp) return [onPathGyp];
  return ['npm', 'exec', '--yes=false', 'node-gyp', '--'];
}

function onPath(name) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

const [command, ...args] = findNodeGyp();
args.push('rebuild');
// Outside npm nobody tells node-gyp where the headers are, and it would download them. A
// distro or tarball node keeps them next to itself (<prefix>/include/node), so use those.
const prefix = resolve(dirname(process.execPath), '..');
if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'common.gypi'))) {
  args.push(`--nodedir=${prefix}`);
}

const run = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
if (run.status === 0) {
  console.log('portarc: native addon built');
} else {
  console.warn(FALLBACK);
}
process.exit(0);
