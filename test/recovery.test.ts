// Recovery data and `portarc repair` (issue #14; spec/recovery.md): PAR2 2.0 sidecar sets written
// by `create --recovery`, burst damage repaired byte-identically (tar, .tar.zst, zip), damage
// beyond the budget refused with exit 2, and par2cmdline as the oracle in both directions.
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, truncateSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { addRecovery, repair } from '../src/api/repair.js';
import { DamagedError, IoError } from '../src/model/errors.js';
import { loadRecoverySet } from '../src/integrity/par2/reader.js';
import { checkSlices, rebuild, repairLayout } from '../src/integrity/par2/repair.js';
import { PARITY_BUDGET, writeRecovery } from '../src/integrity/par2/writer.js';
import { chooseSliceSize, sliceCount, sliceSum, sumSlices, type SliceSum } from '../src/integrity/par2/slices.js';
import { parityLayout } from '../src/integrity/par2/parity.js';
import { MAX_COEFS } from '../src/integrity/par2/kernel.js';
import { open } from 'node:fs/promises';
import { portarc, runAndKill } from './helpers/cli.js';
import { LIMIT_KIB } from './helpers/rss.js';
import { tempDir } from './helpers/tree.js';
import { VERSION } from '../src/api/version.js';
import { burst, rng } from './helpers/damage.js';

const RSS = fileURLToPath(new URL('../bench/rss.mjs', import.meta.url));

function run(cmd: string, args: string[], cwd?: string) {
  const r = spawnSync(cmd, args, { cwd, maxBuffer: 1 << 28 });
  return { status: r.status ?? -1, stdout: r.stdout.toString('latin1'), stderr: r.stderr.toString('latin1') };
}

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** A tree of a few MB: random (incompressible) data, text, and a zero-filled file. */
function makeTree(dir: string, seed: number): string {
  const src = join(dir, 'src');
  mkdirSync(join(src, 'd'), { recursive: true });
  const rand = rng(seed);
  const noise = Buffer.alloc(1_200_000);
  for (let i = 0; i < noise.length; i++) noise[i] = (rand() * 256) | 0;
  writeFileSync(join(src, 'd/noise.bin'), noise);
  writeFileSync(join(src, 'd/lines.txt'), Array.from({ length: 60000 }, (_, i) => `line ${i} ${(rand() * 1e9) | 0}\n`).join(''));
  writeFileSync(join(src, 'zeros'), Buffer.alloc(300_000));
  return src;
}

/** Blocks and slice size from create's "recovery data: R blocks of S bytes for N archive blocks" line. */
function recoveryInfo(stderr: string): { blocks: number; slice: number; inputs: number } {
  const m = /recovery data: (\d+) blocks of (\d+) bytes for (\d+) archive blocks/.exec(stderr);
  expect(m, stderr).not.toBeNull();
  return { blocks: Number(m![1]), slice: Number(m![2]), inputs: Number(m![3]) };
}

/** The SHA-256 of every recovery block in these PAR2 volume files, by exponent. */
function recoveryBlocks(files: string[]): Map<number, string> {
  const out = new Map<number, string>();
  for (const f of files) {
    const b = readFileSync(f);
    for (let at = b.indexOf('PAR2\0PKT'); at >= 0; at = b.indexOf('PAR2\0PKT', at + 8)) {
      const len = Number(b.readBigUInt64LE(at + 8));
      if (b.subarray(at + 48, at + 64).toString('latin1') !== 'PAR 2.0\0RecvSlic') continue;
      out.set(b.readUInt32LE(at + 64), createHash('sha256').update(b.subarray(at + 68, at + len)).digest('hex'));
    }
  }
  return out;
}

/**
 * Three bursts at random places whose blocks together stay within the budget: a burst of L bytes
 * touches at most ceil(L/S)+1 blocks; the bursts do not overlap.
 */
function randomBursts(file: string, blocks: number, slice: number, seed: number): void {
  const size = statSync(file).size;
  const rand = rng(seed);
  const perBurst = Math.floor(blocks / 3) - 1;
  const len = (perBurst - 1) * slice;
  expect(len).toBeGreaterThan(slice);
  const third = Math.floor(size / 3);
  for (let k = 0; k < 3; k++) burst(file, k * third + Math.floor(rand() * (third - len)), len);
}

