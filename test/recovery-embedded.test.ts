// Embedded recovery data (issue #14; spec/recovery.md §10): `create --recovery N% --embed-recovery`
// puts the PAR2 set after the archive in the same file. For each container (tar, tar.gz, tar.zst,
// zip): other tools still read the archive, portarc reads and verifies it from the file and from a
// pipe, seeded random bursts anywhere in the file (archive, region, tail) within the budget are
// named by verify and repaired byte-identically, damage beyond it is refused with nothing written,
// damaged locators are found around, embedRecovery() adds and replaces the region; and the
// conformance vectors of conformance/recovery/ (made by conformance/tools/recovery-vectors.mjs).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { open as openFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { embedRecovery, open, repair, verify } from '../src/api/index.js';
import { findEmbedded, readAtOf, wrappedSize, type EmbeddedRegion } from '../src/integrity/par2/embedded.js';
import { LOCATOR_PACKET, locatorBody, packet } from '../src/integrity/par2/packets.js';
import { portarc } from './helpers/cli.js';
import { removeTempDirs, tempDir } from './helpers/tree.js';
import { burst, rng } from './helpers/damage.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const VECTORS = join(ROOT, 'conformance/recovery');
const GENERATOR = join(ROOT, 'conformance/tools/recovery-vectors.mjs');

afterAll(removeTempDirs);

function run(cmd: string, args: string[], opts: { cwd?: string; input?: Buffer } = {}) {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, input: opts.input, maxBuffer: 1 << 28 });
  return { status: r.status ?? -1, stdout: r.stdout.toString('latin1'), stderr: r.stderr.toString('latin1') };
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A tree of about 1.7 MB: incompressible bytes, text, an empty file. */
function makeTree(dir: string): string {
  const src = join(dir, 'src');
  mkdirSync(join(src, 'd', 'e'), { recursive: true });
  const rand = rng(1414);
  const noise = Buffer.alloc(1_400_000);
  for (let i = 0; i < noise.length; i++) noise[i] = (rand() * 256) | 0;
  writeFileSync(join(src, 'd/noise.bin'), noise);
  writeFileSync(join(src, 'd/e/lines.txt'), Array.from({ length: 30000 }, (_, i) => `line ${i} ${(rand() * 1e9) | 0}\n`).join(''));
  writeFileSync(join(src, 'empty'), '');
  return src;
}

/** path → 'dir' or the content's SHA-256, for every file under `root` but portarc's own .portarc/ members. */
function treeOf(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      const rel = relative(root, p);
      if (rel === '.portarc') continue;
      if (e.isDirectory()) {
        out[rel] = 'dir';
        walk(p);
      } else out[rel] = sha(readFileSync(p));
    }
  };
  walk(root);
  return out;
}

async function regionOf(file: string): Promise<EmbeddedRegion> {
  const fh = await openFile(file, 'r');
  try {
    const r = await findEmbedded(readAtOf(fh), (await fh.stat()).size);
    expect(r, `${file}: no embedded region found`).toBeDefined();
    return r!;
  } finally {
    await fh.close();
  }
}

async function readAll(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of it) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

const overlaps = (a: [number, number], b: [number, number]) => a[0] < b[1] && b[0] < a[1];

type Ext = 'tar' | 'tar.gz' | 'tar.zst' | 'zip';
const EXTS: Ext[] = ['tar', 'tar.gz', 'tar.zst', 'zip'];

const dir = tempDir('recovery-embedded');
const src = makeTree(dir);
const SRC_TREE = treeOf(src);

interface Made {
  file: string;
  clean: Buffer;
  region: EmbeddedRegion;
  slice: number;
  blocks: number;
}
const made = new Map<Ext, Made>();

