// The progress line of create and extract (issue #12 acceptance): shown under a pseudo-terminal
// (util-linux `script`), inside one big file too; absent when stderr is a pipe or with --quiet;
// forced by --progress; never mixed into listing lines. And the library's onProgress events.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, portarc } from './helpers/cli.js';
import { sh, tempDir } from './helpers/tree.js';
import { create, extract, type Progress } from '../src/api/index.js';

const BIG = 256 << 20;

/** Run portarc under a pseudo-terminal; what the terminal showed (stdout and stderr together). */
function underPty(args: string[], cwd: string): { status: number; screen: string } {
  const cmd = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  // The bar waits 300 ms before its first frame; on an idle machine 256 MiB can be done by then (CI saw
  // only the final frame), so here it draws from the start.
  const env = { ...process.env, PORTARC_PROGRESS_DELAY_MS: '0' };
  const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { cwd, env, encoding: 'utf8', maxBuffer: 1 << 26 });
  return { status: r.status ?? -1, screen: r.stdout };
}

/** The bar's renders: each text drawn after "\r\x1b[K". */
function renders(screen: string): string[] {
  return screen.split('\r\x1b[K').slice(1).map((s) => s.split(/[\r\n]/)[0]!).filter((s) => s !== '');
}

describe('progress on a terminal', () => {
  const dir = tempDir('progress');
  const src = join(dir, 'src');
  mkdirSync(src);
  sh(`head -c ${BIG} /dev/zero > big.bin; for i in $(seq 1 40); do echo $i > small$i; done`, src);
  const archive = join(dir, 'big.tar');

  it('create shows bytes, entries, rate, and percent and ETA once the walk beside it has the total', () => {
    const r = underPty(['create', '-f', archive, '-C', src, '.'], dir);
    expect(r.status, r.screen).toBe(0);
    const lines = renders(r.screen);
    expect(lines.length, r.screen).toBeGreaterThan(0);
    expect(lines.some((l) => / ETA \d+:\d\d$/.test(l)), r.screen).toBe(true);
    expect(lines.at(-1)).toMatch(/^\[#+\] 100% {2}256\.0 MiB \/ 256\.0 MiB {2}42 entries {2}[\d.]+ [KMG]?i?B\/s$/);
  });

  it('extract shows percent and ETA, inside the one big file too, and clears the line', () => {
    const r = underPty(['extract', '-f', archive, '-C', join(dir, 'out-pty')], dir);
    expect(r.status, r.screen).toBe(0);
    const lines = renders(r.screen);
    // Mid-file: part of the bytes done while no more than the root directory is complete.
    const mid = lines.filter((l) => /^\[[#.]+\] +\d+% .* [12] entr(y|ies) .*ETA \d+:\d\d$/.test(l));
    expect(mid.length, r.screen).toBeGreaterThan(0);
    expect(mid.some((l) => !l.includes(' 100%'))).toBe(true);
    expect(lines.at(-1)).toMatch(/100% {2}256\.0 MiB \/ 256\.0 MiB {2}42 entries/);
    // The last thing on the terminal erases the line.
    expect(r.screen.endsWith('\r\x1b[K')).toBe(true);
  });

  it('-v listing lines are never mixed with the bar', () => {
    const r = underPty(['extract', '-v', '-f', archive, '-C', join(dir, 'out-v')], dir);
    expect(r.status, r.screen).toBe(0);
    expect(renders(r.screen).length).toBeGreaterThan(0);
    // What a terminal shows on each line: "\r" goes back to its start and "\x1b[K" erases it.
    const visible = (line: string) => (line.split('\r').filter((seg) => seg !== '').at(-1) ?? '').replace(/^\x1b\[K/, '');
    const listed = r.screen.split('\n').filter((l) => /small\d+/.test(l));
    expect(listed.length).toBe(40);
    for (const l of listed) expect(visible(l)).toMatch(/^\.\/small\d+$/);
  });

  it('none with --quiet under a pty, none when stderr is a pipe, forced by --progress', () => {
    const q = underPty(['extract', '-q', '-f', archive, '-C', join(dir, 'out-q')], dir);
    expect(q.status, q.screen).toBe(0);
    expect(q.screen).not.toContain('\x1b[K');
    const piped = portarc(['extract', '-f', archive, '-C', join(dir, 'out-pipe')]);
    expect(piped.status, piped.stderr).toBe(0);
    expect(piped.stderr).toBe('');
    const forced = portarc(['extract', '--progress', '-f', archive, '-C', join(dir, 'out-forced')], { env: { PORTARC_PROGRESS_DELAY_MS: '0' } });
    expect(forced.status, forced.stderr).toBe(0);
    expect(renders(forced.stderr).at(-1)).toMatch(/100%/);
  });

  it('library: onProgress counts content inside one file, with the total from the manifest', async () => {
    const events: Progress[] = [];
    await extract(archive, join(dir, 'out-lib'), { fsync: false, onProgress: (p) => events.push(p) });
    expect(events.length).toBeGreaterThan(1);
    expect(events.every((e) => e.totalBytes === BIG + 40 * 3 - 9)).toBe(true); // "1\n".."9\n" are 2 bytes
    expect(events.some((e) => e.bytes > 0 && e.bytes < BIG && e.entries <= 2)).toBe(true);
    for (let i = 1; i < events.length; i++) expect(events[i]!.bytes).toBeGreaterThanOrEqual(events[i - 1]!.bytes);
    expect(events.at(-1)).toEqual({ bytes: BIG + 111, entries: 42, totalBytes: BIG + 111 });

    const made: Progress[] = [];
    writeFileSync(join(dir, 'one'), 'x'.repeat(5000));
    await create(['one'], join(dir, 'one.tar'), { cwd: dir, onProgress: (p) => made.push(p) });
    // The total comes from a walk beside the work: there once it has finished.
    expect(made.at(-1)).toMatchObject({ bytes: 5000, entries: 1 });
    expect([undefined, 5000]).toContain(made.at(-1)!.totalBytes);
    const big: Progress[] = [];
    await create(['src'], join(dir, 'big2.tar'), { cwd: dir, onProgress: (p) => big.push(p) });
    expect(big.at(-1)).toEqual({ bytes: BIG + 111, entries: 42, totalBytes: BIG + 111 });
    const filtered: Progress[] = [];
    await create(['src'], join(dir, 'big3.tar'), { cwd: dir, filter: (e) => !e.name.endsWith('big.bin'), onProgress: (p) => filtered.push(p) });
    expect(filtered.at(-1)).toEqual({ bytes: 111, entries: 41 });
    await expect(create(['one'], join(dir, 'two.tar'), { cwd: dir, onProgress: 5 as never })).rejects.toThrow(/onProgress must be a function/);
  });
});
