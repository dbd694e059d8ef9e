#!/usr/bin/env node
// portarc's benchmark: portarc, GNU tar, bsdtar, node-tar and tar-fs side by side in one run, on
// deterministic data sets (bench/datasets.mjs), for create and extract, uncompressed, gzip and zstd,
// with cat / cp -a (the physical limit) and the zstd program (the compression reference). Prints a
// Markdown table of medians and the DESIGN §5 bars, and stores it under bench/results/ (JSON + .md).
//
//   npm run bench                          full run (< 15 min on the 2-core dev VM)
//   npm run bench -- --quick               tiny data sets, one run each: a ~1 minute smoke test
//   npm run bench -- --only small          only one set (big | small | xattr; repeat or comma-separate)
//   more: --reps N, --modes none,gzip,zstd, --big-gzip, --no-diag, --build, --no-save, --keep
//
// See bench/README.md for what is measured and how to read the table.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, lstatSync, renameSync, rmSync, statSync, writeFileSync, openSync, readSync, closeSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_DIR, DATASETS, ensureDataset, GENERATOR_VERSION } from './datasets.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = dirname(HERE);
const NODE = process.execPath;
const TIME = '/usr/bin/time';
const RSS_MJS = join(HERE, 'rss.mjs');
const MiB = 1 << 20;
/** Wall-clock budget of a full run: past SOFT every remaining cell runs once; past HARD the
 * remaining cells are skipped (marked in the table), so a run on a busy machine still ends < 15 min. */
const SOFT_DEADLINE_S = 11 * 60;
const HARD_DEADLINE_S = 13.5 * 60;

// ---------------------------------------------------------------------------------------------
// Options

function parseArgs(argv) {
  const o = { quick: false, only: [], reps: undefined, modes: ['none', 'gzip', 'zstd'], bigGzip: false, diag: true, build: false, save: true, keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--quick') o.quick = true;
    else if (a.startsWith('--only')) o.only.push(...val().split(','));
    else if (a.startsWith('--reps')) o.reps = Number(val());
    else if (a.startsWith('--modes')) o.modes = val().split(',');
    else if (a === '--big-gzip') o.bigGzip = true;
    else if (a === '--no-diag') o.diag = false;
    else if (a === '--build') o.build = true;
    else if (a === '--no-save') o.save = false;
    else if (a === '--keep') o.keep = true;
    else if (a === '-h' || a === '--help') {
      process.stdout.write(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 13).map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n');
      process.exit(0);
    } else throw new Error(`unknown option ${a} (see --help)`);
  }
  for (const s of o.only) if (!['big', 'small', 'xattr'].includes(s)) throw new Error(`--only: unknown set "${s}" (big, small, xattr)`);
  for (const m of o.modes) if (!['none', 'gzip', 'zstd'].includes(m)) throw new Error(`--modes: unknown mode "${m}" (none, gzip, zstd)`);
  return o;
}

const opts = parseArgs(process.argv.slice(2));
const t0 = performance.now();
const elapsed = () => (performance.now() - t0) / 1000;
const log = (s) => process.stderr.write(`[${fmtClock(elapsed())}] ${s}\n`);
function fmtClock(s) {
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(Math.floor(s % 60)).padStart(2, '0')}`;
}

// Per set: how many runs at most, and the cumulative seconds after which a cell stops repeating
// (so a 20 s cell runs once, a 1 s cell three times).
// (Cells that decide a bar get twice the budget.) deferDelete: extracted trees of many files are
// moved aside and deleted at the end of the set, because on this ext4 (mounted with `discard`) a
// run right after deleting 50,000 files is up to 8x slower: the next tool would pay for the delete.
const PLAN = opts.quick
  ? { big: { data: 'big-quick', maxReps: 1, budget: 0 }, small: { data: 'small-quick', maxReps: 1, budget: 0, deferDelete: true }, xattr: { data: 'xattr-quick', maxReps: 1, budget: 0, deferDelete: true } }
  : {
      big: { data: 'big', maxReps: 2, budget: 12 },
      small: { data: 'small', maxReps: 3, maxRepsCompressed: 2, budget: 12, deferDelete: true },
      xattr: { data: 'xattr', maxReps: 3, budget: 6, deferDelete: true },
    };
if (opts.reps) for (const p of Object.values(PLAN)) (p.maxReps = opts.reps), (p.maxRepsCompressed = opts.reps), (p.budget = Infinity);
const SETS = opts.only.length ? ['big', 'small', 'xattr'].filter((s) => opts.only.includes(s)) : ['big', 'small', 'xattr'];

// ---------------------------------------------------------------------------------------------
// Preflight: programs, peers, portarc's build and features

function which(cmd) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}
function firstLine(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.error ? null : `${r.stdout}${r.stderr}`.split('\n').find((l) => l.trim()) ?? null;
}

function preflight() {
  const problems = [];
  if (!existsSync(TIME) || spawnSync(TIME, ['-f', '%M', 'true'], { encoding: 'utf8' }).status !== 0) {
    problems.push(`${TIME} (GNU time) is missing: it measures the peers' peak RSS. Install it: apt-get install time`);
  }
  for (const p of ['tar', 'bsdtar', 'zstd', 'sync', 'cp', 'find', 'xargs']) if (!which(p)) problems.push(`${p} is missing (apt-get install ${p === 'bsdtar' ? 'libarchive-tools' : p})`);
  if (SETS.includes('xattr')) for (const p of ['setfattr', 'getfattr']) if (!which(p)) problems.push(`${p} is missing (apt-get install attr)`);
  if (!existsSync(join(REPO, 'dist/cli/main.js'))) problems.push('dist/ is not built: run `npm run build` (or pass --build)');
  if (problems.length) {
    for (const p of problems) process.stderr.write(`bench: ${p}\n`);
    process.exit(2);
  }
}