/** The archive of this container, made once by the CLI with 5% embedded recovery data. */
async function archive(ext: Ext): Promise<Made> {
  const have = made.get(ext);
  if (have) return have;
  const file = join(dir, `a.${ext}`);
  const c = portarc(['create', '--recovery', '5%', '--embed-recovery', '-f', file, '-C', src, '.']);
  expect(c.status, c.stderr).toBe(0);
  const m = /recovery data: (\d+) blocks of (\d+) bytes for \d+ archive blocks \(5%\) embedded after the archive \((\d+) bytes\)/.exec(c.stderr);
  expect(m, c.stderr).not.toBeNull();
  const region = await regionOf(file);
  expect(region.found).toBe('locator');
  expect(Number(m![3])).toBe(region.regionLength + region.tailLength);
  expect(statSync(file).size).toBe(region.archiveLength + region.regionLength + region.tailLength);
  const it = { file, clean: readFileSync(file), region, blocks: Number(m![1]), slice: Number(m![2]) };
  made.set(ext, it);
  return it;
}

/** A fresh copy of the clean archive to damage. */
function copyOf(a: Made, name: string): string {
  const f = join(dir, name);
  writeFileSync(f, a.clean);
  return f;
}

function verifyJson(file: string) {
  const v = portarc(['verify', '--json', '-f', file]);
  return { status: v.status, stderr: v.stderr, j: JSON.parse(v.stdout) as { ok: boolean; method: string; checkedContent: boolean; damaged: { part: string; range: [number, number]; what: string }[]; notes: string[]; recovery?: { embedded?: boolean; damagedBlocks: number; damagedRanges: [number, number][]; repairable: boolean; blocks: number } } };
}

const PY = `
import sys, tarfile, zipfile
kind, arc, out = sys.argv[1:]
if kind == 'zip':
    z = zipfile.ZipFile(arc)
    bad = z.testzip()
    if bad is not None:
        sys.exit('testzip: ' + bad)
    z.extractall(out)
else:
    with tarfile.open(arc, 'r:*') as t:
        t.extractall(out)
print('python ok')
`;

function extractedBy(name: string, a: Made, cmd: string, args: (out: string) => string[]) {
  const out = join(dir, `x-${name}-${Math.random().toString(36).slice(2)}`);
  mkdirSync(out);
  const r = run(cmd, args(out));
  expect(r.status, `${name}: ${r.stderr}`).toBe(0);
  expect(treeOf(out), name).toEqual(SRC_TREE);
  rmSync(out, { recursive: true });
  return r;
}

