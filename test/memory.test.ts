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
