#!/usr/bin/env node
// Recovery-data benchmark (issue #14): what `create --recovery 5%` (sidecar, and embedded with
// --embed-recovery) adds to `create` on the 2 GiB
// set, the parity throughput (the recovery set alone, writeRecovery on the finished archive: the
// native kernel, and with --js the JS fallback), and `par2 create` (par2cmdline) on the same
// archive at the same redundancy. Medians of --runs rounds, each round running every command
// once (interleaved, so that load from other processes hits them alike); results to
// bench/results/. Usage: node bench/recovery.mjs [--quick] [--runs N] [--percent P] [--js]

import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { BENCH_DIR, ensureDataset } from './datasets.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin/portarc.js');
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const opt = (name, dflt) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : dflt);
const runs = opt('--runs', quick ? 1 : 3);
const percent = opt('--percent', 5);
const withJs = args.includes('--js');
const PARITY = join(ROOT, 'bench/drivers/parity-only.mjs');

function time(cmd, argv, cwd) {
  const t0 = performance.now();
  const r = spawnSync(cmd, argv, { cwd, encoding: 'utf8', maxBuffer: 1 << 26 });
  const s = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')}: exit ${r.status}\n${r.stderr}`);
  return s;
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
/** The archive and every par2 file beside it, so each run starts from nothing. */
function clean(dir, base) {
  for (const n of readdirSync(dir)) if (n.startsWith(base)) rmSync(join(dir, n), { force: true });
}
function parBytes(dir, base) {
  return readdirSync(dir).filter((n) => n.startsWith(base) && n.endsWith('.par2')).reduce((s, n) => s + statSync(join(dir, n)).size, 0);
}

const set = await ensureDataset(quick ? 'big-quick' : 'big');
const tree = join(set.dir, set.root);
const work = join(BENCH_DIR, 'recovery');
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });

const rows = { plain: [], recovery: [], embedded: [], parity: [], js: [], par2: [] };
let kernel = '';
/** writeRecovery alone on the archive (the driver prints its kernel's name and seconds). */
function parityOnly(env) {
  const r = spawnSync(process.execPath, [PARITY, join(work, 'a.tar'), String(percent)], { encoding: 'utf8', env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`parity-only: exit ${r.status}\n${r.stderr}`);
  const [name, seconds] = r.stdout.trim().split(' ');
  return { name, seconds: Number(seconds) };
}
let archiveBytes = 0, ourParity = 0, theirParity = 0;
for (let i = 0; i < runs; i++) {
  clean(work, 'a.tar');
  rows.plain.push(time(process.execPath, [BIN, 'create', '--no-manifest', '-f', join(work, 'a.tar'), '-C', tree, '.']));
  clean(work, 'a.tar');
  rows.recovery.push(time(process.execPath, [BIN, 'create', '--no-manifest', `--recovery`, `${percent}%`, '-f', join(work, 'a.tar'), '-C', tree, '.']));
  archiveBytes = statSync(join(work, 'a.tar')).size;
  ourParity = parBytes(work, 'a.tar');
  clean(work, 'e.tar');
  rows.embedded.push(time(process.execPath, [BIN, 'create', '--no-manifest', `--recovery`, `${percent}%`, '--embed-recovery', '-f', join(work, 'e.tar'), '-C', tree, '.']));
  clean(work, 'e.tar');
  const p = parityOnly({});
  kernel = p.name;
  rows.parity.push(p.seconds);
  if (withJs && i === 0) rows.js.push(parityOnly({ PORTARC_NO_NATIVE: '1' }).seconds);
  // par2cmdline on the archive just written, same redundancy, its own sidecar name.
  clean(work, 'b.'); // b.par2 and b.vol*.par2
  for (const n of readdirSync(work)) if (n.startsWith('a.tar') && n.endsWith('.par2')) rmSync(join(work, n));
  rows.par2.push(time('par2', ['create', '-q', '-q', `-r${percent}`, '-n1', 'b.par2', 'a.tar'], work));
  theirParity = parBytes(work, 'b');
  // Progress (and the numbers so far, should a later round fail).
  console.error(`round ${i + 1}: ${Object.entries(rows).map(([k, v]) => `${k} ${v.at(-1)?.toFixed(2) ?? '-'}`).join(', ')}`);
}

const plain = median(rows.plain), rec = median(rows.recovery), emb = median(rows.embedded), par2 = median(rows.par2), parity = median(rows.parity);
const MB = archiveBytes / 1e6;
const lines = [
  `# Recovery data (${new Date().toISOString()}, ${quick ? 'big-quick' : 'big'} set, ${(archiveBytes / 2 ** 20).toFixed(0)} MiB archive, ${percent}% redundancy, median of ${runs} interleaved rounds)`,
  '',
  `Machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load average ${loadavg().map((x) => x.toFixed(1)).join(' ')} at the end (shared with other jobs: timings are noisy).`,
  '',
  '| what | seconds | note |',
  '|---|---|---|',
  `| portarc create | ${plain.toFixed(2)} | no manifest, no recovery |`,
  `| portarc create --recovery ${percent}% | ${rec.toFixed(2)} | +${(rec - plain).toFixed(2)} s (${(((rec - plain) / plain) * 100).toFixed(0)}% more); parity ${(ourParity / 2 ** 20).toFixed(1)} MiB |`,
  `| portarc create --recovery ${percent}% --embed-recovery | ${emb.toFixed(2)} | +${(emb - plain).toFixed(2)} s (${(((emb - plain) / plain) * 100).toFixed(0)}% more); the set inside the archive file (computed into a temporary file, then copied) |`,
  `| portarc recovery set alone (${kernel}) | ${parity.toFixed(2)} | ${(MB / parity).toFixed(0)} MB/s of archive protected (hashing + parity) |`,
  ...(rows.js.length ? [`| the same, JS kernel (PORTARC_NO_NATIVE=1, one run) | ${rows.js[0].toFixed(2)} | ${(MB / rows.js[0]).toFixed(0)} MB/s |`] : []),
  `| par2 create -r${percent} -n1 | ${par2.toFixed(2)} | par2cmdline on the same archive; parity ${(theirParity / 2 ** 20).toFixed(1)} MiB; ${(MB / par2).toFixed(0)} MB/s |`,
  '',
  `portarc's recovery set costs ${(parity / par2).toFixed(2)}x par2cmdline's time for the same archive and redundancy.`,
  `All rounds (s): create ${rows.plain.map((x) => x.toFixed(1)).join(', ')}; --recovery ${rows.recovery.map((x) => x.toFixed(1)).join(', ')}; embedded ${rows.embedded.map((x) => x.toFixed(1)).join(', ')}; set alone ${rows.parity.map((x) => x.toFixed(1)).join(', ')}; par2 ${rows.par2.map((x) => x.toFixed(1)).join(', ')}.`,
];
const text = lines.join('\n') + '\n';
process.stdout.write(text);
mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
writeFileSync(join(ROOT, 'bench/results', `${new Date().toISOString().slice(0, 16).replace(':', '')}Z-recovery${quick ? '-quick' : ''}.md`), text);
rmSync(work, { recursive: true, force: true });