describe.each(EXTS)('%s with embedded recovery data', (ext) => {
  it('create: exit 0, no sidecar beside it; GNU tar, bsdtar, Python, gzip/zstd/unzip/7z read it and extract the same tree', async () => {
    const a = await archive(ext);
    expect(readdirSync(dir).filter((n) => n.startsWith(`a.${ext}`) && n !== `a.${ext}`)).toEqual([]);
    expect(existsSync(`${a.file}.par2`)).toBe(false);
    const f = a.file;
    if (ext !== 'zip') {
      const z = ext === 'tar.gz' ? ['-z'] : ext === 'tar.zst' ? ['--zstd'] : [];
      extractedBy('gnutar', a, 'tar', (o) => [...z, '-xf', f, '-C', o]);
      extractedBy('bsdtar', a, 'bsdtar', (o) => ['-xf', f, '-C', o]);
    }
    if (ext === 'tar' || ext === 'tar.gz' || ext === 'zip') extractedBy('python', a, 'python3', (o) => ['-c', PY, ext === 'zip' ? 'zip' : 'tar', f, o]);
    if (ext === 'tar.gz') expect(run('gzip', ['-t', f]).status).toBe(0);
    if (ext === 'tar.zst') {
      const t = run('zstd', ['-t', f]);
      expect(t.status, t.stderr).toBe(0);
    }
    if (ext === 'zip') {
      const t = run('unzip', ['-t', f]);
      expect(t.status, t.stdout).toBe(0);
      expect(t.stdout).toContain('No errors detected');
      extractedBy('unzip', a, 'unzip', (o) => ['-q', f, '-d', o]);
      extractedBy('7z', a, '7z', (o) => ['x', '-y', `-o${o}`, f]);
      extractedBy('bsdtar', a, 'bsdtar', (o) => ['-xf', f, '-C', o]);
    }
    if (ext === 'tar' || ext === 'zip') {
      const t = run('7z', ['t', f]);
      expect(t.status, t.stdout).toBe(0);
      expect(t.stdout).toContain('Everything is Ok');
      if (ext === 'tar') {
        // p7zip sees the region as what it is: data after the archive's end, exactly its length.
        expect(t.stdout).toContain('There are data after the end of archive');
        expect(t.stdout).toContain(`Physical Size = ${a.region.archiveLength}\n`);
        expect(t.stdout).toContain(`Tail Size = ${a.region.regionLength}\n`);
      } else {
        expect(t.stdout).not.toContain('WARNING');
      }
    }
  });

  it('verify: exit 0 with the embedded recovery line, from the file and from stdin; --json says embedded', async () => {
    const a = await archive(ext);
    const v = portarc(['verify', '-f', a.file]);
    expect(v.status, v.stdout + v.stderr).toBe(0);
    expect(v.stdout).toContain(`recovery data (embedded): ${a.blocks} blocks of ${a.slice} bytes; no damaged blocks`);
    const s = portarc(['verify', '-f', '-'], { input: a.clean });
    expect(s.status, s.stderr).toBe(0);
    expect(s.stdout).toContain('(stdin): OK');
    if (ext === 'tar.gz' || ext === 'tar.zst') expect(s.stderr).toMatch(/embedded recovery data follows the archive .*the recovery data were not checked/);
    const { status, j } = verifyJson(a.file);
    expect(status).toBe(0);
    expect(j.ok).toBe(true);
    expect(j.damaged).toEqual([]);
    // Plain tar and zip: every byte of the archive before the region checked by the manifest's ranges.
    expect((j as unknown as { method: string }).method).toBe(ext === 'tar' || ext === 'zip' ? 'ranges' : 'stream');
    expect(j.recovery).toMatchObject({ embedded: true, blocks: a.blocks, damagedBlocks: 0, repairable: true });
  });

  it('list and extract from the file and from stdin; open() reads a member (plain tar and zip through the manifest)', async () => {
    const a = await archive(ext);
    const l = portarc(['list', '-f', a.file]);
    expect(l.status, l.stderr).toBe(0);
    for (const p of ['./d/noise.bin', './d/e/lines.txt', './empty']) expect(l.stdout.split('\n')).toContain(p);
    const ls = portarc(['list', '-f', '-'], { input: a.clean });
    expect(ls.status, ls.stderr).toBe(0);
    expect(ls.stdout).toBe(l.stdout);
    for (const [how, args, input] of [
      ['file', ['-f', a.file], undefined],
      ['stdin', ['-f', '-'], a.clean],
    ] as const) {
      const out = join(dir, `x-portarc-${ext}-${how}`);
      mkdirSync(out);
      const x = portarc(['extract', ...args, '-C', out], { input });
      expect(x.status, `${how}: ${x.stderr}`).toBe(0);
      expect(treeOf(out)).toEqual(SRC_TREE);
      rmSync(out, { recursive: true });
    }
    const r = await open(a.file);
    try {
      if (ext === 'tar' || ext === 'zip' || ext === 'tar.zst') expect(r.info.method).toBe('manifest');
      expect(sha(await readAll(r.read('d/noise.bin')))).toBe(SRC_TREE['d/noise.bin']);
      expect(sha(await readAll(r.read('d/e/lines.txt')))).toBe(SRC_TREE['d/e/lines.txt']);
    } finally {
      await r.close();
    }
  });

  it('seeded bursts anywhere in the file within the budget: verify names them (exit 2), repair -o rebuilds the file byte for byte', async () => {
    const a = await archive(ext);
    const { archiveLength: P, regionLength: R, tailLength: T } = a.region;
    const size = a.clean.length;
    // Where case k puts its first burst: the archive, the region, the tail (the region's end when there is none), then anywhere.
    const zones: [number, number][] = [[0, P], [P, P + R], T > 0 ? [P + R, size] : [P + R - 200, P + R], [0, size], [0, size], [0, size]];
    for (let k = 0; k < zones.length; k++) {
      const seed = 1000 * EXTS.indexOf(ext) + k + 1;
      const rand = rng(seed);
      const f = copyOf(a, `burst-${ext}-${k}`);
      const bursts: [number, number][] = [];
      const count = 1 + Math.floor(rand() * 3);
      for (let b = 0; b < count; b++) {
        const [lo, hi] = b === 0 ? zones[k]! : [0, size];
        const len = Math.min(hi - lo, 1 + Math.floor(rand() * 1.5 * a.slice));
        const at = lo + Math.floor(rand() * (hi - lo - len + 1));
        burst(f, at, len);
        bursts.push([at, at + len]);
      }
      const what = `${ext} case ${k} (seed ${seed}): bursts ${JSON.stringify(bursts)} in archive [0,${P}) region [${P},${P + R}) tail [${P + R},${size})`;
      expect(readFileSync(f).equals(a.clean), what).toBe(false);
      // The CLI for the archive, region and tail cases, the library (the same result, in-process) for the others.
      const { status, j } = k < 3 ? verifyJson(f) : await verify(f).then((r) => ({ status: r.ok ? 0 : 2, j: r }));
      expect(status, what).toBe(2);
      expect(j.ok, what).toBe(false);
      for (const b of bursts) {
        if (overlaps(b, [0, P])) {
          expect(j.damaged.some((d) => d.part !== 'recovery'), `${what}: archive damage not named: ${JSON.stringify(j.damaged)}`).toBe(true);
          expect(j.recovery!.damagedRanges.some((r) => overlaps(r, b)), `${what}: ${JSON.stringify(j.recovery)}`).toBe(true);
        }
        if (overlaps(b, [P, size])) {
          expect(j.damaged.some((d) => d.part === 'recovery' && overlaps(d.range, b)), `${what}: region/tail damage not named: ${JSON.stringify(j.damaged)}`).toBe(true);
        }
      }
      expect(j.recovery, what).toMatchObject({ embedded: true, repairable: true });
      // The CLI for the first case and in place (one case), the library for the others (time).
      const inPlace = ext === 'tar.gz' && k === 5;
      const out = inPlace ? f : join(dir, `burst-${ext}-${k}.out`);
      if (k === 0 || inPlace) {
        const r = portarc(['repair', '-f', f, ...(inPlace ? ['--in-place'] : ['-o', out])]);
        expect(r.status, `${what}: ${r.stdout}${r.stderr}`).toBe(0);
      } else {
        const r = await repair(f, { output: out });
        // The region is made again only when it (or the tail) was damaged; an intact one is copied.
        const regionHit = j.damaged.some((d) => d.part === 'recovery');
        expect(r, what).toMatchObject({ output: out, embedded: true, regionRewritten: regionHit });
      }
      expect(sha(readFileSync(out)), what).toBe(sha(a.clean));
      rmSync(f, { force: true });
      rmSync(out, { force: true });
    }
    expect(readdirSync(dir).filter((n) => n.startsWith(`burst-${ext}`))).toEqual([]);
  });

  it('30% of the archive zeroed with 5% recovery data: verify 2, repair 2 "not repairable", nothing written', async () => {
    const a = await archive(ext);
    const sub = join(dir, `beyond-${ext}`);
    mkdirSync(sub);
    const f = join(sub, `a.${ext}`);
    writeFileSync(f, a.clean);
    const P = a.region.archiveLength;
    const fd = openSync(f, 'r+');
    writeSync(fd, Buffer.alloc(Math.floor(P * 0.3)), 0, Math.floor(P * 0.3), Math.floor(P * 0.3));
    closeSync(fd);
    const v = verifyJson(f);
    expect(v.status).toBe(2);
    expect(v.j.recovery).toMatchObject({ embedded: true, repairable: false });
    const before = readFileSync(f);
    const r = portarc(['repair', '-f', f, '-o', join(sub, 'out')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/not repairable; nothing was written/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(readdirSync(sub)).toEqual([`a.${ext}`]);
    expect(readFileSync(f).equals(before)).toBe(true);
    const ip = portarc(['repair', '-f', f, '--in-place']);
    expect(ip.status).toBe(2);
    expect(readdirSync(sub)).toEqual([`a.${ext}`]);
    expect(readFileSync(f).equals(before)).toBe(true);
  });

  it('the last locator damaged, then both locators: the region is still found; verify names it; repair restores the file', async () => {
    const a = await archive(ext);
    const { archiveLength: P, regionLength: R, tailLength: T } = a.region;
    const locW = wrappedSize(a.region.container, LOCATOR_PACKET);
    const lead = ext === 'tar.zst' ? 8 : ext === 'tar.gz' ? 16 : 0;
    const last = P + R - locW;
    for (const both of [false, true]) {
      const f = copyOf(a, `loc-${ext}-${both}`);
      burst(f, last + lead + 70, 20); // the body: lengths and version
      if (both) burst(f, P + lead + 70, 20);
      expect(statSync(f).size).toBe(P + R + T);
      const fh = await openFile(f, 'r');
      const found = await findEmbedded(readAtOf(fh), a.clean.length, { thorough: true });
      await fh.close();
      expect(found).toMatchObject({ archiveLength: P, regionLength: R, tailLength: T, found: both ? 'description' : 'first-locator' });
      const { status, j } = verifyJson(f);
      expect(status).toBe(2);
      expect(j.damaged.filter((d) => d.part !== 'recovery')).toEqual([]);
      const named = j.damaged.filter((d) => d.part === 'recovery' && /locator/.test(d.what));
      expect(named.some((d) => overlaps(d.range, [last, last + locW])), JSON.stringify(j.damaged)).toBe(true);
      if (both) expect(named.some((d) => overlaps(d.range, [P, P + locW])), JSON.stringify(j.damaged)).toBe(true);
      expect(j.recovery).toMatchObject({ embedded: true, damagedBlocks: 0, blocks: a.blocks });
      // The archive itself is intact: open() still reads a member (a .tar.zst or zip through its own end records).
      const ra = await open(f);
      try {
        if (ext === 'tar.zst' || ext === 'zip') expect(ra.info.method).toBe('manifest');
        expect(sha(await readAll(ra.read('d/e/lines.txt')))).toBe(SRC_TREE['d/e/lines.txt']);
      } finally {
        await ra.close();
      }
      const out = `${f}.out`;
      const r = portarc(['repair', '-f', f, '-o', out]);
      expect(r.status, r.stderr).toBe(0);
      expect(readFileSync(out).equals(a.clean)).toBe(true);
    }
  });

  it('the file cut short inside its region, or bytes appended: repair rebuilds the file byte for byte (the first locator\'s counts, not a guess)', async () => {
    // Both locators' lengths disagreed with the file, and the number of recovery blocks was guessed
    // from its damaged length: "repaired" into a file of another size, exit 0.
    const a = await archive(ext);
    for (const [label, change] of [
      ['cut', (b: Buffer) => b.subarray(0, b.length - 1020)],
      ['appended', (b: Buffer) => Buffer.concat([b, Buffer.alloc(3000, 0x5a)])],
    ] as const) {
      const f = copyOf(a, `len-${ext}-${label}`);
      writeFileSync(f, change(readFileSync(f)));
      const out = `${f}.out`;
      const r = portarc(['repair', '-f', f, '-o', out]);
      expect(r.status, `${label}: ${r.stderr}`).toBe(0);
      expect(readFileSync(out).equals(a.clean), label).toBe(true);
    }
  });

  it('both locators damaged and the file\'s length changed: repair refuses (exit 2, nothing written), never a region of a guessed size', async () => {
    // The count was taken from the changed length: "repaired", exit 0, a file of another size.
    const a = await archive(ext);
    const { archiveLength: P, regionLength: R } = a.region;
    const locW = wrappedSize(a.region.container, LOCATOR_PACKET);
    const lead = ext === 'tar.zst' ? 8 : ext === 'tar.gz' ? 16 : 0;
    for (const [label, change] of [
      ['appended', (b: Buffer) => Buffer.concat([b, Buffer.alloc(600)])],
      ['cut', (b: Buffer) => b.subarray(0, b.length - 400)],
    ] as const) {
      const f = copyOf(a, `guess-${ext}-${label}`);
      burst(f, P + lead + 70, 20);
      burst(f, P + R - locW + lead + 70, 20);
      writeFileSync(f, change(readFileSync(f)));
      const out = `${f}.out`;
      const r = portarc(['repair', '-f', f, '-o', out]);
      expect(r.status, `${label}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(/cannot be rebuilt byte for byte: both its locators are damaged|no recovery data/);
      expect(existsSync(out)).toBe(false);
    }
  });

  it('-o naming the archive by its own name is refused, as any other way of naming it (the original was replaced)', async () => {
    const a = await archive(ext);
    const name = `self-${ext}`;
    const f = copyOf(a, name);
    burst(f, 600, 4);
    const damaged = readFileSync(f);
    const r = portarc(['repair', '-f', name, '-o', name], { cwd: dir });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`-o ${name} is the archive itself: use --in-place`);
    expect(readFileSync(f).equals(damaged)).toBe(true);
  });

  it('embedRecovery() on an archive made without recovery data embeds it; again with another percentage it replaces the region', async () => {
    const sub = join(dir, `later-${ext}`);
    mkdirSync(sub);
    const f = join(sub, `b.${ext}`);
    const c = portarc(['create', '-f', f, '-C', src, '.']);
    expect(c.status, c.stderr).toBe(0);
    const plain = readFileSync(f);
    expect((await verify(f)).recovery).toBeUndefined();
    const sizes: number[] = [];
    for (const percent of [5, 12]) {
      const w = await embedRecovery(f, { percent });
      expect(w.archiveLength).toBe(plain.length);
      const b = readFileSync(f);
      expect(b.length).toBe(plain.length + w.bytes);
      expect(b.subarray(0, plain.length).equals(plain)).toBe(true);
      sizes.push(b.length);
      const v = await verify(f);
      expect(v.ok, JSON.stringify(v.damaged)).toBe(true);
      expect(v.recovery).toMatchObject({ embedded: true, blocks: w.recoverySlices, damagedBlocks: 0 });
      expect(w.recoverySlices).toBe(Math.ceil((w.inputSlices * percent) / 100));
      expect(readdirSync(sub)).toEqual([`b.${ext}`]);
      const other =
        ext === 'tar' ? run('tar', ['-tf', f]) : ext === 'tar.gz' ? run('gzip', ['-t', f]) : ext === 'tar.zst' ? run('zstd', ['-t', f]) : run('unzip', ['-t', f]);
      expect(other.status, other.stderr).toBe(0);
    }
    expect(sizes[1]).toBeGreaterThan(sizes[0]!);
    // Back to 5%: the same bytes as the first time (the region is replaced, not added to).
    await embedRecovery(f, { percent: 5 });
    expect(statSync(f).size).toBe(sizes[0]);
    const cli = portarc(['verify', '-f', f]);
    expect(cli.status, cli.stdout).toBe(0);
    expect(cli.stdout).toContain('recovery data (embedded)');
  });
});

describe('embedded recovery data: usage errors and the end of a tar', () => {
  it('--embed-recovery without --recovery, and into standard output: exit 2, one line, nothing written', () => {
    const sub = tempDir('recovery-embedded-usage');
    const a = portarc(['create', '--embed-recovery', '-f', join(sub, 'x.tar'), '-C', src, '.']);
    expect(a.status).toBe(2);
    expect(a.stderr.trim().split('\n')).toHaveLength(1);
    expect(a.stderr).toMatch(/--embed-recovery goes with --recovery/);
    const b = portarc(['create', '-f', '-', '--recovery', '5%', '--embed-recovery', '-C', src, '.']);
    expect(b.status).toBe(2);
    expect(b.stderr.trim().split('\n')).toHaveLength(1);
    expect(b.stderr).toMatch(/recovery/);
    expect(b.stdout).toBe('');
    expect(readdirSync(sub)).toEqual([]);
  });

  it('a tar followed by its region: verify checks the archive by its manifest ranges, no end damage; one byte changed in the region is exit 2', async () => {
    // Before the region was known to verify, the trailer was not found at the file's end: the tar
    // was read as a stream that stopped at the zero blocks and said OK whatever the region held.
    const a = await archive('tar');
    const { status, j } = verifyJson(a.file);
    expect(status).toBe(0);
    expect(j).toMatchObject({ ok: true, method: 'ranges', checkedContent: true });
    expect(j.damaged.filter((d) => d.part === 'end')).toEqual([]);
    // The region right after the archive's two zero blocks: GNU tar sees the end there.
    expect(a.clean.subarray(a.region.archiveLength - 1024, a.region.archiveLength).every((x) => x === 0)).toBe(true);
    expect(a.clean.subarray(a.region.archiveLength, a.region.archiveLength + 8).toString('latin1')).toBe('PAR2\0PKT');
    const f = copyOf(a, 'region-byte.tar');
    const at = a.region.archiveLength + Math.floor(a.region.regionLength / 2);
    burst(f, at, 1);
    const v = portarc(['verify', '-f', f]);
    expect(v.status).toBe(2);
    expect(v.stdout).toMatch(/damaged: recovery, bytes \d+–\d+: recovery data: recovery block \d+ is damaged/);
    expect(v.stdout).toContain('1 damaged place in the recovery data itself (portarc repair writes it again)');
  });
});

describe('embedded recovery data: no false finds', () => {
  it('an archive holding a PAR2 set of another file near its end has no embedded data: verify, repair and info say so', async () => {
    // The last-resort search (both locators damaged) reads File Description packets near the end
    // of the file: one archived as a member describes another file and must not be taken for the
    // archive's (it lies inside the archive, and its first-16-KiB MD5 is not the archive's).
    const dir = tempDir('embedded-false');
    const src = join(dir, 'src');
    mkdirSync(src);
    const rand = rng(77);
    const data = Buffer.alloc(300_000);
    for (let i = 0; i < data.length; i++) data[i] = (rand() * 256) | 0;
    writeFileSync(join(src, 'x.bin'), data);
    expect(run('par2', ['create', '-q', '-q', '-r10', '-n1', 'x.bin.par2', 'x.bin'], { cwd: src }).status).toBe(0);
    for (const [name, args] of [
      ['g.tar', ['tar', ['cf', join(dir, 'g.tar'), '-C', src, '.']]],
      ['p.tar', ['portarc', []]],
    ] as const) {
      const file = join(dir, name);
      if (args[0] === 'tar') expect(run(args[0], [...args[1]]).status).toBe(0);
      else expect(portarc(['create', '-f', file, '-C', src, '.']).status).toBe(0);
      const fh = await openFile(file, 'r');
      try {
        expect(await findEmbedded(readAtOf(fh), statSync(file).size, { thorough: true })).toBeUndefined();
      } finally {
        await fh.close();
      }
      const v = portarc(['verify', '-f', file]);
      expect(v.status, v.stdout + v.stderr).toBe(0);
      expect(v.stdout).not.toContain('recovery data');
      const r = portarc(['repair', '-f', file]);
      expect(r.status).toBe(2);
      expect(r.stderr).toContain('no recovery data');
      expect(JSON.parse(portarc(['info', '-f', file, '--json']).stdout).recovery).toBeNull();
    }
  });
});

interface VectorExpect {
  ok: boolean;
  checkedContent: boolean;
  parts: string[];
  paths: string[];
  recovery: { embedded: boolean; damagedBlocks: number; repairable: boolean } | null;
  note?: string;
  repair: { exit: number; identicalTo?: string; code?: string };
}

describe('embedded recovery data: the search near the end', () => {
  // The search reads the last 8 MiB in overlapping windows (embedded.ts): a first locator is
  // found wherever it starts in that span, also across a window's edge, and not before it.
  const MiB = 1 << 20;
  const size = 9 * MiB + 1000;
  /** A file of `size` zero bytes with a first locator (of an archive of `at` bytes) at `at`. */
  const withLocator = (at: number): Buffer => {
    const b = Buffer.alloc(size);
    const body = locatorBody({ archiveLength: at, regionLength: size - at, tailLength: 0, version: 1, recoveryCount: 1 });
    packet(Buffer.alloc(16, 7), 'locator', body).copy(b, at);
    return b;
  };
  const reader = (b: Buffer) => async (p: number, n: number) => b.subarray(p, Math.min(b.length, p + n));
  it('a locator starting anywhere in the last 8 MiB is found, also across a window edge (every 64 KiB from the end)', async () => {
    for (let at = size - (64 << 10) - 40; at >= size - 8 * MiB; at -= 64 << 10) {
      const r = await findEmbedded(reader(withLocator(at)), size, { thorough: true });
      expect(r, `locator at ${size - at} bytes from the end`).toMatchObject({ archiveLength: at, tailLength: 0, found: 'first-locator' });
    }
  });
  it('one before the 8 MiB searched is not looked for', async () => {
    expect(await findEmbedded(reader(withLocator(size - 8 * MiB - 200)), size, { thorough: true })).toBeUndefined();
  });
});

describe('conformance/recovery vectors', () => {
  const names = readdirSync(VECTORS).filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -'.json'.length));

  it('are the generator output, byte for byte (it is deterministic), and small', () => {
    expect(names.sort()).toEqual(['n_embedded-archive-damaged.tar', 'n_embedded-region-damaged.zip', 'y_embedded-future-layout.tar', 'y_embedded.tar', 'y_embedded.tar.gz', 'y_embedded.tar.zst', 'y_embedded.zip']);
    const out = tempDir('recovery-vectors');
    const g = run(process.execPath, [GENERATOR, out]);
    expect(g.status, g.stderr).toBe(0);
    const mine = readdirSync(out).sort();
    expect(mine).toEqual(readdirSync(VECTORS).filter((n) => n !== 'README.md').sort());
    for (const n of mine) {
      expect(readFileSync(join(out, n)).equals(readFileSync(join(VECTORS, n))), n).toBe(true);
      expect(statSync(join(out, n)).size).toBeLessThan(200_000);
    }
  });

  for (const name of ['y_embedded.tar', 'y_embedded.tar.gz', 'y_embedded.tar.zst', 'y_embedded.zip', 'n_embedded-archive-damaged.tar', 'n_embedded-region-damaged.zip', 'y_embedded-future-layout.tar']) {
    it(`${name}: verify and repair answer as its .json says`, async () => {
      const want = JSON.parse(readFileSync(join(VECTORS, `${name}.json`), 'utf8')) as VectorExpect;
      const file = join(tempDir('recovery-vector'), name);
      copyFileSync(join(VECTORS, name), file);
      const { status, j } = verifyJson(file);
      expect(status).toBe(want.ok ? 0 : 2);
      expect(j.ok).toBe(want.ok);
      expect((j as unknown as { checkedContent: boolean }).checkedContent).toBe(want.checkedContent);
      expect([...new Set(j.damaged.map((d) => d.part))].sort()).toEqual(want.parts);
      expect([...new Set(j.damaged.map((d) => (d as { path?: string }).path).filter((p) => p !== undefined))].sort()).toEqual(want.paths);
      if (want.recovery) expect(j.recovery).toMatchObject(want.recovery);
      // Unusable (a later layout): the CLI's --json says why instead of the counts.
      else expect(j.recovery === undefined || !('blocks' in j.recovery), JSON.stringify(j.recovery)).toBe(true);
      if (want.note) expect(j.notes.some((n) => n.includes(want.note!)), JSON.stringify(j.notes)).toBe(true);
      const out = `${file}.out`;
      const r = portarc(['repair', '-f', file, '-o', out]);
      expect(r.status, r.stderr).toBe(want.repair.exit);
      if (want.repair.identicalTo) expect(sha(readFileSync(out))).toBe(sha(readFileSync(join(VECTORS, want.repair.identicalTo))));
      else expect(existsSync(out)).toBe(false);
      if (want.repair.code) {
        await expect(repair(file, { output: `${out}2` })).rejects.toMatchObject({ code: want.repair.code });
        expect(existsSync(`${out}2`)).toBe(false);
      }
    });
  }
});
