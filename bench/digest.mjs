#!/usr/bin/env node
// What the manifest's digests cost `create` (issue #10; DESIGN §5 "hashing overlaps I/O": under
// 10%): `portarc create` with the manifest (the default: SHA-256 of every entry, of every member's
// header and data ranges, of the whole archive, and for .tar.zst of the compressed stream) against
// `create --no-manifest`, plain tar and .tar.zst, on the 2 GiB set and the 50,000-file set
// (bench/datasets.mjs). One interleaved run: every round runs each variant once, in a rotating
// order; medians of --rounds rounds. A diagnostic row runs the library with the hashing forced onto
// the main thread (`hashing: 'thread'`, the path small archives take): what the worker saves.
//
//   npm run bench:digest                       both sets, 5 rounds
//   npm run bench:digest -- --quick            the -quick sets, 3 rounds (a smoke run)
//   npm run bench:digest -- --rounds 7 --out /some/dir
//   npm run bench:digest -- --sets big --containers tar
//
// The archive is written to --out (default /dev/shm when it exists: no disk wait to hide the
// hashing behind, the strict case), and removed after each run. Results: bench/results/STAMP-digest.md.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureDataset } from './datasets.mjs';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const BIN = join(ROOT, 'bin/portarc.js');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const quick = process.argv.includes('--quick');
const ROUNDS = Number(arg('rounds', quick ? 3 : 5));
const OUT = join(arg('out', existsSync('/dev/shm') ? '/dev/shm' : join(ROOT, 'bench')), `portarc-bench-digest-${process.pid}`);
const TIME = '/usr/bin/time';
if (!existsSync(TIME)) throw new Error('/usr/bin/time is needed (apt-get install time) for CPU times and peak RSS');
if (!existsSync(join(ROOT, 'dist/api/index.js'))) throw new Error('build first: npx tsc -p tsconfig.json');

/** create() through the library with the hashing forced onto the main thread (the diagnostic). */
const THREAD_RUNNER = `
const [dest, cwd] = process.argv.slice(-2);
import(${JSON.stringify(join(ROOT, 'dist/api/index.js'))}).then((m) => m.create(['tree'], dest, { cwd, hashing: 'thread' }));
`;

const sets = (arg('sets') ?? 'big,small').split(',').map((n) => (quick ? `${n}-quick` : n));
const containers = (arg('containers') ?? 'tar,tar.zst').split(',');
const variants = [
  { id: 'manifest', label: 'create (manifest)', argv: (dest, cwd) => [BIN, 'create', '-f', dest, '-C', cwd, 'tree'] },
  { id: 'plain', label: 'create --no-manifest', argv: (dest, cwd) => [BIN, 'create', '--no-manifest', '-f', dest, '-C', cwd, 'tree'] },
  { id: 'thread', label: 'manifest, hashing on the main thread (diag)', argv: (dest, cwd) => [join(OUT, 'thread-runner.mjs'), dest, cwd] },
];

/** One timed run: wall seconds, CPU seconds (user+sys, all threads), peak RSS in MiB. */
function runOnce(argv, dest) {
  rmSync(dest, { force: true });
  spawnSync('sync');
  const t0 = process.hrtime.bigint();
  const r = spawnSync(TIME, ['-f', 'RUSAGE %U %S %M', process.execPath, ...argv], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const m = /RUSAGE ([\d.]+) ([\d.]+) (\d+)\s*$/.exec(r.stderr);
  if (r.status !== 0 || !m) throw new Error(`${argv.join(' ')}: exit ${r.status}: ${r.stderr}`);
  const size = statSync(dest).size;
  rmSync(dest, { force: true });
  return { wall, cpu: Number(m[1]) + Number(m[2]), rss: Number(m[3]) / 1024, size };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

mkdirSync(OUT, { recursive: true });
writeFileSync(join(OUT, 'thread-runner.mjs'), THREAD_RUNNER);
const load0 = loadavg();
const rows = [];
try {
  for (const name of sets) {
    const set = await ensureDataset(name);
    for (const ext of containers) {
      const dest = join(OUT, `a.${ext}`);
      const runs = Object.fromEntries(variants.map((v) => [v.id, []]));
      for (let round = 0; round < ROUNDS; round++) {
        // Rotate the order, so that no variant always runs first (or right after the same one).
        for (let k = 0; k < variants.length; k++) {
          const v = variants[(round + k) % variants.length];
          const r = runOnce(v.argv(dest, set.dir), dest);
          runs[v.id].push(r);
          process.stderr.write(`${name} ${ext} round ${round + 1}/${ROUNDS} ${v.id}: ${r.wall.toFixed(2)} s wall, ${r.cpu.toFixed(2)} s CPU, ${r.rss.toFixed(0)} MiB\n`);
        }
      }
      const med = (id, k) => median(runs[id].map((r) => r[k]));
      const plainWall = med('plain', 'wall');
      const plainCpu = med('plain', 'cpu');
      for (const v of variants) {
        rows.push({
          set: `${name} (${set.files} files, ${(set.bytes / 2 ** 20).toFixed(0)} MiB)`,
          ext,
          label: v.label,
          id: v.id,
          wall: med(v.id, 'wall'),
          min: Math.min(...runs[v.id].map((r) => r.wall)),
          cpu: med(v.id, 'cpu'),
          rss: Math.max(...runs[v.id].map((r) => r.rss)),
          overhead: v.id === 'plain' ? undefined : (100 * (med(v.id, 'wall') - plainWall)) / plainWall,
          cpuOverhead: v.id === 'plain' ? undefined : (100 * (med(v.id, 'cpu') - plainCpu)) / plainCpu,
        });
      }
    }
  }
} finally {
  rmSync(OUT, { recursive: true, force: true });
}

const pct = (x) => (x === undefined ? '' : `${x >= 0 ? '+' : ''}${x.toFixed(1)}%`);
const L = [];
L.push(`# Digest cost of create (${new Date().toISOString()})`);
L.push('');
L.push(`Node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load average ${load0.map((x) => x.toFixed(1)).join(' ')} at the start, ${loadavg().map((x) => x.toFixed(1)).join(' ')} at the end.`);
L.push(`${ROUNDS} interleaved rounds, medians (best wall time too). Archive written to ${dirname(OUT)}. "overhead": median wall time against \`--no-manifest\` on the same set and container; CPU is user+sys of all threads (the hashing worker included).`);
L.push('');
L.push('| set | container | variant | wall (median) | wall (best) | overhead | CPU | CPU overhead | peak RSS |');
L.push('|---|---|---|---|---|---|---|---|---|');
for (const r of rows) L.push(`| ${r.set} | ${r.ext} | ${r.label} | ${r.wall.toFixed(2)} s | ${r.min.toFixed(2)} s | ${pct(r.overhead)} | ${r.cpu.toFixed(2)} s | ${pct(r.cpuOverhead)} | ${r.rss.toFixed(0)} MiB |`);
L.push('');
const bar = rows.filter((r) => r.id === 'manifest');
const met = bar.every((r) => r.overhead < 10);
L.push(`Bar (DESIGN §5, issue #10): create with digests under 10% more than without, on every row above: ${met ? '**met**' : '**not met**'} (${bar.map((r) => `${r.set.split(' ')[0]} ${r.ext} ${pct(r.overhead)}`).join(', ')}).`);
const text = L.join('\n') + '\n';
process.stdout.write(text);
mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
const file = join(ROOT, 'bench/results', `${new Date().toISOString().slice(0, 16).replace(':', '')}Z-digest${quick ? '-quick' : ''}.md`);
writeFileSync(file, text);
process.stderr.write(`written: ${file}\n`);
