// Acceptance: a 2 GiB file streams through create and extract with flat memory. The archive goes
// through a pipe (never stored), and each process reports its peak RSS.
import { execFileSync, spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { LIMIT_KIB } from './helpers/rss.js';
import { tempDir } from './helpers/tree.js';

const RSS = fileURLToPath(new URL('../bench/rss.mjs', import.meta.url));
// Minutes of 2 GiB streams and 512 MiB archives: run by `npm run test:heavy` (and so by .ci/run,
// on each Node), skipped by `npm test`, which must stay under 15 minutes on two cores. Issue #11's
// own bars (50,000 small files created and extracted, zstd create of 1 GiB: ~45 s) are `npm test`'s
// alone (test:heavy, which runs this file, skips them: CI runs both).
const heavy = it.runIf(process.env.PORTARC_HEAVY === '1');
const light = it.skipIf(process.env.PORTARC_HEAVY === '1');
const GIB2 = 2 * 1024 ** 3;

heavy('streams a 2 GiB file through create | extract under 100 MiB RSS each', () => {
  const dir = tempDir('mem');
  // Marks at the start, the middle and the end, zeros elsewhere: cheap to make, and the restored
  // file's checksum proves every byte went through in order.
  execFileSync('bash', ['-c', `mkdir src && truncate -s ${GIB2} src/big && for off in 0 1073741824 2147483000; do printf "portarc $off" | dd of=src/big bs=1 seek=$off conv=notrunc status=none; done`], { cwd: dir });
  const r = spawnSync('bash', ['-o', 'pipefail', '-c', `node ${RSS} create -f - -C src big | node ${RSS} extract -f - -C out`], { cwd: dir, encoding: 'utf8' });
  expect(r.stderr.replace(/portarc-maxrss-kib \d+\n/g, '')).toBe('');
  expect(r.status).toBe(0);
  const rss = [...r.stderr.matchAll(/portarc-maxrss-kib (\d+)/g)].map((m) => Number(m[1]));
  expect(rss).toHaveLength(2);
  for (const kib of rss) expect(kib).toBeLessThan(LIMIT_KIB);
  expect(statSync(join(dir, 'out/big')).size).toBe(GIB2);
  expect(sha256(dir, 'out/big')).toBe(sha256(dir, 'src/big'));
  execFileSync('rm', ['-rf', dir]);
}, 300_000);

/** Peak RSS of one `bench/rss.mjs` run (the portarc CLI from dist/), after checking it succeeded. */
function peakKib(script: string, cwd: string): number {
  const r = spawnSync('bash', ['-o', 'pipefail', '-c', script], { cwd, encoding: 'utf8' });
  expect(r.stderr.replace(/portarc-maxrss-kib \d+\n/g, '')).toBe('');
  expect(r.status).toBe(0);
  const rss = [...r.stderr.matchAll(/portarc-maxrss-kib (\d+)/g)].map((m) => Number(m[1]));
  expect(rss).toHaveLength(1);
  return rss[0]!;
}

/** sha256sum of `p` under `dir`. */
function sha256(dir: string, p: string): string {
  return execFileSync('sha256sum', [p], { cwd: dir, encoding: 'utf8' }).split(' ')[0]!;
}

/**
 * src/data in `dir`: 512 MiB of compressible, not constant, data (4-bit random blocks of 1 MiB,
 * rotated by i % `shift`): real compressed frames and members, 256 KiB decoded chunks.
 */
function compressibleData(dir: string, seed: number, shift: number): void {
  execFileSync('python3', ['-c', `
import os, random
r = random.Random(${seed})
os.makedirs("src")
with open("src/data", "wb") as f:
    block = bytes(r.getrandbits(4) for _ in range(1 << 20))
    for i in range(512):
        f.write(block[i % ${shift}:] + block[:i % ${shift}])
`], { cwd: dir });
}

/** Run each command in `dir` (in order) and expect each one's peak RSS under the limit. */
function eachUnderLimit(dir: string, commands: ReadonlyArray<readonly [what: string, cmd: string]>): void {
  const peaks: Record<string, number> = {};
  for (const [what, cmd] of commands) peaks[what] = peakKib(cmd, dir);
  for (const [what, kib] of Object.entries(peaks)) expect(kib, what).toBeLessThan(LIMIT_KIB);
}

heavy('extracts 50,000 small files (with fsync, as by default) under 100 MiB RSS', () => {
  const dir = tempDir('mem-small');
  // 50 directories of 1,000 files of 0-4 KiB, written straight into a tar by Python's tarfile.
  execFileSync('python3', ['-c', `
import io, os, tarfile
with tarfile.open("a.tar", "w", format=tarfile.PAX_FORMAT) as t:
    for d in range(50):
        i = tarfile.TarInfo(f"d{d}"); i.type = tarfile.DIRTYPE; i.mode = 0o755; i.mtime = 1600000000; t.addfile(i)
        for f in range(1000):
            data = os.urandom(16) * ((d * 1000 + f) % 257)
            i = tarfile.TarInfo(f"d{d}/f{f}"); i.size = len(data); i.mode = 0o644; i.mtime = 1600000000 + f
            t.addfile(i, io.BytesIO(data))
`], { cwd: dir });
  const kib = peakKib(`mkdir out && node ${RSS} extract -f a.tar -C out`, dir);
  expect(kib).toBeLessThan(LIMIT_KIB);
  // GNU tar compares every member with the disk: content, size, mode, owner, mtime.
  expect(execFileSync('bash', ['-c', 'find out -type f | wc -l && tar --compare -f a.tar -C out && echo same'], { cwd: dir, encoding: 'utf8' })).toBe('50000\nsame\n');
  execFileSync('rm', ['-rf', dir]);
}, 240_000);

heavy('creates an archive of a directory of 200,000 names under 100 MiB RSS (the walk held ~850 bytes a name: 233 MiB)', () => {
  const dir = tempDir('mem-flat');
  execFileSync('python3', ['-c', `
import os
os.makedirs("src/flat")
for i in range(200000): open(f"src/flat/f{i:07d}", "w").close()
`], { cwd: dir });
  const kib = peakKib(`node ${RSS} create --no-fsync -f a.tar -C src flat`, dir);
  expect(kib).toBeLessThan(LIMIT_KIB);
  expect(execFileSync('bash', ['-c', 'tar -tf a.tar | grep -c "^flat/f"'], { cwd: dir, encoding: 'utf8' })).toBe('200000\n');
  execFileSync('rm', ['-rf', dir]);
}, 240_000);

heavy('extracts a 1 GiB file from a zstd archive under 100 MiB RSS', () => {
  const dir = tempDir('mem-zstd');
  execFileSync('bash', ['-c', `mkdir src && truncate -s 1G src/big && for off in 0 536870912 1073741000; do printf "portarc $off" | dd of=src/big bs=1 seek=$off conv=notrunc status=none; done && tar -cf - -C src big | zstd -q -3 -T2 > a.tar.zst`], { cwd: dir });
  const kib = peakKib(`mkdir out && node ${RSS} extract -f a.tar.zst -C out`, dir);
  expect(kib).toBeLessThan(LIMIT_KIB);
  expect(sha256(dir, 'out/big')).toBe(sha256(dir, 'src/big'));
  execFileSync('rm', ['-rf', dir]);
}, 120_000);

heavy('verify, list and extract of a portarc .tar.zst of 512 MiB of compressible data stay under 100 MiB RSS each', () => {
  // Not zeros: real frames of ~2 MiB compressed, 256 KiB decoded chunks (zeros hid per-chunk
  // copies that V8 freed late: verify peaked at 220 MiB on 2 GiB, list and extract at 113).
  const dir = tempDir('mem-zstd-real');
  compressibleData(dir, 5, 7);
  expect(spawnSync('node', [RSS, 'create', '--no-fsync', '-f', 'a.tar.zst', '-C', 'src', 'data'], { cwd: dir }).status).toBe(0);
  eachUnderLimit(dir, [
    ['verify', `node ${RSS} verify -f a.tar.zst`],
    ['verify stdin', `node ${RSS} verify -f - < a.tar.zst`],
    ['list', `node ${RSS} list -f a.tar.zst > /dev/null`],
    ['extract', `mkdir out && node ${RSS} extract --no-fsync -f a.tar.zst -C out`],
  ]);
  expect(sha256(dir, 'out/data')).toBe(sha256(dir, 'src/data'));
  execFileSync('rm', ['-rf', dir]);
}, 240_000);

heavy('create, verify, list and extract of a .tar.gz of 512 MiB stay under 100 MiB RSS each', () => {
  // node:zlib hands out each output chunk in a fresh 256 KiB buffer, freed late: the CLI collects
  // them every 8 MiB (src/model/gc-pacer.ts). Without it, 1.3 GB of .tar.gz peaked at 103-110 MiB.
  const dir = tempDir('mem-gzip');
  compressibleData(dir, 9, 11);
  eachUnderLimit(dir, [
    ['create', `node ${RSS} create --level 1 --no-fsync -f a.tar.gz -C src data`],
    ['verify', `node ${RSS} verify -f a.tar.gz`],
    ['list', `node ${RSS} list -f a.tar.gz > /dev/null`],
    ['extract', `mkdir out && node ${RSS} extract --no-fsync -f a.tar.gz -C out`],
  ]);
  expect(sha256(dir, 'out/data')).toBe(sha256(dir, 'src/data'));
  execFileSync('rm', ['-rf', dir]);
}, 240_000);

// The DESIGN §5 bar for create on many small files and for zstd (issue #11), in `npm test`: the SHA-256 digests hash on this thread with a 1 MiB ring until a big file comes (no
// worker for small files), the manifest spool keeps 1 MiB in memory, and zstd uses one thread fewer
// than the cores (measured, Node 20 / 24: 50,000 files 81 / 97-100 MiB, zstd of 1 GiB 90 / 94 MiB;
// the limit is 100 MiB plus the runtime's floor above Node 20's, test/helpers/rss.ts).
function peakOf(stderr: string): number {
  const m = [...stderr.matchAll(/portarc-maxrss-kib (\d+)/g)];
  expect(m).toHaveLength(1);
  return Number(m[0]![1]);
}

light('creates an archive of 50,000 small files under 100 MiB RSS', () => {
  const dir = tempDir('mem-small');
  // 50 directories of 1,000 files of 0-16 KiB (median ~1 KiB, as bench/datasets.mjs's small set).
  execFileSync('python3', ['-c', `
import os, random
r = random.Random(11)
for d in range(50):
    os.makedirs(f"src/d{d:02}")
    for f in range(1000):
        n = int(16384 * r.random() ** 4)
        with open(f"src/d{d:02}/f{f:04}", "wb") as fh:
            fh.write(bytes([d, f & 255]) * (n // 2) + b"x" * (n % 2))
`], { cwd: dir });
  const r = spawnSync('node', [RSS, 'create', '-f', 'out.tar', '-C', 'src', '.'], { cwd: dir, encoding: 'utf8' });
  expect(r.stderr.replace(/portarc-maxrss-kib \d+\n/g, '')).toBe('');
  expect(r.status).toBe(0);
  const listed = execFileSync('bash', ['-c', 'tar -tf out.tar | grep -c "^./d[0-9]*/f"'], { cwd: dir, encoding: 'utf8' });
  expect(Number(listed)).toBe(50_000);
  expect(peakOf(r.stderr)).toBeLessThan(LIMIT_KIB);
  // And back, every file checked against the manifest as it is restored (with the manifest read
  // beside the archive, and the addon's batches pending: 96-99 MiB before batches of 32 files).
  const x = peakKib(`mkdir out && node ${RSS} extract -f out.tar -C out`, dir);
  expect(x, 'extract').toBeLessThan(LIMIT_KIB);
  expect(execFileSync('bash', ['-c', 'diff -r src out && echo same'], { cwd: dir, encoding: 'utf8' }).trim()).toBe('same');
  execFileSync('rm', ['-rf', dir]);
}, 300_000);

light('creates a 1 GiB .tar.zst under 100 MiB RSS', () => {
  const dir = tempDir('mem-zstd');
  const GIB = 1024 ** 3;
  execFileSync('bash', ['-c', `mkdir src && truncate -s ${GIB} src/big && for off in 0 536870912 1073741000; do printf "portarc $off" | dd of=src/big bs=1 seek=$off conv=notrunc status=none; done`], { cwd: dir });
  const r = spawnSync('node', [RSS, 'create', '-f', 'out.tar.zst', '-C', 'src', 'big'], { cwd: dir, encoding: 'utf8' });
  expect(r.stderr.replace(/portarc-maxrss-kib \d+\n/g, '')).toBe('');
  expect(r.status).toBe(0);
  const sum = (cmd: string) => execFileSync('bash', ['-o', 'pipefail', '-c', `${cmd} | sha256sum`], { cwd: dir, encoding: 'utf8' }).split(' ')[0];
  expect(sum('zstd -dc out.tar.zst | tar -xOf - big')).toBe(sum('cat src/big'));
  expect(peakOf(r.stderr)).toBeLessThan(LIMIT_KIB);
  execFileSync('rm', ['-rf', dir]);
}, 300_000);

heavy('verify from a stream of 130,000 entries with a member cut out early: every later entry named, no internal error (a spread of the 130,000 reports overflowed the call stack)', () => {
  const dir = tempDir('mem-cascade');
  execFileSync('python3', ['-c', `
import tarfile, io
t = tarfile.open("big.tar", "w", format=tarfile.PAX_FORMAT)
for k in range(130000):
    i = tarfile.TarInfo("f/%06d" % k); d = b"c%d\\n" % k; i.size = len(d); i.mtime = 1700000000; t.addfile(i, io.BytesIO(d))
t.close()
`], { cwd: dir });
  expect(spawnSync('node', [join(process.cwd(), 'bin/portarc.js'), 'convert', 'big.tar', 'm.tar'], { cwd: dir }).status).toBe(0);
  execFileSync('python3', ['-c', `
import tarfile
ms = tarfile.open("m.tar").getmembers(); d = open("m.tar", "rb").read()
open("cut.tar", "wb").write(d[:ms[5].offset] + d[ms[6].offset:])
`], { cwd: dir });
  const r = spawnSync('bash', ['-c', `node ${RSS} verify -f - < cut.tar`], { cwd: dir, encoding: 'utf8', maxBuffer: 1 << 30 });
  expect(r.status).toBe(2);
  expect(r.stderr).not.toMatch(/internal error/);
  expect(r.stdout).toMatch(/DAMAGED: 129997 damaged places/);
  // (Its memory is not bounded: the 129,997 reports are held until they are printed, ~125 MiB.)
  execFileSync('rm', ['-rf', dir]);
}, 240_000);
