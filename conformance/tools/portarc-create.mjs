#!/usr/bin/env node
// `portarc create` for making vectors, through the library: scan() the paths, drop atime and ctime
// (ctime cannot be set, so with them no two runs would give the same bytes), write with create().
// Usage: node conformance/tools/portarc-create.mjs -f OUT.tar -C DIR [--sparse] PATH...
import { create, scan } from '../../dist/api/index.js';

const args = process.argv.slice(2);
let file;
let cwd = '.';
let sparse = false;
const paths = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '-f') file = args[++i];
  else if (args[i] === '-C') cwd = args[++i];
  else if (args[i] === '--sparse' || args[i] === '-S') sparse = true;
  else paths.push(args[i]);
}
if (!file || !paths.length) {
  process.stderr.write('usage: portarc-create.mjs -f OUT.tar -C DIR [--sparse] PATH...\n');
  process.exit(2);
}

async function* entries() {
  for await (const scanned of scan(paths, { cwd, sparse })) {
    delete scanned.entry.atimeNs;
    delete scanned.entry.ctimeNs;
    yield scanned;
  }
}

const result = await create(entries(), file);
for (const w of result.warnings) process.stderr.write(`portarc-create: warning: ${w}\n`);
process.exitCode = result.warnings.length ? 1 : 0;