describe('create --recovery and repair: bursts within the budget are repaired byte-identically', () => {
  const dir = tempDir('recovery');
  const src = makeTree(dir, 14);

  for (const [name, seed] of [
    ['a.tar', 1],
    ['a.tar.zst', 2],
    ['a.zip', 3],
  ] as const) {
    it(`${name}: verify says repairable, repair rebuilds it exactly, the repaired archive verifies and extracts`, () => {
      const arc = join(dir, name);
      const c = portarc(['create', '--recovery', '10%', '-f', arc, '-C', src, '.']);
      expect(c.status, c.stderr).toBe(0);
      const info = recoveryInfo(c.stderr);
      expect(info.blocks).toBe(Math.ceil(info.inputs / 10));
      expect(existsSync(`${arc}.par2`)).toBe(true);
      const clean = readFileSync(arc);
      const v0 = portarc(['verify', '-f', arc]);
      expect(v0.status).toBe(0);
      expect(v0.stdout).toContain(`recovery data: ${info.blocks} blocks of ${info.slice} bytes; no damaged blocks`);

      randomBursts(arc, info.blocks, info.slice, seed);
      expect(readFileSync(arc).equals(clean)).toBe(false);
      const v = portarc(['verify', '-f', arc]);
      expect(v.status).toBe(2);
      expect(v.stdout).toMatch(/recovery data: \d+ blocks of \d+ bytes; \d+ damaged blocks, repairable/);

      const j = JSON.parse(portarc(['verify', '--json', '-f', arc]).stdout);
      expect(j.recovery).toMatchObject({ blocks: info.blocks, sliceSize: info.slice, repairable: true });
      expect(j.recovery.damagedBlocks).toBeGreaterThan(3);
      expect(j.recovery.damagedBlocks).toBeLessThanOrEqual(info.blocks);

      const out = join(dir, `${name}.fixed`);
      const r = portarc(['repair', '-f', arc, '-o', out]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/repaired \d+ damaged blocks/);
      expect(readFileSync(out).equals(clean)).toBe(true);
      // The damaged original is untouched without --in-place.
      expect(readFileSync(arc).equals(clean)).toBe(false);
      copyFileSync(out, arc);
      expect(portarc(['verify', '-f', arc]).status).toBe(0);
      const x = join(dir, `x-${name}`);
      mkdirSync(x);
      expect(portarc(['extract', '-f', out, '-C', x]).status).toBe(0);
      expect(readFileSync(join(x, 'd/noise.bin')).equals(readFileSync(join(src, 'd/noise.bin')))).toBe(true);
    });
  }

  it('--in-place repairs the archive itself; -o defaults to ARCHIVE.repaired; an intact archive needs no repair', () => {
    const arc = join(dir, 'b.tar');
    const c = portarc(['create', '--recovery', '5', '-f', arc, '-C', src, '.']);
    expect(c.status, c.stderr).toBe(0);
    const info = recoveryInfo(c.stderr);
    expect(info.blocks).toBe(Math.ceil(info.inputs / 20));
    const clean = readFileSync(arc);
    const ok = portarc(['repair', '-f', arc, '--in-place']);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain('no damage found');
    expect(portarc(['repair', '-f', arc]).stdout).toBe(`${arc}: no damage found (${info.blocks} recovery blocks)\n`);
    expect(existsSync(`${arc}.repaired`)).toBe(false);
    burst(arc, 0, 3 * info.slice); // the first headers
    const d = portarc(['repair', '-f', arc]);
    expect(d.status, d.stderr).toBe(0);
    expect(readFileSync(`${arc}.repaired`).equals(clean)).toBe(true);
    chmodSync(arc, 0o640);
    chownSync(arc, 1234, 5678);
    const r = portarc(['repair', '-f', arc, '--in-place']);
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(arc).equals(clean)).toBe(true);
    expect(readdirSync(dir).filter((f) => f.includes('.repair-'))).toEqual([]);
    const st = statSync(arc);
    expect([st.mode & 0o7777, st.uid, st.gid]).toEqual([0o640, 1234, 5678]);
  });

  it('a truncated archive, one with bytes appended, and damaged parity files are repaired too', () => {
    const arc = join(dir, 'c.tar.zst');
    const c = portarc(['create', '--recovery', '10%', '-f', arc, '-C', src, '.']);
    expect(c.status, c.stderr).toBe(0);
    const info = recoveryInfo(c.stderr);
    const clean = readFileSync(arc);
    truncateSync(arc, clean.length - 5 * info.slice - 7);
    expect(portarc(['verify', '-f', arc]).status).toBe(2);
    expect(portarc(['repair', '-f', arc, '--in-place']).status).toBe(0);
    expect(readFileSync(arc).equals(clean)).toBe(true);

    appendFileSync(arc, Buffer.from('junk at the end'));
    const v = portarc(['verify', '-f', arc]);
    expect(v.stdout).toContain('bytes too many');
    expect(v.status).toBe(2);
    const cut = portarc(['repair', '-f', arc, '--in-place']);
    expect(cut.status).toBe(0);
    expect(cut.stdout).toContain('removed 15 bytes past the archive\'s end');
    expect(readFileSync(arc).equals(clean)).toBe(true);

    // Bit rot in the volume file costs the recovery packets it hits, nothing more.
    const vol = readdirSync(dir).find((f) => f.startsWith('c.tar.zst.vol'))!;
    burst(join(dir, vol), 1000, 2 * info.slice);
    burst(arc, 10_000, 5 * info.slice);
    const r = portarc(['repair', '-f', arc, '--in-place']);
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(arc).equals(clean)).toBe(true);
  });
});

