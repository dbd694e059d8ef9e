#!/usr/bin/env node
// Create rows only, on the small set (50,000 files), interleaved run by run: portarc (durable: writes
// NAME.partial, fsyncs, renames), portarc -f - > A (no fsync), and GNU tar and bsdtar bare and each
// followed by `sync -f A` (issue #11: the durable default against each peer followed by sync, the
// no-fsync run against the bare peers). Median of --reps N rounds (default 5), peak RSS of each.
// `npm run build` first. Usage: node bench/create-small.mjs [--reps N] [--modes none,zstd] [--no-save]
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureDataset } from './datasets.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const RSS = join(HERE, 'rss.mjs');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const reps = Number(opt('--reps', '5'));
const modes = opt('--modes', 'none,zstd').split(',');
const ds = await ensureDataset('small');
const work = join(process.env.PORTARC_BENCH_DIR ?? '/tmp/portarc-bench', 'create-small');
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });

const GNU = ['--xattrs', '--xattrs-include=*', '--selinux', '--acls'];
const BSD = ['--xattrs', '--acls'];
const flag = (m) => (m === 'gzip' ? ['-z'] : m === 'zstd' ? ['--zstd'] : []);
const ext = { none: 'tar', gzip: 'tar.gz', zstd: 'tar.zst' };
const q = (s) => `'${s.replace(/'/g, "'\\''")}'`;
const tools = (m) => {
  const a = join(work, `a.${ext[m]}`);
  const pc = ['node', RSS, 'create', ...(m === 'none' ? [] : [`--${m}`]), '-f'];
  const gnu = ['tar', ...GNU, ...flag(m), '-cf', a, '-C', ds.dir, ds.root].map(q).join(' ');
  const bsd = ['bsdtar', ...BSD, ...flag(m), '-cf', a, '-C', ds.dir, ds.root].map(q).join(' ');
  return [
    ['portarc (fsync)', `${[...pc, a, '-C', ds.dir, ds.root].map(q).join(' ')}`, 'node'],
    ['GNU tar + sync -f', `/usr/bin/time -f %M -o ${work}/rss ${gnu} && sync -f ${q(a)}`, 'time'],
    ['bsdtar + sync -f', `/usr/bin/time -f %M -o ${work}/rss ${bsd} && sync -f ${q(a)}`, 'time'],
    ['portarc -f - (no fsync)', `${[...pc, '-', '-C', ds.dir, ds.root].map(q).join(' ')} > ${q(a)}`, 'node'],
    ['GNU tar', `/usr/bin/time -f %M -o ${work}/rss ${gnu}`, 'time'],
    ['bsdtar', `/usr/bin/time -f %M -o ${work}/rss ${bsd}`, 'time'],
  ].map(([name, cmd, rss]) => ({ name, cmd, rss, a }));
};

const load0 = loadavg().map((x) => x.toFixed(2)).join(' ');
const rows = [];
for (const m of modes) {
  const ts = tools(m);
  const res = ts.map(() => ({ times: [], rss: [] }));
  for (let r = 0; r < reps; r++) {
    for (const [k, t] of ts.entries()) {
      rmSync(t.a, { force: true });
      spawnSync('sync');
      const t0 = process.hrtime.bigint();
      const run = spawnSync('bash', ['-o', 'pipefail', '-c', t.cmd], { encoding: 'utf8' });
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      if (run.status !== 0) throw new Error(`${t.name}: exit ${run.status}: ${run.stderr}`);
      res[k].times.push(s);
      const kib = t.rss === 'node' ? Number(/portarc-maxrss-kib (\d+)/.exec(run.stderr)?.[1]) : Number(spawnSync('cat', [`${work}/rss`], { encoding: 'utf8' }).stdout.trim().split('\n').pop());
      res[k].rss.push(kib / 1024);
      res[k].size = statSync(t.a).size;
    }
  }
  const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  for (const [k, t] of ts.entries()) rows.push({ mode: m, name: t.name, median: med(res[k].times), min: Math.min(...res[k].times), rss: Math.max(...res[k].rss), mib: res[k].size / 2 ** 20 });
}
const load1 = loadavg().map((x) => x.toFixed(2)).join(' ');
const by = (m, n) => rows.find((r) => r.mode === m && r.name === n).median;
let md = `# small-file create, interleaved (${new Date().toISOString()})\n\n${ds.files ?? ds.stats?.files} files; ${reps} rounds, tools alternating; median and best wall-clock seconds; peak RSS (max over rounds).\nLoad average at start ${load0}, at end ${load1} (2 cores shared with other sessions).\n\n`;
md += '| mode | tool | median s | best s | peak RSS MiB | archive MiB | portarc ÷ this (median) |\n|---|---|---:|---:|---:|---:|---:|\n';
for (const r of rows) {
  const ours = r.name.includes('sync') || r.name === 'portarc (fsync)' ? by(r.mode, 'portarc (fsync)') : by(r.mode, 'portarc -f - (no fsync)');
  md += `| ${r.mode} | ${r.name} | ${r.median.toFixed(2)} | ${r.min.toFixed(2)} | ${r.rss.toFixed(0)} | ${r.mib.toFixed(1)} | ${r.name.startsWith('portarc') ? '' : (ours / r.median).toFixed(2) + 'x'} |\n`;
}
console.log(md);
if (!args.includes('--no-save')) {
  const stamp = new Date().toISOString().replace(/:\d\d\.\d+Z$/, 'Z').replace(/:/g, '');
  writeFileSync(join(HERE, 'results', `${stamp}-create-small.md`), md);
}
rmSync(work, { recursive: true, force: true });