/** Install the JS peers from bench/package-lock.json (npm ci --prefix bench) unless already there. */
function ensurePeers() {
  const lock = JSON.parse(readFileSync(join(HERE, 'package-lock.json'), 'utf8'));
  const current = Object.entries(lock.packages)
    .filter(([k]) => k.startsWith('node_modules/'))
    .every(([k, v]) => {
      try {
        return JSON.parse(readFileSync(join(HERE, k, 'package.json'), 'utf8')).version === v.version;
      } catch {
        return v.optional === true;
      }
    });
  if (current) return;
  log('installing the JS peers: npm ci --prefix bench');
  const r = spawnSync('npm', ['ci', '--prefix', HERE, '--no-audit', '--no-fund'], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) {
    process.stderr.write('bench: npm ci --prefix bench failed\n');
    process.exit(2);
  }
}

/** Source files (src/, .ts) whose dist/ .js is missing or older: the run would measure an old build. */
function staleSources() {
  const stale = [];
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) {
        const out = join(REPO, 'dist', relative(join(REPO, 'src'), p)).replace(/\.ts$/, '.js');
        const built = sizeOf(out) === null ? 0 : statSync(out).mtimeMs;
        if (built < statSync(p).mtimeMs) stale.push(relative(REPO, p));
      }
    }
  };
  walk(join(REPO, 'src'));
  return stale;
}

/** Does the CLI write gzip / zstd (by option or by suffix)? Probed, never assumed. */
function detectPortarc(work) {
  const help = spawnSync(NODE, [join(REPO, 'bin/portarc.js'), 'create', '--help'], { encoding: 'utf8' }).stdout ?? '';
  const probeDir = join(work, 'probe');
  rmSync(probeDir, { recursive: true, force: true });
  mkdirSync(join(probeDir, 'in'), { recursive: true });
  writeFileSync(join(probeDir, 'in/a.txt'), 'portarc bench probe\n'.repeat(100));
  const MAGIC = { gzip: (b) => b[0] === 0x1f && b[1] === 0x8b, zstd: (b) => (b[0] === 0x28 && b[1] === 0xb5 && b[2] === 0x2f && b[3] === 0xfd) || ((b[0] & 0xf0) === 0x50 && b[1] === 0x2a && b[2] === 0x4d && b[3] === 0x18) };
  const features = { help: help.split('\n').filter((l) => /^\s+-/.test(l)).map((l) => l.trim().split(/\s{2,}/)[0]) };
  for (const [mode, suffix] of [['gzip', '.tar.gz'], ['zstd', '.tar.zst']]) {
    const flag = new RegExp(`--${mode}\\b`).test(help) ? `--${mode}` : null;
    const file = join(probeDir, `probe${suffix}`);
    const r = spawnSync(NODE, [join(REPO, 'bin/portarc.js'), 'create', ...(flag ? [flag] : []), '-f', file, '-C', join(probeDir, 'in'), 'a.txt'], { encoding: 'utf8' });
    let ok = false;
    if (r.status === 0 && existsSync(file)) {
      const b = Buffer.alloc(4);
      const fd = openSync(file, 'r');
      readSync(fd, b, 0, 4, 0);
      closeSync(fd);
      ok = MAGIC[mode](b);
    }
    features[mode] = ok ? { supported: true, flag, by: flag ? `option ${flag}` : `suffix ${suffix}` } : { supported: false, flag, why: r.status !== 0 ? `create ${flag ?? suffix} failed: ${(r.stderr || '').trim().split('\n')[0]}` : 'output is not compressed' };
  }
  const thr = help.match(/(--threads)\b/);
  features.threadsFlag = thr ? thr[1] : null;
  const xhelp = spawnSync(NODE, [join(REPO, 'bin/portarc.js'), 'extract', '--help'], { encoding: 'utf8' }).stdout ?? '';
  features.noFsyncFlag = /--no-fsync\b/.test(xhelp);
  rmSync(probeDir, { recursive: true, force: true });
  return features;
}

// ---------------------------------------------------------------------------------------------
// Running and timing one command

/**
 * Run argv, timing its wall clock. RSS: 'portarc' commands print "portarc-maxrss-kib N" on stderr
 * (bench/rss.mjs); everything else runs under /usr/bin/time -f %M (max RSS of the process and its
 * waited-for children, e.g. GNU tar's gzip).
 */
