#!/usr/bin/env node
// Random access by the manifest (issue #10; spec/manifest.md §11): one small file out of a 2 GiB
// plain tar and a 2 GiB seekable .tar.zst, via the library's open() and via `portarc extract -f A
// PATH`, against a full `portarc extract` of the same archive. Reports bytes read and the time ratio.
//
//   npm run bench:random                 2 GiB (default)
//   npm run bench:random -- --size 256   256 MiB, a quick run
//
// The data is compressible (text-like, repeated with variation) so that zstd runs at a realistic
// speed; 512 files of SIZE/512 plus one 4 KiB needle in the middle.

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = dirname(dirname(fileURLToPath(import.meta.url)));
const BIN = join(REPO, 'bin/portarc.js');
const { open } = await import(join(REPO, 'dist/api/random.js'));

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const MiB = 1 << 20;
const SIZE = Number(arg('size', 2048)) * MiB;
const FILES = 512;
const work = join(arg('dir', tmpdir()), 'portarc-bench-random');
rmSync(work, { recursive: true, force: true });
mkdirSync(join(work, 'src/data'), { recursive: true });

// Compressible data: lines of words with a counter, ~4:1 under zstd -3.
const words = 'alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau'.split(' ');
function block(seed, n) {
  const parts = [];
  let len = 0;
  for (let i = 0; len < n; i++) {
    const line = `${seed}:${i} ${words[(seed * 7 + i) % words.length]} ${words[(i * 13) % words.length]} ${(i * 2654435761) >>> 0}\n`;
    parts.push(line);
    len += line.length;
  }
  return Buffer.from(parts.join('')).subarray(0, n);
}
const per = Math.floor(SIZE / FILES);
for (let i = 0; i < FILES; i++) {
  writeFileSync(join(work, `src/data/f${String(i).padStart(4, '0')}.txt`), block(i, per));
  if (i === FILES / 2) writeFileSync(join(work, 'src/data/needle.txt'), block(99999, 4096));
}
const needle = createHash('sha256').update(readFileSync(join(work, 'src/data/needle.txt'))).digest('hex');

function run(args) {
  const t = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`portarc ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return Number(process.hrtime.bigint() - t) / 1e9;
}

const rows = [];
for (const name of ['big.tar', 'big.tar.zst']) {
  const file = join(work, name);
  const tCreate = run(['create', '-f', file, '-C', join(work, 'src'), '.']);
  const out = join(work, 'out');
  rmSync(out, { recursive: true, force: true });
  const tFull = run(['extract', '--no-fsync', '-f', file, '-C', out]);
  rmSync(out, { recursive: true, force: true });
  const tPath = run(['extract', '--no-fsync', '-f', file, '-C', out, 'data/needle.txt']);
  const ok = createHash('sha256').update(readFileSync(join(out, 'data/needle.txt'))).digest('hex') === needle;
  rmSync(out, { recursive: true, force: true });
  const t0 = process.hrtime.bigint();
  const a = await open(file);
  const h = createHash('sha256');
  for await (const c of a.read('data/needle.txt')) h.update(c);
  const tOpen = Number(process.hrtime.bigint() - t0) / 1e9;
  const bytes = a.bytesRead;
  await a.close();
  rows.push({ name, size: statSync(file).size, tCreate, tFull, tPath, tOpen, bytes, ok: ok && h.digest('hex') === needle });
  rmSync(file, { force: true });
}
rmSync(work, { recursive: true, force: true });

const f = (s) => `${s.toFixed(3)} s`;
console.log(`| archive (${(SIZE / MiB) | 0} MiB of data) | size | full extract | open()+read one 4 KiB file | bytes read | ratio | extract PATH (CLI, incl. Node start) | ratio |`);
console.log('|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.name} | ${(r.size / MiB).toFixed(0)} MiB | ${f(r.tFull)} | ${f(r.tOpen)} | ${(r.bytes / 1024).toFixed(0)} KiB | ${((100 * r.tOpen) / r.tFull).toFixed(3)}% | ${f(r.tPath)} | ${((100 * r.tPath) / r.tFull).toFixed(2)}% |`);
  if (!r.ok) console.log(`  ${r.name}: CONTENT MISMATCH`);
}
