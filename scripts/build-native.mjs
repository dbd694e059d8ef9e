#!/usr/bin/env node
// The package's install script: builds the optional native addon (native/portarc_sys.c →
// build/Release/portarc_sys.node) with node-gyp.
//
// DESIGN: the addon only makes portarc faster and more exact (ns timestamps, one syscall per
// xattr instead of a getfattr/setfattr run); src/fs/sys.ts falls back to those programs when
// it is missing. So an install must never fail because the addon did not build: on any
// failure this prints one line and exits 0. Set PORTARC_NO_NATIVE=1 to skip the build.
// Quiet: the toolchain node-gyp needs (make, a C compiler, Python) is probed first, so a machine
// without one gets one line instead of node-gyp's `gyp ERR!` stack; node-gyp's own output goes to
// build/native-build.log, shown only by path when the build fails.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, realpathSync, writeFileSync } from 'node:fs';
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

/** What node-gyp needs and this machine lacks (empty when the build can be tried). */
function missingTools() {
  const missing = [];
  if (!onPath('make')) missing.push('make');
  const cc = [process.env.CC, 'cc', 'gcc', 'clang'].filter(Boolean);
  const cxx = [process.env.CXX, 'c++', 'g++', 'clang++'].filter(Boolean);
  if (!cc.some((c) => onPath(c.split(' ')[0]))) missing.push('a C compiler (cc)');
  if (!cxx.some((c) => onPath(c.split(' ')[0]))) missing.push('a C++ compiler (g++)');
  if (!process.env.npm_config_python && !process.env.PYTHON && !onPath('python3') && !onPath('python')) missing.push('python3');
  return missing;
}

const missing = missingTools();
if (missing.length) {
  console.log(`portarc: native addon not built (no ${missing.join(', ')}): portarc uses the getfattr/setfattr fallback`);
  process.exit(0);
}

const [command, ...args] = findNodeGyp();
args.push('rebuild');
// Outside npm nobody tells node-gyp where the headers are, and it would download them. A
// distro or tarball node keeps them next to itself (<prefix>/include/node), so use those.
const prefix = resolve(dirname(process.execPath), '..');
if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'common.gypi'))) {
  args.push(`--nodedir=${prefix}`);
}

const run = spawnSync(command, args, { cwd: root, encoding: 'utf8', maxBuffer: 1 << 26 });
if (run.status === 0) {
  console.log('portarc: native addon built');
} else {
  // node-gyp's output (a page of `gyp ERR!` lines) goes to a log; one line says where.
  const log = join(root, 'build', 'native-build.log');
  try {
    mkdirSync(dirname(log), { recursive: true });
    writeFileSync(log, `${command} ${args.join(' ')}\n${run.error ? `${run.error.message}\n` : ''}${run.stdout ?? ''}${run.stderr ?? ''}`);
    console.warn(`${FALLBACK} (build log: ${log})`);
  } catch {
    console.warn(FALLBACK);
  }
}
process.exit(0);
