#!/usr/bin/env node
// Benchmark driver for node-tar (npm `tar`, v7), run as its own process so its RSS is its own.
//   node node-tar.mjs create  ARCHIVE CWD PATH... [--gzip]
//   node node-tar.mjs extract ARCHIVE DEST [--gzip]
// The API calls are the documented defaults: tar.c({ cwd, file }, paths) and tar.x({ cwd, file }).
// node-tar's async create has been seen to never settle (the process then exits 0 with a truncated
// archive: shared/deps/REPORT.md §2), so a run that ends before the promise settles exits 3.
import * as tar from 'tar';

const args = process.argv.slice(2);
const gzip = args.includes('--gzip');
const [op, file, dir, ...paths] = args.filter((a) => a !== '--gzip');
let settled = false;
process.on('exit', (code) => {
  if (!settled && code === 0) {
    process.stderr.write('node-tar: the operation never settled (stall)\n');
    process.exitCode = 3;
  }
});
if (op === 'create') await tar.c({ cwd: dir, file, gzip }, paths);
else if (op === 'extract') await tar.x({ cwd: dir, file }); // gzip is detected on read
else throw new Error(`usage: node-tar.mjs create|extract ...`);
settled = true;