it('repair --in-place killed at any moment leaves the archive either as it was or repaired, never half-written', async () => {
  const dir = tempDir('recovery-crash');
  const rand = rng(99);
  const data = Buffer.alloc(8_000_000);
  for (let i = 0; i < data.length; i++) data[i] = (rand() * 256) | 0;
  mkdirSync(join(dir, 'src'));
  writeFileSync(join(dir, 'src/data'), data);
  const arc = join(dir, 'k.tar');
  const c = portarc(['create', '--recovery', '20%', '-f', arc, '-C', join(dir, 'src'), 'data']);
  expect(c.status, c.stderr).toBe(0);
  const info = recoveryInfo(c.stderr);
  const clean = readFileSync(arc);
  burst(arc, 1_000_000, (info.blocks - 20) * info.slice);
  const damaged = readFileSync(arc);
  for (const ms of [30, 150, 400, 800, 1500]) {
    writeFileSync(arc, damaged);
    await runAndKill(['repair', '-f', arc, '--in-place'], ms);
    const now = readFileSync(arc);
    expect(now.equals(damaged) || now.equals(clean)).toBe(true);
  }
  expect(await runAndKill(['repair', '-f', arc, '--in-place'], undefined)).toBe(0);
  expect(readFileSync(arc).equals(clean)).toBe(true);
}, 120_000);

it('a stale set (the archive was made again without --recovery) is named as such, never used to bring the old archive back', () => {
  const dir = tempDir('recovery-stale');
  const src = makeTree(dir, 21);
  const arc = join(dir, 's.tar');
  expect(portarc(['create', '--recovery', '10%', '-f', arc, '-C', src, '.']).status).toBe(0);
  writeFileSync(join(src, 'new-file'), 'made after the first backup\n');
  expect(portarc(['create', '-f', arc, '-C', src, '.']).status).toBe(0);
  const now = readFileSync(arc);
  const v = portarc(['verify', '-f', arc]);
  expect(v.status).toBe(0);
  expect(v.stdout).toContain('recovery data: describes another archive');
  const r = portarc(['repair', '-f', arc, '--in-place']);
  expect(r.status).toBe(2);
  expect(r.stderr).toContain('describes another archive');
  expect(readFileSync(arc).equals(now)).toBe(true);
});

describe('damage beyond the budget', () => {
  it('is reported as not repairable: verify and repair exit 2, nothing is written', () => {
    const dir = tempDir('recovery-over');
    const src = makeTree(dir, 15);
    for (const name of ['o.tar', 'o.zip']) {
      const arc = join(dir, name);
      const c = portarc(['create', '--recovery', '3%', '-f', arc, '-C', src, '.']);
      expect(c.status, c.stderr).toBe(0);
      const info = recoveryInfo(c.stderr);
      // One block more than the budget, in two bursts.
      burst(arc, 5 * info.slice, info.slice * Math.ceil(info.blocks / 2));
      burst(arc, 400 * info.slice, info.slice * (Math.floor(info.blocks / 2) + 1));
      const v = portarc(['verify', '-f', arc]);
      expect(v.status).toBe(2);
      expect(v.stdout).toContain('NOT repairable');
      const r = portarc(['repair', '-f', arc, '-o', join(dir, `${name}.out`)]);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`error: .*${name}: ${info.blocks + 1} damaged blocks of ${info.slice} bytes \\(bytes \\d+-\\d+, \\d+-\\d+\\), only ${info.blocks} recovery blocks: not repairable`));
      expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
      expect(existsSync(join(dir, `${name}.out`))).toBe(false);
      expect(readdirSync(dir).filter((f) => f.includes('.repair-'))).toEqual([]);
    }
  });

  it('usage errors: no recovery data, --recovery out of range or to stdout (exit 2, one line)', () => {
    const dir = tempDir('recovery-usage');
    writeFileSync(join(dir, 'f'), 'x');
    const arc = join(dir, 'n.tar');
    expect(portarc(['create', '-f', arc, '-C', dir, 'f']).status).toBe(0);
    const r = portarc(['repair', '-f', arc]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('no recovery data');
    // The set of n.tar.zst beside it is not n.tar's.
    expect(portarc(['create', '--recovery', '10%', '-f', `${arc}.zst`, '-C', dir, 'f']).status).toBe(0);
    expect(portarc(['repair', '-f', arc]).stderr).toContain('no recovery data');
    expect(portarc(['verify', '-f', arc]).stdout).not.toContain('recovery data');
    // A set whose description names another file is not used either.
    copyFileSync(`${arc}.zst.par2`, `${arc}.par2`);
    const other = portarc(['repair', '-f', arc]);
    expect(other.status).toBe(2);
    expect(other.stderr).toContain('no intact description of "n.tar"');
    for (const bad of ['0', '101%', 'ten']) {
      const c = portarc(['create', '--recovery', bad, '-f', join(dir, 'm.tar'), '-C', dir, 'f']);
      expect(c.status).toBe(2);
      expect(c.stderr).toContain('is not a percentage');
    }
    const s = portarc(['create', '--recovery', '10%', '-f', '-', '-C', dir, 'f']);
    expect(s.status).toBe(2);
    expect(s.stderr).toContain('--recovery needs an archive file');
  });
});