function timed(cmd, cwd) {
  return new Promise((resolve) => {
    const rssFile = join(BENCH_DIR, 'work', '.rss');
    const argv = cmd.rss === 'portarc' ? cmd.argv : [TIME, '-f', 'bench-rss-kib %M', '-o', rssFile, ...cmd.argv];
    let stderr = '';
    const start = performance.now();
    const child = spawn(argv[0], argv.slice(1), { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr.on('data', (d) => {
      if (stderr.length < 64 * 1024) stderr += d;
    });
    child.on('error', (err) => resolve({ seconds: NaN, code: -1, stderr: String(err), rssKiB: null }));
    child.on('close', (code) => {
      const seconds = (performance.now() - start) / 1000;
      let rssKiB = null;
      if (cmd.rss === 'portarc') {
        const m = [...stderr.matchAll(/portarc-maxrss-kib (\d+)/g)];
        if (m.length) rssKiB = Math.max(...m.map((x) => Number(x[1])));
        stderr = stderr.replace(/portarc-maxrss-kib \d+\n?/g, '');
      } else {
        try {
          const m = readFileSync(rssFile, 'utf8').match(/bench-rss-kib (\d+)/);
          if (m) rssKiB = Number(m[1]);
        } catch {
          /* none */
        }
      }
      resolve({ seconds, code, stderr, rssKiB });
    });
  });
}

function sh(script, cwd) {
  const r = spawnSync('sh', ['-c', script], { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${script}: ${r.stderr}`);
  return r.stdout;
}
const syncDisks = () => spawnSync('sync');
/** After deleting many files: sync, then give ext4's discards time to finish (see PLAN). */
function settle() {
  syncDisks();
  if (!opts.quick) spawnSync('sleep', ['10']);
}
const rmrf = (p) => rmSync(p, { recursive: true, force: true });
const sizeOf = (p) => {
  try {
    return statSync(p).size;
  } catch {
    return null;
  }
};

/** Regular files and their total size under dir (the extracted copy of a set). */
function walkCount(dir) {
  let files = 0;
  let bytes = 0;
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        files++;
        bytes += lstatSync(p).size;
      }
    }
  };
  walk(dir);
  return { files, bytes };
}

/** All xattrs under dir as "relpath\0name\0hexvalue" strings (one getfattr run). */
function xattrSet(dir) {
  const r = spawnSync('getfattr', ['-R', '-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names', dir], { encoding: 'utf8', maxBuffer: 256 * MiB });
  const out = new Set();
  let file = null;
  for (const line of r.stdout.split('\n')) {
    if (line.startsWith('# file: ')) file = relative(dir, line.slice(8));
    else if (line.includes('=') && file !== null) {
      const i = line.indexOf('=');
      out.add(`${file}\0${line.slice(0, i)}\0${line.slice(i + 1)}`);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The tools

const GNU_META = ['--xattrs', '--xattrs-include=*', '--selinux', '--acls'];
const BSD_META = ['--xattrs', '--acls'];
const EXT = { none: 'tar', gzip: 'tar.gz', zstd: 'tar.zst' };
const nodeZstd = typeof (await import('node:zlib')).createZstdCompress === 'function';

/**
 * A tool: create(mode, ds, archive) and extract(mode, archive, dest) give {argv, rss} or
 * {na: reason}. `peer` tools count for "× fastest peer"; `ref` rows are the limits and references.
 */
function tools(features) {
  const portarcComp = (mode) => (mode === 'none' ? [] : features[mode].flag ? [features[mode].flag] : []);
  const portarcNa = (mode) => (mode !== 'none' && !features[mode].supported ? { na: 'n/a (not supported yet)' } : null);
  return [
    {
      id: 'portarc',
      label: 'portarc',
      create: (mode, ds, a) => portarcNa(mode) ?? { argv: [NODE, RSS_MJS, 'create', ...portarcComp(mode), '-f', a, '-C', ds.dir, ds.root], rss: 'portarc' },
      extract: (mode, a, dest) => portarcNa(mode) ?? { argv: [NODE, RSS_MJS, 'extract', '-p', '-f', a, '-C', dest], rss: 'portarc' },
    },
    ...(features.threadsFlag
      ? [
          {
            id: 'portarc-t1',
            label: `portarc ${features.threadsFlag} 1`,
            modes: ['zstd'],
            create: (mode, ds, a) => portarcNa(mode) ?? { argv: [NODE, RSS_MJS, 'create', ...portarcComp(mode), features.threadsFlag, '1', '-f', a, '-C', ds.dir, ds.root], rss: 'portarc' },
            extract: () => ({ na: 'same as portarc' }),
          },
        ]
      : []),
    {
      // Diagnostic, not a bar: the CLI without its fsyncs. create writes to stdout redirected to the
      // archive (no NAME.partial, no fsync); extract runs with --no-fsync when the CLI has it.
      id: 'portarc-nofsync',
      label: 'portarc, no fsync (diag)',
      modes: ['none'],
      diag: true,
      create: (mode, ds, a) => ({ argv: ['sh', '-c', `exec "$0" "$@" > '${a}'`, NODE, RSS_MJS, 'create', '-f', '-', '-C', ds.dir, ds.root], rss: 'portarc' }),
      extract: (mode, a, dest) => (features.noFsyncFlag ? { argv: [NODE, RSS_MJS, 'extract', '-p', '--no-fsync', '-f', a, '-C', dest], rss: 'portarc' } : { na: 'n/a (extract has no --no-fsync)' }),
    },
    {
      id: 'gnutar',
      label: 'GNU tar',
      peer: true,
      create: (mode, ds, a) => ({ argv: ['tar', ...GNU_META, ...(mode === 'gzip' ? ['-z'] : mode === 'zstd' ? ['--zstd'] : []), '-cf', a, '-C', ds.dir, ds.root] }),
      extract: (mode, a, dest) => ({ argv: ['tar', ...GNU_META, ...(mode === 'gzip' ? ['-z'] : mode === 'zstd' ? ['--zstd'] : []), '-xpf', a, '-C', dest] }),
    },
    {
      id: 'bsdtar',
      label: 'bsdtar',
      peer: true,
      create: (mode, ds, a) => ({ argv: ['bsdtar', ...BSD_META, ...(mode === 'gzip' ? ['-z'] : mode === 'zstd' ? ['--zstd'] : []), '-cf', a, '-C', ds.dir, ds.root] }),
      extract: (mode, a, dest) => ({ argv: ['bsdtar', ...BSD_META, '-xpf', a, '-C', dest] }),
    },
    {
      id: 'node-tar',
      label: 'node-tar',
      peer: true,
      create: (mode, ds, a) =>
        mode === 'zstd' && !nodeZstd ? { na: 'n/a (zstd needs Node ≥ 22.15)' } : { argv: [NODE, join(HERE, 'drivers/node-tar.mjs'), 'create', a, ds.dir, ds.root, ...(mode === 'none' ? [] : [`--${mode}`])] },
      extract: (mode, a, dest) => (mode === 'zstd' && !nodeZstd ? { na: 'n/a (zstd needs Node ≥ 22.15)' } : { argv: [NODE, join(HERE, 'drivers/node-tar.mjs'), 'extract', a, dest, ...(mode === 'none' ? [] : [`--${mode}`])] }),
    },
    {
      id: 'tar-fs',
      label: 'tar-fs',
      peer: true,
      create: (mode, ds, a) =>
        mode === 'zstd' && !nodeZstd ? { na: 'n/a (zstd needs Node ≥ 22.15)' } : { argv: [NODE, join(HERE, 'drivers/tar-fs.mjs'), 'create', a, ds.dir, ds.root, ...(mode === 'none' ? [] : [`--${mode}`])] },
      extract: (mode, a, dest) => (mode === 'zstd' && !nodeZstd ? { na: 'n/a (zstd needs Node ≥ 22.15)' } : { argv: [NODE, join(HERE, 'drivers/tar-fs.mjs'), 'extract', a, dest, ...(mode === 'none' ? [] : [`--${mode}`])] }),
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// Cells: one (set, mode, op, tool), run up to maxReps times

const cells = [];
const warningsOut = [];

function newCell(set, mode, op, tool, label, extra = {}) {
  const c = { set, mode, op, tool, label, status: 'ok', runs: [], rssKiB: [], archiveBytes: null, check: null, note: null, ...extra };
  cells.push(c);
  return c;
}

function wantsMore(cell, plan) {
  if (cell.status !== 'ok') return false;
  const n = cell.runs.length;
  if (!opts.quick && !opts.reps && elapsed() > HARD_DEADLINE_S) {
    if (n === 0) (cell.status = 'skipped'), (cell.note = 'skipped: the run passed its time budget');
    return false;
  }
  if (n === 0) return true;
  const maxReps = cell.mode !== 'none' && plan.maxRepsCompressed ? plan.maxRepsCompressed : plan.maxReps;
  if (n >= maxReps) return false;
  if (elapsed() > SOFT_DEADLINE_S && !opts.quick && !opts.reps) return false;
  const sum = cell.runs.reduce((a, b) => a + b, 0);
  return sum + cell.runs[n - 1] <= plan.budget * (cell.bar ? 2 : 1);
}

/** One timed run of a cell; `before` and `after` are untimed (cleanup, checks). */
async function runOnce(cell, cmd, { cwd, before, after }) {
  before?.();
  syncDisks(); // the previous run's dirty pages are not this run's cost
  const r = await timed(cmd, cwd);
  const n = cell.runs.length + 1;
  const okCode = r.code === 0 || (cmd.rss === 'portarc' && r.code === 1);
  if (!okCode) {
    cell.status = 'error';
    cell.note = `exit ${r.code}: ${r.stderr.trim().split('\n').slice(-2).join(' | ').slice(0, 200)}`;
    log(`${cell.set} ${cell.mode} ${cell.op} ${cell.label}: FAILED ${cell.note}`);
    after?.(false);
    return;
  }
  if (r.code === 1 || r.stderr.trim()) {
    const w = r.stderr.trim().split('\n');
    cell.note ??= `${r.code === 1 ? 'exit 1, ' : ''}stderr: ${w[0].slice(0, 120)}${w.length > 1 ? ` (+${w.length - 1} lines)` : ''}`;
  }
  cell.runs.push(r.seconds);
  if (r.rssKiB !== null) cell.rssKiB.push(r.rssKiB);
  log(`${cell.set} ${cell.mode.padEnd(4)} ${cell.op.padEnd(7)} ${cell.label.padEnd(28)} run ${n}: ${r.seconds.toFixed(2)} s${r.rssKiB ? `, RSS ${(r.rssKiB / 1024).toFixed(1)} MiB` : ''}`);
  after?.(true, n);
}

// ---------------------------------------------------------------------------------------------
// One data set

async function benchSet(setName, features) {
  const plan = PLAN[setName];
  const ds = await ensureDataset(plan.data, { log });
  const work = join(BENCH_DIR, 'work', setName);
  if (existsSync(work)) {
    spawnSync('rm', ['-rf', work]);
    settle();
  }
  mkdirSync(work, { recursive: true });
  // Extracted trees go to the trash (deleted at the end of the set) or are deleted at once.
  const trash = join(work, '.trash');
  let trashed = 0;
  const dispose = (p) => {
    if (!existsSync(p)) return;
    if (!plan.deferDelete) return rmrf(p);
    mkdirSync(trash, { recursive: true });
    renameSync(p, join(trash, String(trashed++)));
  };
  log(`${setName}: ${ds.files} files, ${(ds.bytes / MiB).toFixed(1)} MiB in ${ds.dir}/${ds.root}; warming the page cache`);
  sh(`find ${ds.root} -type f -print0 | xargs -0 cat > /dev/null`, ds.dir);
  const srcXattrs = setName === 'xattr' ? xattrSet(join(ds.dir, ds.root)) : null;

  const check = (cell, dest) => {
    // Untimed, after the first run: did the tool restore every file (and, for xattr, every xattr)?
    const root = join(dest, ds.root);
    if (!existsSync(root)) return (cell.check = `missing ${ds.root}/`);
    const { files, bytes } = walkCount(root);
    let s = files === ds.files && bytes === ds.bytes ? 'files ok' : `files ${files}/${ds.files}, bytes ${bytes}/${ds.bytes}`;
    if (srcXattrs) {
      const got = xattrSet(root);
      let kept = 0;
      for (const x of srcXattrs) if (got.has(x)) kept++;
      s += `, xattrs ${kept}/${srcXattrs.size}`;
    }
    cell.check = s;
  };

  const allTools = tools(features);
  const interleave = setName !== 'big'; // big: one tool at a time, so at most one 2 GiB archive exists
  for (const mode of opts.modes) {
    if (mode === 'gzip' && setName === 'big' && !opts.quick && !opts.bigGzip) {
      newCell(setName, mode, 'create', '*', 'all tools', { status: 'skipped', note: 'gzip on the 2 GiB set is skipped (~1 min per tool per run at ~35 MB/s); --big-gzip runs it' });
      continue;
    }
    const section = allTools.filter((t) => (!t.modes || t.modes.includes(mode)) && (opts.diag || !t.diag));
    // The cells a DESIGN §5 bar is computed from (they get twice the repetition budget).
    const BAR_TOOLS = { 'big/none': ['portarc', 'gnutar', 'bsdtar'], 'small/none': ['portarc', 'node-tar', 'bsdtar'], 'big/zstd': ['portarc', 'portarc-t1', 'zstd-T1', 'zstd-T2'] };
    const isBar = (tool, op) => (BAR_TOOLS[`${setName}/${mode}`] ?? []).includes(tool) && (mode !== 'zstd' || op === 'create');
    const pairs = section.map((t) => {
      const archive = join(work, `${t.id}.${EXT[mode]}`);
      const cc = t.create(mode, ds, archive);
      const create = newCell(setName, mode, 'create', t.id, t.label, { peer: !!t.peer, diag: !!t.diag, bar: isBar(t.id, 'create') });
      if (cc.na) (create.status = 'n/a'), (create.note = cc.na);
      const dest = join(work, `x-${t.id}`);
      const xc = t.extract(mode, archive, dest);
      const extract = newCell(setName, mode, 'extract', t.id, t.label, { peer: !!t.peer, diag: !!t.diag, bar: isBar(t.id, 'extract') });
      if (cc.na || xc.na) (extract.status = 'n/a'), (extract.note = cc.na ?? xc.na);
      return { t, archive, dest, cc, xc, create, extract };
    });
    // References: the physical limit (uncompressed) and the zstd program (zstd).
    const refs = [];
    if (mode === 'none') {
      const out = join(work, 'limit.out');
      refs.push({ cell: newCell(setName, mode, 'create', 'cat', 'cat (limit)', { ref: true }), cmd: { argv: ['sh', '-c', `find ${ds.root} -type f -print0 | xargs -0 cat > ${out}`] }, cwd: ds.dir, before: () => rmrf(out), after: () => rmrf(out) });
      const dest = join(work, 'x-cp');
      const cpCell = newCell(setName, mode, 'extract', 'cp', 'cp -a (limit)', { ref: true });
      refs.push({ cell: cpCell, cmd: { argv: ['cp', '-a', ds.root, dest + '/'] }, cwd: ds.dir, before: () => (dispose(dest), mkdirSync(dest)), after: (ok, n) => (ok && n === 1 && check(cpCell, dest), dispose(dest)), extractRef: true });
    }
    let refTar = null;
    if (mode === 'zstd') {
      refTar = join(work, 'ref.tar');
      const zout = join(work, 'ref.tar.zst');
      for (const th of [1, 2]) {
        refs.push({ cell: newCell(setName, mode, 'create', `zstd-T${th}`, `zstd -3 -T${th} (ref)`, { ref: true, bar: isBar(`zstd-T${th}`, 'create') }), cmd: { argv: ['zstd', '-3', `-T${th}`, '-q', '-f', refTar, '-o', zout] }, cwd: work, before: () => rmrf(zout) });
      }
      refs.push({ cell: newCell(setName, mode, 'extract', 'zstd-d', 'zstd -d (ref)', { ref: true }), cmd: { argv: ['zstd', '-d', '-q', '-f', zout, '-o', join(work, 'ref.out')] }, cwd: work, before: () => rmrf(join(work, 'ref.out')), after: () => rmrf(join(work, 'ref.out')), extractRef: true });
    }

    const runCreate = (p) =>
      runOnce(p.create, p.cc, {
        cwd: work,
        before: () => rmrf(p.archive),
        after: (ok) => ok && (p.create.archiveBytes = sizeOf(p.archive)),
      });
    const runExtract = (p) =>
      runOnce(p.extract, p.xc, {
        cwd: work,
        before: () => (dispose(p.dest), mkdirSync(p.dest, { recursive: true })),
        after: (ok, n) => {
          if (ok && n === 1) check(p.extract, p.dest);
          dispose(p.dest);
        },
      });
    const runRef = (r) => runOnce(r.cell, r.cmd, { cwd: r.cwd, before: r.before, after: r.after });
    const live = (c) => c.status === 'ok';

    if (refTar) {
      sh(`tar -cf ${refTar} -C ${ds.dir} ${ds.root}`, work);
    }
    const createRefs = refs.filter((r) => !r.extractRef);
    const extractRefs = refs.filter((r) => r.extractRef);
    if (interleave) {
      // Round-robin over the tools, run by run, so a burst of load from elsewhere hits them all alike.
      for (let rep = 0; rep < plan.maxReps; rep++) {
        for (const p of pairs) if (live(p.create) && wantsMore(p.create, plan)) await runCreate(p);
        for (const r of createRefs) if (wantsMore(r.cell, plan)) await runRef(r);
      }
      for (const p of pairs) if (p.create.status !== 'ok' && p.extract.status === 'ok') (p.extract.status = 'n/a'), (p.extract.note = `create ${p.create.status}`);
      for (let rep = 0; rep < plan.maxReps; rep++) {
        for (const p of pairs) if (live(p.extract) && wantsMore(p.extract, plan)) await runExtract(p);
        for (const r of extractRefs) if (wantsMore(r.cell, plan)) await runRef(r);
      }
      for (const p of pairs) rmrf(p.archive);
    } else {
      for (const p of pairs) {
        while (live(p.create) && wantsMore(p.create, plan)) await runCreate(p);
        if (p.create.status !== 'ok' && p.extract.status === 'ok') (p.extract.status = 'n/a'), (p.extract.note = `create ${p.create.status}`);
        while (live(p.extract) && wantsMore(p.extract, plan)) await runExtract(p);
        rmrf(p.archive);
      }
      for (const r of [...createRefs, ...extractRefs]) while (wantsMore(r.cell, plan)) await runRef(r);
    }
    if (refTar) rmrf(refTar), rmrf(join(work, 'ref.tar.zst'));
  }
  if (trashed) {
    log(`${setName}: deleting ${trashed} extracted trees (untimed)`);
    spawnSync('rm', ['-rf', trash]);
    if (setName !== SETS.at(-1)) settle();
  }
  if (!opts.keep) spawnSync('rm', ['-rf', work]);
  return ds;
}

// ---------------------------------------------------------------------------------------------
// Summary: medians, ratios, bars

const median = (xs) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function summarize(dsInfo, features) {
  for (const c of cells) {
    c.median = c.status === 'ok' ? median(c.runs) : null;
    c.peakRssKiB = c.rssKiB.length ? Math.max(...c.rssKiB) : null;
  }
  const find = (set, mode, op, tool) => cells.find((c) => c.set === set && c.mode === mode && c.op === op && c.tool === tool && c.median !== null);
  for (const c of cells) {
    if (c.median === null) continue;
    const peers = cells.filter((p) => p.peer && p.set === c.set && p.mode === c.mode && p.op === c.op && p.median !== null);
    const fastest = peers.length ? Math.min(...peers.map((p) => p.median)) : null;
    c.xFastestPeer = fastest ? c.median / fastest : null;
    const limit = find(c.set, 'none', c.op, c.op === 'create' ? 'cat' : 'cp');
    c.xLimit = limit ? c.median / limit.median : null;
    const ds = dsInfo[c.set];
    c.mibPerS = ds.bytes / MiB / c.median;
    c.filesPerS = ds.files / c.median;
  }

  // The bars of DESIGN §5.
  const bars = [];
  const bar = (id, set, text, target, measured, met, detail, short) => bars.push({ id, set, bar: text, target, measured, met, short: `${met ? 'met' : 'NOT met'}: ${short}`, detail });
  const na = (id, set, text, target, why) => bars.push({ id, set, bar: text, target, measured: why, met: null });
  const r2 = (x) => `${x.toFixed(2)}x`;
  for (const op of ['create', 'extract']) {
    if (dsInfo.big) {
      const p = find('big', 'none', op, 'portarc');
      const g = find('big', 'none', op, 'gnutar');
      const b = find('big', 'none', op, 'bsdtar');
      const text = `big files ${op}: at least as fast as GNU tar and bsdtar`;
      if (p && g && b) {
        const rg = p.median / g.median;
        const rb = p.median / b.median;
        bar(`big-${op}`, 'big', text, 'time ≤ 1.00x of each', `${r2(rg)} GNU tar's time, ${r2(rb)} bsdtar's`, rg <= 1 && rb <= 1, { portarc: p.median, gnutar: g.median, bsdtar: b.median }, `${r2(rg)} GNU tar, ${r2(rb)} bsdtar time (need ≤ 1x)`);
        const d = find('big', 'none', op, 'portarc-nofsync');
        if (d) bars.at(-1).withoutFsync = `${r2(d.median / g.median)}, ${r2(d.median / b.median)}`;
      } else na(`big-${op}`, 'big', text, 'time ≤ 1.00x of each', 'not measured');
    }
    if (dsInfo.small) {
      const p = find('small', 'none', op, 'portarc');
      const n = find('small', 'none', op, 'node-tar');
      const b = find('small', 'none', op, 'bsdtar');
      const t1 = `many small files ${op}: ≥ 2x node-tar's files/s`;
      if (p && n) bar(`small-${op}-nodetar`, 'small', t1, '≥ 2.00x', `${r2(n.median / p.median)} (portarc ${(dsInfo.small.files / p.median).toFixed(0)} files/s, node-tar ${(dsInfo.small.files / n.median).toFixed(0)})`, n.median / p.median >= 2, { portarc: p.median, nodetar: n.median }, `${r2(n.median / p.median)} node-tar's files/s (need ≥ 2x)`);
      const d = find('small', 'none', op, 'portarc-nofsync');
      if (p && n && d) bars.at(-1).withoutFsync = r2(n.median / d.median);
      else na(`small-${op}-nodetar`, 'small', t1, '≥ 2.00x', 'not measured');
      const t2 = `many small files ${op}: within 1.5x of bsdtar`;
      if (p && b) bar(`small-${op}-bsdtar`, 'small', t2, 'time ≤ 1.50x', `${r2(p.median / b.median)} (portarc ${p.median.toFixed(2)} s, bsdtar ${b.median.toFixed(2)} s)`, p.median / b.median <= 1.5, { portarc: p.median, bsdtar: b.median }, `${r2(p.median / b.median)} bsdtar's time (need ≤ 1.5x)`);
      if (p && b && d) bars.at(-1).withoutFsync = r2(d.median / b.median);
      else na(`small-${op}-bsdtar`, 'small', t2, 'time ≤ 1.50x', 'not measured');
    }
  }
  // On the big set only: there compression is the work; on the small set, reading 50,000 files is.
  for (const set of ['big']) {
    if (!dsInfo[set] || !opts.modes.includes('zstd')) continue;
    const text = `zstd -3 compression (${set}): within 10% of the zstd program, same threads`;
    const p = cells.find((c) => c.set === set && c.mode === 'zstd' && c.op === 'create' && c.tool === 'portarc');
    const variants = [{ cell: p, th: threads }];
    const t1 = find(set, 'zstd', 'create', 'portarc-t1');
    if (t1) variants.push({ cell: t1, th: 1 });
    for (const { cell, th } of variants) {
      const ref = find(set, 'zstd', 'create', `zstd-T${Math.min(th, 2)}`);
      if (!cell || cell.median === null) na(`zstd-${set}-T${th}`, set, `${text} (-T${th})`, 'time ≤ 1.10x', cell?.status === 'n/a' ? 'n/a (not supported yet)' : `portarc: ${cell?.status ?? 'not run'}`);
      else if (!ref) na(`zstd-${set}-T${th}`, set, `${text} (-T${th})`, 'time ≤ 1.10x', 'zstd reference not measured');
      else bar(`zstd-${set}-T${th}`, set, `${text} (-T${th})`, 'time ≤ 1.10x', `${r2(cell.median / ref.median)} (portarc ${cell.median.toFixed(2)} s, zstd -3 -T${th} ${ref.median.toFixed(2)} s)`, cell.median / ref.median <= 1.1, { portarc: cell.median, zstd: ref.median }, `${r2(cell.median / ref.median)} zstd -T${th}'s time (need ≤ 1.1x)`);
    }
  }
  const pc = cells.filter((c) => c.tool.startsWith('portarc') && !c.diag && c.peakRssKiB !== null);
  if (pc.length) {
    const worst = pc.reduce((a, b) => (b.peakRssKiB > a.peakRssKiB ? b : a));
    const over = pc.filter((c) => c.peakRssKiB >= 100 * 1024);
    bar('rss', '*', 'peak RSS under 100 MiB for every portarc operation', '< 100 MiB', `max ${(worst.peakRssKiB / 1024).toFixed(1)} MiB (${worst.set} ${worst.mode} ${worst.op})${over.length ? `; over: ${over.map((c) => `${c.set}/${c.mode}/${c.op}${c.tool === 'portarc' ? '' : ` (${c.label})`} ${(c.peakRssKiB / 1024).toFixed(0)}`).join(', ')}` : ''}`, over.length === 0, {}, `max ${(worst.peakRssKiB / 1024).toFixed(0)} MiB`);
  }
  return bars;
}

// ---------------------------------------------------------------------------------------------
// Output

function fmtS(x) {
  return x === null || x === undefined ? '' : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}
function fmtX(x) {
  return x === null || x === undefined ? '' : `${x.toFixed(2)}x`;
}
function fmtN(x) {
  return x === null || x === undefined ? '' : Math.round(x).toLocaleString('en-US');
}
function fmtMiB(b) {
  return b === null || b === undefined ? '' : (b / MiB).toFixed(b >= 100 * MiB ? 0 : 1);
}
const MODE_LABEL = { none: 'none', gzip: 'gzip', zstd: 'zstd -3' };
/** portarc's default zstd worker threads (src/compress/seekable.ts defaultThreads). */
const threads = Math.max(1, Math.min(availableParallelism(), 4));

function markdown(meta, dsInfo, bars) {
  const L = [];
  L.push(`# portarc benchmark ${meta.date}${opts.quick ? ' (QUICK smoke run: tiny data, one run per cell; not meaningful numbers)' : ''}`);
  L.push('');
  L.push(`Machine: ${meta.machine.cpus}× ${meta.machine.cpuModel}, ${meta.machine.memGiB} GiB RAM, Linux ${meta.machine.kernel}, ${meta.machine.fs} at ${BENCH_DIR}. Load average at start ${meta.machine.loadStart}, at end ${meta.machine.loadEnd} (the machine is shared: other sessions run here).`);
  L.push(`**Warm page cache**: caches cannot be dropped here, every run reads data the previous runs left in memory; \`sync\` runs (untimed) before each timed run.`);
  L.push(`portarc ${meta.portarc.version} (${meta.portarc.commit}${meta.portarc.dirty ? ', uncommitted changes' : ''}), Node ${process.versions.node}; gzip: ${featureText(features.gzip)}; zstd: ${featureText(features.zstd)}.${meta.portarc.stale ? ' **dist/ is older than src/: run `npm run build` (or --build) for current numbers.**' : ''}`);
  L.push(`Peers: ${meta.versions.gnutar}; ${meta.versions.bsdtar}; node-tar ${meta.versions.nodetar}; tar-fs ${meta.versions.tarfs}; ${meta.versions.zstd}.`);
  L.push(`Runs: median of up to ${Object.entries(PLAN).filter(([k]) => SETS.includes(k)).map(([k, p]) => `${p.maxReps}${p.maxRepsCompressed ? `/${p.maxRepsCompressed} (compressed)` : ''} (${k})`).join(', ')}; a cell stops repeating once its runs add up past ${opts.quick ? '0' : Object.entries(PLAN).filter(([k]) => SETS.includes(k)).map(([k, p]) => `${p.budget} s (${k})`).join(', ')}, twice that for cells a bar is computed from. Extracted trees of the small and xattr sets are deleted at the end of the set, not between runs (a delete of 50,000 files slows the next run on this ext4). Total ${fmtClock(meta.elapsedSeconds)} (mm:ss).`);
  L.push('');
  L.push('## Bars (DESIGN §5)');
  L.push('');
  L.push('| bar | target | measured | met? | same ratio without fsync (diag) |');
  L.push('|---|---|---|---|---|');
  for (const b of bars) L.push(`| ${b.bar} | ${b.target} | ${b.measured} | ${b.met === null ? 'n/a' : b.met ? '**met**' : '**not met**'} | ${b.withoutFsync ?? ''} |`);
  L.push('');
  for (const set of SETS) {
    const ds = dsInfo[set];
    if (!ds) continue;
    L.push(`## ${set}: ${fmtN(ds.files)} files, ${fmtN(ds.dirs)} dirs, ${fmtMiB(ds.bytes)} MiB${ds.xattrs ? `, ${fmtN(ds.xattrs)} xattrs (user.* and security.selinux)` : ''} (${ds.dataset}, warm cache)`);
  L.push('');
    L.push('| op | compression | tool | median s | runs | MiB/s | files/s | × fastest peer | × limit | peak RSS MiB | archive MiB | bar | check / note |');
    L.push('|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|');
    for (const mode of opts.modes) {
      for (const op of ['create', 'extract']) {
        for (const c of cells.filter((x) => x.set === set && x.mode === mode && x.op === op)) {
          const barMarks = bars
            .filter((b) => b.set === set && b.met !== null && ((c.tool === 'portarc' && ((b.id.startsWith(`${set}-${op}`) && mode === 'none') || (b.id === `zstd-${set}-T${threads}` && mode === 'zstd' && op === 'create'))) || (c.tool === 'portarc-t1' && b.id === `zstd-${set}-T1` && op === 'create')))
            .map((b) => b.short)
            .join('; ');
          const rssMark = c.tool.startsWith('portarc') && !c.diag && c.peakRssKiB !== null ? (c.peakRssKiB >= 100 * 1024 ? ' ✗' : ' ✓') : '';
          const tool = c.tool === 'portarc' ? `**${c.label}**` : c.label;
          if (c.status !== 'ok') {
            L.push(`| ${op} | ${MODE_LABEL[mode]} | ${tool} | ${c.status === 'n/a' ? c.note : c.status} | | | | | | | | | ${c.status === 'n/a' ? '' : c.note ?? ''} |`);
            continue;
          }
          const notes = [c.check, c.note].filter(Boolean).join('; ');
          L.push(`| ${op} | ${MODE_LABEL[mode]} | ${tool} | ${fmtS(c.median)} | ${c.runs.length} | ${fmtN(c.mibPerS)} | ${fmtN(c.filesPerS)} | ${fmtX(c.xFastestPeer)} | ${fmtX(c.xLimit)} | ${c.peakRssKiB ? (c.peakRssKiB / 1024).toFixed(0) + rssMark : ''} | ${fmtMiB(c.archiveBytes)} | ${barMarks} | ${notes.replace(/\|/g, '/')} |`);
        }
      }
    }
    L.push('');
  }
  L.push('How to read: "× fastest peer" is median time ÷ the fastest of GNU tar, bsdtar, node-tar, tar-fs on the same row group (1.00x = as fast; 2.00x = twice as slow); "× limit" is median time ÷ `cat` (create: read every file, write one stream) or `cp -a` (extract) of the same data, uncompressed. "check" is verified after the first extract run (untimed): files and bytes restored, and for the xattr set the (file, name, value) xattr triples restored. portarc\'s CLI fsyncs the archive (create) and every file (extract); the other tools do not: the "portarc, no fsync (diag)" rows show the same CLI without them (create writes to stdout redirected to the archive file; extract runs with `--no-fsync`), to tell fsync time from CPU time; they are not bars. GNU tar runs with `--xattrs --xattrs-include=* --selinux --acls`, bsdtar with `--xattrs --acls`, both extract with `-p`; portarc extracts with `-p`. See bench/README.md.');
  for (const w of warningsOut) L.push(`\nWarning: ${w}`);
  return L.join('\n') + '\n';
}

function featureText(f) {
  return f.supported ? `yes (${f.by})` : `not supported yet (${f.why})`;
}

// ---------------------------------------------------------------------------------------------
// Main

preflight();
ensurePeers();
if (opts.build) {
  log('npm run build');
  if (spawnSync('npm', ['run', 'build'], { cwd: REPO, stdio: 'inherit' }).status !== 0) process.exit(2);
}
mkdirSync(join(BENCH_DIR, 'work'), { recursive: true });
const features = detectPortarc(join(BENCH_DIR, 'work'));
const staleList = staleSources();
const stale = staleList.length > 0;
if (stale) warningsOut.push(`dist/ is older than src/ for ${staleList.length} file(s) (${staleList.slice(0, 5).join(', ')}${staleList.length > 5 ? ', ...' : ''}): the numbers are for the last build (npm run build, or pass --build)`);
if (stale) log(`warning: ${warningsOut.at(-1)}`);
log(`portarc gzip: ${featureText(features.gzip)}; zstd: ${featureText(features.zstd)}${features.threadsFlag ? `; threads option ${features.threadsFlag}` : ''}`);

const git = (args) => spawnSync('git', args, { cwd: REPO, encoding: 'utf8' }).stdout?.trim() ?? '';
const meta = {
  date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  argv: process.argv.slice(2),
  variant: opts.quick ? 'quick' : 'full',
  generatorVersion: GENERATOR_VERSION,
  benchDir: BENCH_DIR,
  machine: {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? '?',
    memGiB: Math.round(totalmem() / 2 ** 30),
    kernel: spawnSync('uname', ['-r'], { encoding: 'utf8' }).stdout.trim(),
    fs: spawnSync('findmnt', ['-n', '-o', 'FSTYPE,OPTIONS', '-T', BENCH_DIR], { encoding: 'utf8' }).stdout.trim().replace(/\s+/, ' (') + ')',
    loadStart: loadavg().map((x) => x.toFixed(2)).join(' '),
  },
  portarc: { version: JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).version, commit: git(['rev-parse', '--short', 'HEAD']), dirty: git(['status', '--porcelain', '--', 'src', 'bin']).length > 0, stale, features },
  versions: {
    gnutar: firstLine('tar', ['--version']),
    bsdtar: firstLine('bsdtar', ['--version']),
    zstd: firstLine('zstd', ['--version'])?.replace(/^\*+\s*|\s*\*+$/g, ''),
    nodetar: JSON.parse(readFileSync(join(HERE, 'node_modules/tar/package.json'), 'utf8')).version,
    tarfs: JSON.parse(readFileSync(join(HERE, 'node_modules/tar-fs/package.json'), 'utf8')).version,
  },
};

const dsInfo = {};
for (const set of SETS) {
  const ds = await benchSet(set, features);
  dsInfo[set] = { dataset: ds.name, files: ds.files, dirs: ds.dirs, bytes: ds.bytes, xattrs: ds.xattrs ?? null };
}
meta.machine.loadEnd = loadavg().map((x) => x.toFixed(2)).join(' ');
meta.elapsedSeconds = Math.round(elapsed());
const bars = summarize(dsInfo, features);
const md = markdown(meta, dsInfo, bars);
process.stdout.write('\n' + md);

if (opts.save) {
  const dir = join(HERE, 'results');
  mkdirSync(dir, { recursive: true });
  const stamp = meta.date.replace(/:/g, '').slice(0, 15) + 'Z'; // 2026-11-25T1450Z
  const name = `${stamp}-${opts.quick ? 'quick' : 'full'}${opts.only.length ? `-${SETS.join('+')}` : ''}`;
  const round = (x) => (typeof x === 'number' ? Math.round(x * 1000) / 1000 : x);
  const json = {
    ...meta,
    sets: dsInfo,
    bars,
    cells: cells.map((c) => ({
      set: c.set, mode: c.mode, op: c.op, tool: c.tool, label: c.label, status: c.status,
      runs: c.runs.map(round), median: round(c.median), peakRssKiB: c.peakRssKiB, archiveBytes: c.archiveBytes,
      xFastestPeer: round(c.xFastestPeer ?? null), xLimit: round(c.xLimit ?? null), check: c.check, note: c.note,
    })),
    warnings: warningsOut,
  };
  writeFileSync(join(dir, `${name}.json`), JSON.stringify(json, null, 1) + '\n');
  writeFileSync(join(dir, `${name}.md`), md);
  log(`results: bench/results/${name}.json and .md`);
}
