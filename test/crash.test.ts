// Crash safety: portarc killed with SIGKILL at random moments never leaves an incomplete archive
// under its final name, nor a truncated file under a member's real name.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, LEFT_BY_KILL, runAndKill } from './helpers/cli.js';
import { tempDir } from './helpers/tree.js';

const RUNS = 24;

function makeSource(dir: string): Map<string, string> {
  const sums = new Map<string, string>();
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let d = 0; d < 8; d++) {
    mkdirSync(join(dir, `d${d}`), { recursive: true });
    for (let f = 0; f < 30; f++) {
      // Mostly small files, some of several MiB so that kills land inside writes too.
      const size = f % 10 === 0 ? 3_000_000 + Math.floor(rand() * 2_000_000) : Math.floor(rand() * 20_000);
      const data = Buffer.alloc(size, `${d}-${f}-`);
      const rel = `d${d}/f${f}`;
      writeFileSync(join(dir, rel), data);
      sums.set(rel, createHash('sha256').update(data).digest('hex'));
    }
  }
  return sums;
}

/** Kill times spread over a normal run's duration; the last runs are not killed at all. */
const schedule = (ms: number) => Array.from({ length: RUNS }, (_, i) => (i < RUNS - 3 ? Math.floor((ms * i) / (RUNS - 3)) : undefined));

function timeOf(args: string[]): number {
  const t = Date.now();
  const r = spawnSync(process.execPath, [BIN, ...args], { stdio: 'ignore' });
  expect(r.status).toBe(0);
  return Date.now() - t;
}

function files(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (lstatSync(p).isDirectory()) walk(p);
      else out.push(relative(root, p));
    }
  };
  if (existsSync(root)) walk(root);
  return out;
}

describe('SIGKILL at random points', () => {
  const base = tempDir('crash');
  const src = join(base, 'src');
  const sums = makeSource(src);
  const full = join(base, 'full.tar');
  const createMs = timeOf(['create', '-f', full, '-C', src, '.']);
  const expected = spawnSync('tar', ['-tf', full], { encoding: 'utf8' }).stdout;
  // Dozens of partial copies of a 100 MiB tree: do not leave them behind.
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  it('create: the archive is either absent or complete', async () => {
    let complete = 0;
    for (const [i, ms] of schedule(createMs).entries()) {
      const out = join(base, `c${i}.tar`);
      await runAndKill(['create', '-f', out, '-C', src, '.'], ms);
      if (existsSync(out)) {
        complete++;
        const listed = spawnSync('tar', ['-tf', out], { encoding: 'utf8' });
        expect(listed.status).toBe(0);
        expect(listed.stdout).toBe(expected);
      }
    }
    // The first runs die early and the last ones are not killed: both outcomes are seen.
    expect(complete).toBeGreaterThan(0);
    expect(complete).toBeLessThan(RUNS);
  });

  it('extract: every file under its real name is whole', async () => {
    const extractMs = timeOf(['extract', '-f', full, '-C', join(base, 'x-full')]);
    let partialRuns = 0;
    for (const [i, ms] of schedule(extractMs).entries()) {
      const dest = join(base, `x${i}`);
      await runAndKill(['extract', '-f', full, '-C', dest], ms);
      const got = files(dest);
      if (got.length < sums.size) partialRuns++;
      for (const rel of got) {
        if (LEFT_BY_KILL.test(rel)) continue; // a temporary name, or the probe's scratch file, is allowed
        const data = readFileSync(join(dest, rel));
        expect(createHash('sha256').update(data).digest('hex'), rel).toBe(sums.get(rel));
      }
    }
    expect(partialRuns).toBeGreaterThan(0);
  });
});