describe('verify of the recovery set beside an archive', () => {
  it('zeros appended to an intact archive are bytes too many, not a set for another archive; an unusable set is damage (exit 2)', () => {
    // Appended zeros made verify call the set stale ("describes another archive", exit 0) though
    // repair used it; a set whose slice checksums were damaged was "unusable" with exit 0.
    const d = tempDir('rec-verify');
    mkdirSync(join(d, 't'));
    writeFileSync(join(d, 't', 'f'), Buffer.from(Array.from({ length: 50_000 }, (_, i) => (i * 7) & 0xff)));
    const a = join(d, 'a.tar');
    expect(portarc(['create', '-q', '-f', a, '--recovery', '10%', '-C', join(d, 't'), '.']).status).toBe(0);
    appendFileSync(a, Buffer.alloc(1024));
    const v = portarc(['verify', '-f', a]);
    expect(v.stdout).not.toMatch(/describes another archive/);
    expect(v.stdout).toMatch(/0 damaged blocks and 1024 bytes too many, repairable/);
    const par2 = readFileSync(`${a}.par2`);
    const ifsc = par2.indexOf('PAR 2.0\0IFSC\0\0\0', 0, 'latin1');
    expect(ifsc).toBeGreaterThan(0);
    par2[ifsc + 40]! ^= 1;
    writeFileSync(`${a}.par2`, par2);
    for (const vol of readdirSync(d).filter((n) => n.includes('.vol'))) {
      const b = readFileSync(join(d, vol));
      const at = b.indexOf('PAR 2.0\0IFSC\0\0\0', 0, 'latin1');
      if (at >= 0) (b[at + 40]! ^= 1), writeFileSync(join(d, vol), b);
    }
    truncateSync(a, statSync(a).size - 1024);
    const u = portarc(['verify', '-f', a]);
    expect(u.stdout).toMatch(/recovery data: unusable/);
    expect(u.status).toBe(2);
  });
});

describe('interop with par2cmdline', () => {
  const dir = tempDir('recovery-par2');
  const src = makeTree(dir, 16);

  it("par2 verify accepts portarc's set; par2 repair repairs a damaged archive with it", () => {
    for (const name of ['p.tar', 'p.tar.zst', 'p.zip']) {
      const arc = join(dir, name);
      const c = portarc(['create', '--recovery', '10%', '-f', arc, '-C', src, '.']);
      expect(c.status, c.stderr).toBe(0);
      const info = recoveryInfo(c.stderr);
      const clean = readFileSync(arc);
      const v0 = run('par2', ['verify', '-q', `${name}.par2`], dir);
      expect(v0.status, v0.stdout + v0.stderr).toBe(0);
      expect(v0.stdout).toContain('All files are correct');
      randomBursts(arc, info.blocks, info.slice, 7);
      const v = run('par2', ['verify', '-q', `${name}.par2`], dir);
      expect(v.status).toBe(1); // par2cmdline: 1 = repair possible
      expect(v.stdout).toContain('Repair is possible');
      const r = run('par2', ['repair', '-q', `${name}.par2`], dir);
      expect(r.status, r.stdout + r.stderr).toBe(0);
      expect(readFileSync(arc).equals(clean)).toBe(true);
    }
  });

  it("portarc repairs an archive with a set made by par2 create (several volume files)", () => {
    for (const name of ['q.tar.zst', 'q.zip']) {
      const arc = join(dir, name);
      expect(portarc(['create', '-f', arc, '-C', src, '.']).status).toBe(0);
      const p = run('par2', ['create', '-q', '-b500', '-r10', `${name}.par2`, name], dir);
      expect(p.status, p.stdout + p.stderr).toBe(0);
      expect(readdirSync(dir).filter((f) => f.startsWith(`${name}.vol`)).length).toBeGreaterThan(1);
      const clean = readFileSync(arc);
      burst(arc, 100, 20_000);
      burst(arc, clean.length - 30_000, 25_000);
      const v = portarc(['verify', '-f', arc]);
      expect(v.status).toBe(2);
      expect(v.stdout).toMatch(/recovery data: \d+ blocks .*repairable/);
      const r = portarc(['repair', '-f', arc, '--in-place']);
      expect(r.status, r.stderr).toBe(0);
      expect(readFileSync(arc).equals(clean)).toBe(true);
      expect(run('par2', ['verify', '-q', `${name}.par2`], dir).status).toBe(0);
    }
  });
});

