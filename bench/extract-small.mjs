#!/usr/bin/env node
// Small-file extract, interleaved, durable and fast (issue #11): portarc's default (fsync) against
// GNU tar and bsdtar each followed by `sync -f DEST`, and `portarc --no-fsync` against the bare
// peers. Only extract, so that it fits a loaded machine: run.mjs times create first and, past its
// time budget, skips the extract cells. Each tool extracts its own archive of the `small` set
// (made untimed); the runs go round-robin over the tools; `sync` runs untimed before each run;
// extracted trees are moved aside and deleted at the end (a delete slows the next run here).
//   node bench/extract-small.mjs [--rounds N] [--no-save]
// Prints a Markdown table (median of N, ratio to the peer of the same durability, peak RSS) and
// stores it in bench/results/<UTC>-extract-small.md.
import { spawnSync } from 'node:child_process';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_DIR, ensureDataset } from './datasets.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = join(HERE, '..');
const args = process.argv.slice(2);
const rounds = Number(args[args.indexOf('--rounds') + 1]) || 3;
const save = !args.includes('--no-save');

const GNU = ['--xattrs', '--xattrs-include=*', '--selinux', '--acls'];
const BSD = ['--xattrs', '--acls'];

const ds = await ensureDataset('small');
const work = join(BENCH_DIR, 'work-extract-small');
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
const q = (s) => `'${s.replaceAll("'", "'\\''")}'`;
const sh = (cmd) => {
  const r = spawnSync('sh', ['-c', cmd], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`);
  return r;
};
const node = process.execPath;
const A = { portarc: join(work, 'p.tar'), gnu: join(work, 'g.tar'), bsd: join(work, 'b.tar') };
sh(`${q(node)} ${q(join(REPO, 'bin/portarc.js'))} create -f ${q(A.portarc)} -C ${q(ds.dir)} ${q(ds.root)}`);
sh(`tar ${GNU.map(q).join(' ')} -cf ${q(A.gnu)} -C ${q(ds.dir)} ${q(ds.root)}`);
sh(`bsdtar ${BSD.join(' ')} -cf ${q(A.bsd)} -C ${q(ds.dir)} ${q(ds.root)}`);

const RSS = join(HERE, 'rss.mjs');
const timed = (cmd) => `/usr/bin/time -f 'bench-rss-kib %M' ${cmd}`;
const tools = [
  { id: 'portarc', label: '**portarc** (fsync)', durable: true, cmd: (d) => `${q(node)} ${q(RSS)} extract -p -f ${q(A.portarc)} -C ${q(d)}` },
  { id: 'gnu-sync', label: 'GNU tar + sync -f', durable: true, peer: true, cmd: (d) => timed(`tar ${GNU.map(q).join(' ')} -xpf ${q(A.gnu)} -C ${q(d)}`) + ` && sync -f ${q(d)}` },
  { id: 'bsd-sync', label: 'bsdtar + sync -f', durable: true, peer: true, cmd: (d) => timed(`bsdtar ${BSD.join(' ')} -xpf ${q(A.bsd)} -C ${q(d)}`) + ` && sync -f ${q(d)}` },
  { id: 'portarc-nofsync', label: '**portarc --no-fsync**', durable: false, cmd: (d) => `${q(node)} ${q(RSS)} extract -p --no-fsync -f ${q(A.portarc)} -C ${q(d)}` },
  { id: 'gnu', label: 'GNU tar', durable: false, peer: true, cmd: (d) => timed(`tar ${GNU.map(q).join(' ')} -xpf ${q(A.gnu)} -C ${q(d)}`) },
  { id: 'bsd', label: 'bsdtar', durable: false, peer: true, cmd: (d) => timed(`bsdtar ${BSD.join(' ')} -xpf ${q(A.bsd)} -C ${q(d)}`) },
];
const times = Object.fromEntries(tools.map((t) => [t.id, []]));
const rss = Object.fromEntries(tools.map((t) => [t.id, 0]));
const load0 = loadavg();
let n = 0;
for (let round = 0; round < rounds; round++) {
  for (const t of tools) {
    const dest = join(work, `x-${n++}`);
    mkdirSync(dest);
    spawnSync('sync');
    const t0 = process.hrtime.bigint();
    const r = spawnSync('sh', ['-c', t.cmd(dest)], { encoding: 'utf8' });
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r.status !== 0) throw new Error(`${t.id}: exit ${r.status}: ${r.stderr}`);
    const kib = Number(/(?:portarc-maxrss-kib|bench-rss-kib) (\d+)/.exec(r.stderr)?.[1] ?? 0);
    times[t.id].push(s);
    rss[t.id] = Math.max(rss[t.id], kib / 1024);
    const files = Number(sh(`find ${q(dest)} -type f | wc -l`).stdout.trim());
    if (files !== ds.files) throw new Error(`${t.id}: ${files} files restored, not ${ds.files}`);
    renameSync(dest, join(work, `trash-${n}`)); // deleted at the end (see the header)
    process.stderr.write(`round ${round + 1} ${t.id}: ${s.toFixed(2)} s, ${(kib / 1024).toFixed(1)} MiB\n`);
  }
}
const load1 = loadavg();

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const med = Object.fromEntries(tools.map((t) => [t.id, median(times[t.id])]));
const rev = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO, encoding: 'utf8' }).stdout.trim();
// The filesystem extracted into, as stat(1) names it (ext4, tmpfs...): PORTARC_BENCH_DIR may move it.
const fsType = spawnSync('stat', ['-f', '-c', '%T', work], { encoding: 'utf8' }).stdout.trim() || 'unknown filesystem';
const lines = [
  `# small-file extract, durable and fast (${new Date().toISOString().slice(0, 16)}Z, portarc ${rev})`,
  '',
  `Set: ${ds.files} files, ${ds.dirs} directories, ${(ds.bytes / 2 ** 20).toFixed(0)} MiB (bench/datasets.mjs \`small\`), warm cache, extracted into ${fsType} (${work}). ` +
    `${rounds} interleaved rounds, median. Load average ${load0.map((x) => x.toFixed(1)).join(' ')} at start, ${load1.map((x) => x.toFixed(1)).join(' ')} at end: ` +
    'the 2-core machine was shared with other sessions running builds, tests and benchmarks.',
  '',
  '| tool | median s | runs (s) | × GNU tar (same durability) | × bsdtar (same durability) | peak RSS MiB |',
  '|---|---:|---|---:|---:|---:|',
];
for (const t of tools) {
  const gnu = med[t.durable ? 'gnu-sync' : 'gnu'];
  const bsd = med[t.durable ? 'bsd-sync' : 'bsd'];
  const ratio = (p) => (t.peer ? '' : `${(med[t.id] / p).toFixed(2)}x`);
  lines.push(`| ${t.label} | ${med[t.id].toFixed(2)} | ${times[t.id].map((x) => x.toFixed(2)).join(', ')} | ${ratio(gnu)} | ${ratio(bsd)} | ${rss[t.id].toFixed(1)} |`);
}
lines.push('', 'Goal (issue #11): portarc time ÷ bsdtar time ≤ 1 and ÷ GNU tar time ≤ 1.25 (≥ 0.8x its speed); peak RSS < 100 MiB.');
const md = lines.join('\n') + '\n';
process.stdout.write(md);
if (save) {
  const file = join(HERE, 'results', `${new Date().toISOString().slice(0, 16).replace(/:/g, '')}Z-extract-small.md`);
  writeFileSync(file, md);
  process.stderr.write(`saved ${file}\n`);
}
process.stderr.write(`deleting ${work} ...\n`);
rmSync(work, { recursive: true, force: true });
