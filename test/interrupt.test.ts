// Ctrl-C (SIGINT) or a kill (SIGTERM) in the middle of a big file: the CLI stops through the same
// AbortSignal as the library, cleans up (no .partial, no temporary file, nothing under the final
// name), says so in one line and exits 128+N as a shell expects (130, 143). The files are sparse:
// nothing that size is ever written by the test itself.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN } from './helpers/cli.js';
import { partialsOf, sh, tempDir } from './helpers/tree.js';

/** Run the CLI, send `sig` once `ready()` holds (polled), and wait for the exit. */
function interrupted(args: string[], cwd: string, sig: NodeJS.Signals, ready: () => boolean): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setInterval(() => {
      if (ready()) {
        clearInterval(timer);
        child.kill(sig);
      }
    }, 2);
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(timer);
      resolve({ code, stderr });
    });
  });
}

const size = (p: string) => statSync(p, { throwIfNoEntry: false })?.size ?? 0;

describe('interrupting the CLI mid-file', () => {
  const dir = tempDir('interrupt');
  sh(`mkdir -p src && truncate -s 4G src/big && printf end >> src/big`, dir);

  it('create: SIGINT leaves no archive and no .partial, exit 130', async () => {
    const r = await interrupted(['create', '-f', 'out.tar', '-C', 'src', 'big'], dir, 'SIGINT', () => size(partialsOf(join(dir, 'out.tar'))[0] ?? join(dir, 'none')) > 64 << 20);
    expect(r.stderr).toMatch(/interrupted \(SIGINT\)/);
    expect(r.stderr).not.toMatch(/internal error|at .*\.js:\d+/);
    expect(r.code).toBe(130);
    expect(readdirSync(dir).sort()).toEqual(['src']);
  }, 120_000);

  it('create -f - (the archive on stdout): SIGTERM ends the stream unreadable and says so, not "nothing half-written was left"', async () => {
    const r = await new Promise<{ code: number | null; stderr: string; out: string }>((resolve, reject) => {
      const child = spawn('bash', ['-c', `node ${BIN} create -f - -C src big > out.tar`], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setInterval(() => {
        if (size(join(dir, 'out.tar')) > 64 << 20) {
          clearInterval(timer);
          spawnSync('pkill', ['-TERM', '-f', 'portarc.js create -f - -C src big']);
        }
      }, 2);
      child.on('error', reject);
      child.on('close', (code) => (clearInterval(timer), resolve({ code, stderr, out: join(dir, 'out.tar') })));
    });
    expect(r.stderr).toContain('interrupted (SIGTERM): stopped; the archive on standard output was ended so that no reader takes it for complete');
    expect(r.stderr).not.toMatch(/nothing half-written was left/);
    expect(spawnSync('tar', ['-tf', r.out]).status).not.toBe(0);
    sh('rm -f out.tar', dir);
  }, 120_000);

  it('extract: SIGTERM removes the half-written file, exit 143', async () => {
    // A small archive of the 4 GiB file (zeros compress to almost nothing).
    sh(`node ${BIN} create --zstd -f a.tar.zst -C src big && mkdir out`, dir);
    const r = await interrupted(['extract', '-f', 'a.tar.zst', '-C', 'out'], dir, 'SIGTERM', () => readdirSync(join(dir, 'out')).some((n) => size(join(dir, 'out', n)) > 64 << 20));
    expect(r.stderr).toMatch(/interrupted \(SIGTERM\)/);
    expect(r.code).toBe(143);
    expect(readdirSync(join(dir, 'out'))).toEqual([]);
    expect(existsSync(join(dir, 'out', 'big'))).toBe(false);
  }, 240_000);
});

describe('a signal after the work can no longer stop', () => {
  it('extract: "stopping and removing" is taken back when the work completed anyway (exit 0)', async () => {
    // Sent once the last file has its name: the restore is past its last point of stopping (or the
    // process is exiting). It said "removing what was half-written", then exited 0 silently.
    const dir = tempDir('late-signal');
    // 5,000 directories whose metadata is set at the end, after the last file (zz) has its name.
    sh(`mkdir src && cd src && seq -f 'd%05g' 0 4999 | xargs mkdir && echo last > zz && cd .. && node ${BIN} create -f a.tar src`, dir);
    for (let i = 0; i < 3; i++) {
      const out = join(dir, `out${i}`);
      sh(`mkdir ${out}`);
      const r = await interrupted(['extract', '-f', 'a.tar', '-C', out], dir, 'SIGINT', () => existsSync(join(out, 'src/zz')));
      // (null: ended by the signal itself, in Node's exit, after the work and its output.)
      expect([0, 130, null]).toContain(r.code);
      if (r.code === 0 && /stopping and removing/.test(r.stderr)) expect(r.stderr).toMatch(/interrupted \(SIGINT\) too late to stop: the work completed, nothing was removed/);
      if (r.code !== 130) expect(readdirSync(join(out, 'src'))).toHaveLength(5001);
    }
  }, 120_000);
});

describe('never a silent exit', () => {
  it('work left waiting on something that cannot happen ends with exit 2 and one line, not exit 13 and nothing', () => {
    const dir = tempDir('stall');
    sh(`printf hi > f && node ${BIN} create -f a.tar f`, dir);
    // stdout that takes nothing and never drains: the listing waits for a 'drain' that never comes,
    // and the event loop runs dry (what a lost worker message did before, on a filling disk).
    writeFileSync(join(dir, 'stall.mjs'), 'process.stdout.write = () => false;\n');
    const r = spawnSync(process.execPath, ['--import', join(dir, 'stall.mjs'), BIN, 'list', '-f', 'a.tar'], { cwd: dir, encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('portarc: internal error: stopped before the work was done (it waited on something that could not happen; please report)\n');
  });
});