describe('the native kernel and the JS fallback', () => {
  it('create --recovery with the addon forced off (PORTARC_NO_NATIVE=1) makes the same set as with it, both ways', async () => {
    const dir = tempDir('recovery-kernels');
    const src = makeTree(dir, 23);
    // 6 MB more of noise: file bytes x recovery slices is then large enough for the JS kernel's
    // worker thread (and the native kernel runs on its threads), not only the inline path.
    const rand = rng(5);
    const noise = Buffer.alloc(6_000_000);
    for (let i = 0; i < noise.length; i++) noise[i] = (rand() * 256) | 0;
    writeFileSync(join(src, 'more.bin'), noise);
    const sets: Record<string, Map<string, Buffer>> = {};
    for (const kind of ['js', 'native']) {
      mkdirSync(join(dir, kind));
      const c = portarc(['create', '--recovery', '10%', '-f', join(dir, kind, 'a.tar'), '-C', src, '.'], { env: kind === 'js' ? { PORTARC_NO_NATIVE: '1' } : {} });
      expect(c.status, c.stderr).toBe(0);
      expect(recoveryInfo(c.stderr).blocks).toBe(100);
      sets[kind] = new Map(readdirSync(join(dir, kind)).filter((f) => f.endsWith('.par2')).map((f) => [f, readFileSync(join(dir, kind, f))]));
      expect(sets[kind].size).toBe(2);
    }
    // The two archives differ (atimes); each set is made again by the other kernel, on this thread.
    for (const [kind, other] of [['js', 'native'], ['native', 'js']]) {
      const again = join(dir, `${kind}-again`);
      mkdirSync(again);
      copyFileSync(join(dir, kind, 'a.tar'), join(again, 'a.tar'));
      const saved = process.env.PORTARC_NO_NATIVE;
      if (other === 'js') process.env.PORTARC_NO_NATIVE = '1';
      try {
        await writeRecovery(join(again, 'a.tar'), 10, `Created by portarc ${VERSION}`, { threads: 0 });
      } finally {
        if (saved === undefined) delete process.env.PORTARC_NO_NATIVE;
        else process.env.PORTARC_NO_NATIVE = saved;
      }
      for (const [f, bytes] of sets[kind]) expect(readFileSync(join(again, f)).equals(bytes), `${kind} ${f} made again by ${other}`).toBe(true);
    }
    expect(run('par2', ['verify', '-q', 'a.tar.par2'], join(dir, 'js')).status).toBe(0);
  });
});

