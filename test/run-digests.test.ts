// Packed runs digested off the main thread (src/integrity/run-digests.ts, native/run_lines.c)
// while the scan reads on into the next windows of its buffer (src/fs/scan.ts): the scan must not
// fill a window over a run the addon is still reading. The addon's jobs are held back here (each
// starts 30 ms late), so that the scan comes round to a run still being read; without the wait the
// manifest's digests are of other bytes. Spec: spec/manifest.md §3.3, §7.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { create } from '../src/api/create.js';
import { verify } from '../src/api/verify.js';
import { packStats } from '../src/tar/pack.js';
import { runDigestStats } from '../src/integrity/run-digests.js';
import { withoutPacking } from './helpers/no-pack.js';
import { sh, tempDir } from './helpers/tree.js';

const late = { jobs: 0 };
vi.mock('../src/integrity/native-hash.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../src/integrity/native-hash.js')>();
  return {
    ...real,
    hashRuns: (...args: Parameters<typeof real.hashRuns>) => {
      late.jobs++;
      setTimeout(() => real.hashRuns(...args), 30);
    },
  };
});

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const content = (k: number) => Buffer.alloc(1000 + ((k * 97) % 7000), k & 0xff);

let root: string;

beforeAll(() => {
  root = tempDir('run-digests');
  for (let d = 0; d < 40; d++) {
    mkdirSync(join(root, 'w', `d${d}`), { recursive: true });
    for (let i = 0; i < 80; i++) writeFileSync(join(root, 'w', `d${d}`, `f${i}&%${i}`), content(d * 80 + i));
  }
  sh(`find . -exec touch -h -d @1700000000 {} + && find . -type f -exec sha256sum {} + > /dev/null`, root);
});

/**
 * The tree archived as `name`, every file packed and the archive verified clean; what the scan and
 * the addon's jobs did for it (counts in this process).
 */
async function archived(name: string): Promise<{ dest: string; wraps: number; runs: number; digested: typeof runDigestStats }> {
  const before = { ...packStats };
  const digested = { ...runDigestStats };
  const dest = join(root, name);
  await create(['w'], dest, { cwd: root });
  expect(packStats.members - before.members).toBe(3200);
  const v = await verify(dest);
  expect([v.damaged.length, v.checkedContent, v.entries]).toEqual([0, true, 3241]);
  return { dest, wraps: packStats.wraps - before.wraps, runs: packStats.runs - before.runs, digested: { jobs: runDigestStats.jobs - digested.jobs, runs: runDigestStats.runs - digested.runs } };
}

describe('runs digested while the scan reads on', () => {
  it('past many turns of the scan buffer, jobs late: the archive without packing, byte for byte; verified clean; GNU tar extracts it', async () => {
    const { dest, wraps, runs, digested } = await archived('wrap.tar');
    // The buffer came round to its start, more than once, with runs in it still being digested.
    expect(wraps).toBeGreaterThan(1);
    expect(digested.runs).toBe(runs);
    expect(late.jobs).toBeGreaterThan(3);
    await withoutPacking(() => create(['w'], join(root, 'plain.tar'), { cwd: root }));
    expect(sha(readFileSync(dest))).toBe(sha(readFileSync(join(root, 'plain.tar'))));
    const out = join(root, 'out');
    mkdirSync(out);
    execFileSync('tar', ['-xf', dest, '-C', out]);
    expect(readFileSync(join(out, 'w', 'd39', 'f79&%79'))).toEqual(content(3199));
  });

  it('not for a compressed tar (both cores compress; the scan keeps its 2 MiB buffer): the ring digests its runs, as before', async () => {
    const { wraps, digested } = await archived('wrap.tar.zst');
    expect(wraps).toBe(0);
    expect(digested).toEqual({ jobs: 0, runs: 0 });
  });
});
