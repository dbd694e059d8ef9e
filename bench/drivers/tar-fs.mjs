#!/usr/bin/env node
// Benchmark driver for tar-fs (npm `tar-fs`, v3), run as its own process so its RSS is its own.
//   node tar-fs.mjs create  ARCHIVE CWD PATH... [--gzip]
//   node tar-fs.mjs extract ARCHIVE DEST [--gzip]
// pack(cwd, { entries }) piped to a file (through zlib's gzip with --gzip); createReadStream piped
// (through gunzip) to extract(dest).
import { createReadStream, createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { extract, pack } from 'tar-fs';

const args = process.argv.slice(2);
const gzip = args.includes('--gzip');
const [op, file, dir, ...paths] = args.filter((a) => a !== '--gzip');
if (op === 'create') {
  const src = pack(dir, { entries: paths });
  if (gzip) await pipeline(src, createGzip(), createWriteStream(file));
  else await pipeline(src, createWriteStream(file));
} else if (op === 'extract') {
  if (gzip) await pipeline(createReadStream(file), createGunzip(), extract(dir));
  else await pipeline(createReadStream(file), extract(dir));
} else throw new Error('usage: tar-fs.mjs create|extract ...');