describe('bounded memory', () => {
  it('slice checksums read in 1 MiB pieces equal those of whole slices (slices larger than a piece, a file cut short)', async () => {
    const dir = tempDir('slice-sums');
    const f = join(dir, 'data');
    const data = Buffer.alloc(7 * 1024 * 1024 + 333);
    for (let i = 0; i < data.length; i += 4096) data.writeUInt32LE((i * 2654435761) >>> 0, i);
    writeFileSync(f, data);
    const sliceSize = 3 * 1024 * 1024 + 4;
    for (const length of [data.length, data.length + 2 * 1024 * 1024]) { // the second: the file ends early
      const fh = await open(f, 'r');
      try {
        const whole: SliceSum[] = [];
        // The reference: each whole slice of the first `length` bytes, padded with zeros.
        for (let at = 0; at < length; at += sliceSize) {
          const slice = Buffer.alloc(sliceSize);
          if (at < data.length) data.copy(slice, 0, at, Math.min(at + sliceSize, length, data.length));
          whole.push(sliceSum(slice));
        }
        const pieces: SliceSum[] = [];
        const seen: Buffer[] = [];
        await sumSlices(fh, length, sliceSize, (_j, s) => void pieces.push(s), (b) => void seen.push(Buffer.from(b)));
        expect(pieces).toEqual(whole);
        expect(pieces).toHaveLength(Math.ceil(length / sliceSize));
        expect(Buffer.concat(seen).equals(data)).toBe(true);
      } finally {
        await fh.close();
      }
    }
  });

  it('recovery and repair in several passes give the same bytes as in one', async () => {
    const dir = tempDir('recovery-passes');
    const src = makeTree(dir, 17);
    const arc = join(dir, 'm.tar');
    expect(portarc(['create', '-f', arc, '-C', src, '.']).status).toBe(0);
    const one = await addRecovery(arc, { percent: 4 });
    const vol1 = readFileSync(one.volume);
    // A budget of 3 slices: the recovery slices are computed in many passes over the archive.
    const many = await writeRecovery(arc, 4, `Created by portarc ${VERSION}`, { budget: one.sliceSize * 3 });
    expect(many.volume).toBe(one.volume);
    expect(one.recoverySlices).toBeGreaterThan(6);
    expect(readFileSync(many.volume).equals(vol1)).toBe(true);
    const clean = readFileSync(arc);
    burst(arc, 2000, one.sliceSize * (one.recoverySlices - 2));
    const r = await repair(arc, { output: join(dir, 'm.out'), memoryBudget: one.sliceSize * 2 });
    expect(r.repairedBlocks).toBeGreaterThan(4);
    expect(readFileSync(join(dir, 'm.out')).equals(clean)).toBe(true);
  });

  it('repair of a set with 32 MiB slices (par2 create -s) stays under 100 MiB RSS: slices are rebuilt in columns', () => {
    // Whole slices (accumulator + recovery slice + read buffer, 3 x 32 MiB) took 188 MiB here.
    const dir = tempDir('recovery-large-slices');
    const S = 32 * 1024 * 1024;
    const mk = spawnSync('bash', ['-c', 'mkdir src && head -c 201000000 /dev/urandom > src/big'], { cwd: dir });
    expect(mk.status).toBe(0);
    expect(portarc(['create', '-f', join(dir, 'big.tar'), '-C', join(dir, 'src'), 'big']).status).toBe(0);
    const size = statSync(join(dir, 'big.tar')).size;
    expect(Math.ceil(size / S)).toBe(6);
    expect(size % S).not.toBe(0); // the last slice is short: checked padded with zeros
    const p = run('par2', ['create', '-q', `-s${S}`, '-r50', 'big.tar.par2', 'big.tar'], dir);
    expect(p.status, p.stdout + p.stderr).toBe(0);
    const clean = sha256(join(dir, 'big.tar'));
    // Three damaged slices: the first (headers), one in the middle, the last (short) one.
    burst(join(dir, 'big.tar'), 100, 20_000);
    burst(join(dir, 'big.tar'), 2 * S + 5_000_000, 3_000_000);
    burst(join(dir, 'big.tar'), 5 * S + 1000, 50_000);
    const r = spawnSync('node', [RSS, 'repair', '-f', 'big.tar', '--in-place'], { cwd: dir, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`repaired 3 damaged blocks of ${S} bytes`);
    expect(sha256(join(dir, 'big.tar'))).toBe(clean);
    const kib = Number(/portarc-maxrss-kib (\d+)/.exec(r.stderr)![1]);
    expect(kib).toBeLessThan(LIMIT_KIB);
    spawnSync('rm', ['-rf', dir]);
  }, 120_000);

  describe('a memory budget smaller than one slice', () => {
    const dir = tempDir('recovery-columns');
    const src = makeTree(dir, 31);
    // 65540: a multiple of 4 but not of 128, so the last column of each slice is 4 bytes wide.
    const S = 65540;
    const budget = 16 * 1024;
    /** A tar archive with a par2 set of 4 recovery slices of S bytes, its last slice short; damage in its first and last slices. */
    function damagedArchive(name: string): { arc: string; clean: Buffer } {
      const arc = join(dir, name);
      expect(portarc(['create', '-f', arc, '-C', src, '.']).status).toBe(0);
      const p = run('par2', ['create', '-q', `-s${S}`, '-c4', `${name}.par2`, name], dir);
      expect(p.status, p.stdout + p.stderr).toBe(0);
      const clean = readFileSync(arc);
      expect(clean.length % S).not.toBe(0);
      // Columns narrower than a slice, and two damaged slices rebuilt in one pass.
      expect(repairLayout(S, Math.ceil(clean.length / S), 2, budget)).toMatchObject({ width: 4096, group: 2 });
      burst(arc, 100, 1000);
      burst(arc, clean.length - 700, 500);
      return { arc, clean };
    }

    it('the first and last (short) slices are rebuilt byte-identically, with the native and the JS kernel', async () => {
      const { arc, clean } = damagedArchive('c.tar');
      for (const kind of ['native', 'js']) {
        const saved = process.env.PORTARC_NO_NATIVE;
        if (kind === 'js') process.env.PORTARC_NO_NATIVE = '1';
        try {
          const out = join(dir, `c-${kind}.out`);
          const r = await repair(arc, { output: out, memoryBudget: budget });
          expect(r.repairedBlocks).toBe(2);
          expect(r.damagedRanges).toEqual([[0, S], [Math.floor(clean.length / S) * S, clean.length]]);
          expect(readFileSync(out).equals(clean), kind).toBe(true);
        } finally {
          if (saved === undefined) delete process.env.PORTARC_NO_NATIVE;
          else process.env.PORTARC_NO_NATIVE = saved;
        }
      }
    });

    it('a rebuilt slice that does not match its checksums (recovery data wrong in its last column) is not repairable: exit 2, nothing written', async () => {
      const { arc } = damagedArchive('w.tar');
      // Change a byte near the end of every recovery slice and make its packet's MD5 right again:
      // the set loads, the solve runs, and only the rebuilt slices' checksums can tell.
      let changed = 0;
      for (const f of readdirSync(dir).filter((n) => n.startsWith('w.tar.vol'))) {
        const b = readFileSync(join(dir, f));
        for (let at = b.indexOf('PAR2\0PKT'); at >= 0; at = b.indexOf('PAR2\0PKT', at + 8)) {
          const len = Number(b.readBigUInt64LE(at + 8));
          if (b.subarray(at + 48, at + 64).toString('latin1') !== 'PAR 2.0\0RecvSlic') continue;
          b[at + 64 + 4 + S - 3] ^= 0x5a;
          createHash('md5').update(b.subarray(at + 32, at + len)).digest().copy(b, at + 16);
          changed++;
        }
        writeFileSync(join(dir, f), b);
      }
      expect(changed).toBe(4);
      const out = join(dir, 'w.out');
      const err = await repair(arc, { output: out, memoryBudget: budget }).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(DamagedError);
      expect((err as DamagedError).code).toBe('PORTARC_DAMAGED');
      expect((err as Error).message).toMatch(/could not rebuild the 2 damaged blocks .*not repairable; nothing was written/);
      expect(existsSync(out)).toBe(false);
      const r = portarc(['repair', '-f', arc]);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/not repairable; nothing was written/);
      expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
      expect(existsSync(`${arc}.repaired`)).toBe(false);
      expect(readdirSync(dir).filter((n) => n.includes('.repair-'))).toEqual([]);
    });

    it('an archive cut short while it is being repaired fails with PORTARC_IO, never zeros in the output', async () => {
      const { arc } = damagedArchive('t.tar');
      const set = (await loadRecoverySet(arc))!;
      const fh = await open(arc, 'r');
      const out = await open(join(dir, 't.out'), 'w');
      try {
        const check = await checkSlices(fh, set);
        expect(check.damaged).toHaveLength(2);
        truncateSync(arc, 10 * S + 17); // after the check, before the copy of the intact slices
        const err = await rebuild(fh, set, check, out, budget).then(() => undefined, (e: unknown) => e);
        expect(err).toBeInstanceOf(IoError);
        expect((err as IoError).code).toBe('PORTARC_IO');
        expect((err as Error).message).toMatch(/got shorter while it was being repaired/);
      } finally {
        await fh.close();
        await out.close();
      }
    });
  });

  it('parity kernel calls take at most MAX_COEFS constants whatever the percentage (the native kernel builds a table for each)', () => {
    for (const length of [600_000, 2_600_000, 4_000_000, 64_000_000, 256 * 1024 * 1024, 100e9]) {
      const sliceSize = chooseSliceSize(length);
      const count = sliceCount(length, sliceSize);
      for (const percent of [1, 5, 10, 30, 50, 100]) {
        const n = Math.ceil((count * percent) / 100);
        const { width, rows, batch } = parityLayout(sliceSize, count, n, PARITY_BUDGET);
        expect(rows * batch, `${length} bytes at ${percent}%`).toBeLessThanOrEqual(MAX_COEFS);
        expect(rows * width).toBeLessThanOrEqual(Math.max(PARITY_BUDGET, width));
        expect(batch).toBeGreaterThanOrEqual(1);
      }
    }
  });

  it('create --recovery 100% and 50% of a few MB stay under 100 MiB RSS; par2 verify accepts the sets, every recovery block equals par2cmdline\'s, and they repair damage', () => {
    // Kernel calls of batch x rows constants, each with a 168-byte table in the native kernel:
    // 806 slices x 1000 rows peaked at ~170 MiB here before batches were capped.
    const dir = tempDir('recovery-high');
    const src = makeTree(dir, 41);
    const kib = (t: string) => Number(/portarc-maxrss-kib (\d+)/.exec(t)![1]);
    for (const [percent, seed] of [
      [100, 8],
      [50, 9],
    ]) {
      const name = `h${percent}.tar`;
      const arc = join(dir, name);
      const c = spawnSync('node', [RSS, 'create', '--recovery', `${percent}%`, '-f', name, '-C', src, '.'], { cwd: dir, encoding: 'utf8' });
      expect(c.status, c.stderr).toBe(0);
      const info = recoveryInfo(c.stderr);
      expect(info.inputs).toBeGreaterThan(900);
      expect(info.blocks).toBe(Math.ceil((info.inputs * percent) / 100));
      expect(kib(c.stderr), `create --recovery ${percent}%`).toBeLessThan(LIMIT_KIB);
      const v0 = run('par2', ['verify', '-q', `${name}.par2`], dir);
      expect(v0.status, v0.stdout + v0.stderr).toBe(0);
      expect(v0.stdout).toContain('All files are correct');
      if (percent === 100) {
        // Repair uses the first blocks only: par2cmdline, made to compute the same exponents of
        // the same slices, checks every one of them.
        mkdirSync(join(dir, 'oracle'));
        copyFileSync(arc, join(dir, 'oracle', name));
        const p = run('par2', ['create', '-q', '-n1', `-s${info.slice}`, `-c${info.blocks}`, 'o.par2', name], join(dir, 'oracle'));
        expect(p.status, p.stdout + p.stderr).toBe(0);
        const ours = recoveryBlocks(readdirSync(dir).filter((f) => f.startsWith(`${name}.vol`)).map((f) => join(dir, f)));
        const theirs = recoveryBlocks(readdirSync(join(dir, 'oracle')).filter((f) => f.startsWith('o.vol')).map((f) => join(dir, 'oracle', f)));
        expect(ours.size).toBe(info.blocks);
        expect(theirs.size).toBe(info.blocks);
        for (const [e, digest] of theirs) expect(ours.get(e), `recovery block of exponent ${e}`).toBe(digest);
      }
      const clean = readFileSync(arc);
      randomBursts(arc, 60, info.slice, seed);
      expect(portarc(['verify', '-f', arc]).status).toBe(2);
      const r = portarc(['repair', '-f', arc, '-o', `${arc}.fixed`]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/repaired \d+ damaged blocks/);
      expect(readFileSync(`${arc}.fixed`).equals(clean)).toBe(true);
    }
    spawnSync('rm', ['-rf', dir]);
  }, 120_000);

  it('create --recovery and repair of a 256 MiB archive stay under 100 MiB RSS', () => {
    const dir = tempDir('recovery-rss');
    const big = 256 * 1024 * 1024;
    // Marks spread over zeros: cheap to make, and a recovery set far larger than the memory budget.
    const s = spawnSync('bash', ['-c', `mkdir src && truncate -s ${big} src/big && for off in 0 50000000 100000000 150000000 200000000 268000000; do head -c 100000 /dev/urandom | dd of=src/big bs=100000 count=1 seek=$off oflag=seek_bytes conv=notrunc status=none; done`], { cwd: dir });
    expect(s.status).toBe(0);
    const c = spawnSync('node', [RSS, 'create', '--recovery', '30%', '-f', 'big.tar', '-C', 'src', 'big'], { cwd: dir, encoding: 'utf8' });
    expect(c.status, c.stderr).toBe(0);
    const info = recoveryInfo(c.stderr);
    expect(info.blocks * info.slice).toBeGreaterThan(60 * 1024 * 1024);
    const kib = (t: string) => Number(/portarc-maxrss-kib (\d+)/.exec(t)![1]);
    expect(kib(c.stderr)).toBeLessThan(LIMIT_KIB);
    const clean = join(dir, 'clean.tar');
    copyFileSync(join(dir, 'big.tar'), clean);
    // 12 MiB destroyed (about 100 blocks: repair's work grows with the square of the blocks
    // rebuilt; several passes of repair are covered by the test above).
    burst(join(dir, 'big.tar'), 40_000_000, 12 * 1024 * 1024);
    const r = spawnSync('node', [RSS, 'repair', '-f', 'big.tar', '--in-place'], { cwd: dir, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(kib(r.stderr)).toBeLessThan(LIMIT_KIB);
    expect(run('cmp', ['big.tar', 'clean.tar'], dir).status).toBe(0);
    spawnSync('rm', ['-rf', dir]);
  }, 240_000);

  it('the same with the recovery data embedded (spec §10): create, and repair of damage in the archive and in the region, under 100 MiB RSS', () => {
    const dir = tempDir('recovery-rss-embedded');
    const big = 256 * 1024 * 1024;
    const s = spawnSync('bash', ['-c', `mkdir src && truncate -s ${big} src/big && for off in 0 50000000 100000000 150000000 200000000 268000000; do head -c 100000 /dev/urandom | dd of=src/big bs=100000 count=1 seek=$off oflag=seek_bytes conv=notrunc status=none; done`], { cwd: dir });
    expect(s.status).toBe(0);
    const c = spawnSync('node', [RSS, 'create', '--recovery', '30%', '--embed-recovery', '-f', 'big.tar', '-C', 'src', 'big'], { cwd: dir, encoding: 'utf8' });
    expect(c.status, c.stderr).toBe(0);
    const kib = (t: string) => Number(/portarc-maxrss-kib (\d+)/.exec(t)![1]);
    expect(kib(c.stderr)).toBeLessThan(LIMIT_KIB);
    const size = statSync(join(dir, 'big.tar')).size;
    expect(size).toBeGreaterThan(big + 60 * 1024 * 1024); // the region: 30% of the archive
    const clean = join(dir, 'clean.tar');
    copyFileSync(join(dir, 'big.tar'), clean);
    // The region is made again when it is damaged (its parity computed anew after the rebuild).
    burst(join(dir, 'big.tar'), 40_000_000, 12 * 1024 * 1024);
    burst(join(dir, 'big.tar'), size - 2_000_000, 500_000);
    const r = spawnSync('node', [RSS, 'repair', '-f', 'big.tar', '-o', 'out.tar'], { cwd: dir, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('wrote the embedded recovery data again');
    expect(kib(r.stderr)).toBeLessThan(LIMIT_KIB);
    expect(run('cmp', ['out.tar', 'clean.tar'], dir).status).toBe(0);
    spawnSync('rm', ['-rf', dir]);
  }, 240_000);
});
