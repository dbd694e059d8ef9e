// Acceptance: a 2 GiB file streams through create and extract with flat memory. The archive goes
// through a pipe (never stored), and each process reports its peak RSS.
import { execFileSync, spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { tempDir } from './helpers/tree.js';

const RSS = fileURLToPath(new URL('../bench/rss.mjs', import.meta.url));
const GIB2 = 2 * 1024 ** 3;
const LIMIT_KIB = 100 * 1024;

it('streams a 2 GiB file through create | extract under 100 MiB RSS each', () => {
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
  const sum = (p: string) => execFileSync('sha256sum', [p], { cwd: dir, encoding: 'utf8' }).split(' ')[0];
  expect(sum('out/big')).toBe(sum('src/big'));
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

it('extracts 50,000 small files (with fsync, as by default) under 100 MiB RSS', () => {
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

it('extracts a 1 GiB file from a zstd archive under 100 MiB RSS', () => {
  const dir = tempDir('mem-zstd');
  execFileSync('bash', ['-c', `mkdir src && truncate -s 1G src/big && for off in 0 536870912 1073741000; do printf "portarc $off" | dd of=src/big bs=1 seek=$off conv=notrunc status=none; done && tar -cf - -C src big | zstd -q -3 -T2 > a.tar.zst`], { cwd: dir });
  const kib = peakKib(`mkdir out && node ${RSS} extract -f a.tar.zst -C out`, dir);
  expect(kib).toBeLessThan(LIMIT_KIB);
  const sum = (p: string) => execFileSync('sha256sum', [p], { cwd: dir, encoding: 'utf8' }).split(' ')[0];
  expect(sum('out/big')).toBe(sum('src/big'));
  execFileSync('rm', ['-rf', dir]);
}, 120_000);
