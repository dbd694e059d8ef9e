// Salvage (issue #10, part 3; spec §6.8, spec/manifest.md §11): extract and list go on past a
// damaged tar header as GNU tar does, past a damaged zip member; a file whose content does not
// match the manifest never lands under its real name; every damaged place is reported, exit 2.
import { spawnSync } from 'node:child_process';
import { linkSync, mkdirSync, readFileSync, readdirSync, lstatSync, writeFileSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { extract, list } from '../src/api/index.js';
import { ExtractDamagedError } from '../src/api/extract.js';
import { ListDamagedError } from '../src/api/list.js';
import { BIN, portarc } from './helpers/cli.js';
import { tempDir } from './helpers/tree.js';

const BIG = Buffer.alloc(5000, 0);
for (let i = 0; i < BIG.length; i++) BIG[i] = (i * 7 + 3) & 0xff;

/** a.txt, b.bin (5000 bytes), c.txt, d/e.txt, and h: a hardlink to b.bin. */
function tree(dir: string): string {
  const src = join(dir, 'src');
  mkdirSync(join(src, 'd'), { recursive: true });
  writeFileSync(join(src, 'a.txt'), 'alpha\n');
  writeFileSync(join(src, 'b.bin'), BIG);
  writeFileSync(join(src, 'c.txt'), 'gamma\n');
  writeFileSync(join(src, 'd/e.txt'), 'epsilon\n');
  return src;
}

/** Every path under `root` (files with their content), temporaries included. */
function files(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      const st = lstatSync(p);
      if (st.isDirectory()) {
        out[relative(root, p) + '/'] = '';
        walk(p);
      } else out[relative(root, p)] = readFileSync(p).toString('latin1');
    }
  };
  walk(root);
  return out;
}

/** Offset of the ustar header block whose name field is `name`. */
function headerOf(tar: Buffer, name: string): number {
  const want = Buffer.from(name + '\0');
  for (let at = 0; at + 512 <= tar.length; at += 512) if (tar.subarray(at, at + want.length).equals(want)) return at;
  throw new Error(`no header named ${name}`);
}

function flip(bytes: Buffer, at: number): Buffer {
  const b = Buffer.from(bytes);
  b[at]! ^= 0x10;
  return b;
}

function make(dir: string, name: string, extra: string[] = []): { path: string; bytes: Buffer } {
  const src = join(dir, 'src');
  const path = join(dir, name);
  const r = portarc(['create', '-f', path, '-C', src, ...extra, '.']);
  expect(r.status, r.stderr).toBe(0);
  return { path, bytes: readFileSync(path) };
}

const GOOD = { 'a.txt': 'alpha\n', 'c.txt': 'gamma\n', 'd/': '', 'd/e.txt': 'epsilon\n' };

describe('tar: a damaged header in the middle', () => {
  const dir = tempDir('salvage-hdr');
  tree(dir);
  const plain = make(dir, 'plain.tar', ['--no-manifest']);
  const hdr = headerOf(plain.bytes, './b.bin');
  const bad = join(dir, 'bad.tar');
  writeFileSync(bad, flip(plain.bytes, hdr + 2)); // in the name: the checksum no longer matches

  it('extract goes on to the next header, as GNU tar does, reports the range skipped and exits 2', () => {
    const gnu = join(dir, 'gnu');
    mkdirSync(gnu);
    const t = spawnSync('tar', ['-xf', bad, '-C', gnu], { encoding: 'utf8' });
    expect(t.status).toBe(2);
    expect(t.stderr).toMatch(/Skipping to next header/);

    const out = join(dir, 'out');
    const r = portarc(['extract', '-f', bad, '-C', out]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/error: .*bad\.tar, bytes \d+-\d+: header of "\.\/r\.bin"\?: header checksum mismatch .*; skipped to the next header\n/);
    expect(r.stderr).toMatch(/damaged: 1 damaged place; 5 entries extracted/);
    // The same files as GNU tar, with the same content; b.bin is lost in both.
    expect(files(out)).toEqual(GOOD);
    expect(files(gnu)).toEqual(files(out));
    // The same from stdin: the reader resynchronises on a stream as well.
    const out2 = join(dir, 'out-stdin');
    const s = portarc(['extract', '-f', '-', '-C', out2], { input: readFileSync(bad) });
    expect(s.status).toBe(2);
    expect(files(out2)).toEqual(GOOD);
  });

  it('the library resolves nothing silently: it rejects with the full report once the rest is restored', async () => {
    const out = join(dir, 'lib');
    const err = await extract(bad, out, { fsync: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExtractDamagedError);
    const { result } = err as ExtractDamagedError;
    expect((err as ExtractDamagedError).code).toBe('PORTARC_DAMAGED');
    expect(result.entries).toBe(5); // ".", a.txt, c.txt, d, d/e.txt
    expect(result.damaged).toHaveLength(1);
    const d = result.damaged[0]!;
    const next = headerOf(plain.bytes, './c.txt');
    // From b.bin's first header (its x header, if any, lies between hdr-1024 and hdr) to c.txt's.
    expect(d.range![0]).toBeLessThanOrEqual(hdr);
    expect(d.range![1]).toBeLessThanOrEqual(next);
    expect(d.range![1]).toBeGreaterThan(hdr + BIG.length);
    expect(d.what).toMatch(/header checksum mismatch.*skipped to the next header/);
    expect(files(out)).toEqual(GOOD);
  });

  it('list shows every entry it can read, names the damage on stderr and exits 2', async () => {
    const r = portarc(['list', '-f', bad]);
    expect(r.status).toBe(2);
    expect(r.stdout.split('\n').filter(Boolean)).toEqual(['.', './a.txt', './c.txt', './d', './d/e.txt']);
    expect(r.stderr).toMatch(/error: .*bad\.tar, bytes \d+-\d+: header .*checksum mismatch.*skipped to the next header/);
    const t = spawnSync('tar', ['-tf', bad], { encoding: 'utf8' });
    expect(t.stdout.split('\n').filter(Boolean)).toEqual(r.stdout.split('\n').filter(Boolean).map((n) => (n === '.' || n === './d' ? `${n}/` : n)));

    const names: string[] = [];
    const err = await (async () => {
      for await (const e of list(bad)) names.push(e.name);
    })().catch((e: unknown) => e);
    expect(names).toEqual(['.', './a.txt', './c.txt', './d', './d/e.txt']);
    expect(err).toBeInstanceOf(ListDamagedError);
    expect((err as ListDamagedError).damaged[0]!.range[0]).toBeLessThanOrEqual(hdr);
  });

  it('damage that reaches the end: what came before is restored, the rest reported, exit 2', () => {
    const cut = Buffer.from(plain.bytes);
    const c = headerOf(cut, './c.txt');
    const e = headerOf(cut, './d/e.txt');
    const d = headerOf(cut, './d/');
    for (const at of [c, d, e]) cut[at + 1]! ^= 0x10;
    const p = join(dir, 'tail.tar');
    writeFileSync(p, cut);
    const out = join(dir, 'tail');
    const r = portarc(['extract', '-f', p, '-C', out]);
    expect(r.status).toBe(2);
    expect(files(out)).toEqual({ 'a.txt': 'alpha\n', 'b.bin': BIG.toString('latin1') });
    expect(r.stderr.match(/error: .*tail\.tar, bytes \d+-\d+: header/g)?.length).toBeGreaterThanOrEqual(1);
  });
});

describe('tar: a flipped bit in file data', () => {
  const dir = tempDir('salvage-data');
  const src = tree(dir);
  linkSync(join(src, 'b.bin'), join(src, 'h'));
  const withManifest = make(dir, 'm.tar');
  const noManifest = make(dir, 'n.tar', ['--no-manifest']);
  const flipData = (t: Buffer) => flip(t, headerOf(t, './b.bin') + 512 + 100);
  const m = join(dir, 'm-bad.tar');
  const n = join(dir, 'n-bad.tar');
  writeFileSync(m, flipData(withManifest.bytes));
  writeFileSync(n, flipData(noManifest.bytes));
  const wrong = Buffer.from(BIG);
  wrong[100]! ^= 0x10;

  it('without a manifest there is nothing to check against: the file is restored as stored, exit 0', () => {
    const out = join(dir, 'n-out');
    const r = portarc(['extract', '-f', n, '-C', out]);
    expect(r.status).toBe(0);
    expect(readFileSync(join(out, 'b.bin')).equals(wrong)).toBe(true);
  });

  it('with the manifest (a file): never under its real name, reported, exit 2; the rest restored', () => {
    const out = join(dir, 'm-out');
    const r = portarc(['extract', '-f', m, '-C', out]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/portarc: error: .*m-bad\.tar, entry "\.\/b\.bin", bytes \d+-\d+: content does not match the manifest \(sha256 [0-9a-f]{64}, manifest [0-9a-f]{64}\)\n/);
    const got = files(out);
    expect(got['b.bin']).toBeUndefined();
    expect(got['b.bin.damaged']).toBeUndefined();
    // The hardlink has no target to link to: reported, not made.
    expect(got.h).toBeUndefined();
    expect(r.stderr).toMatch(/not restored: \.\/h: entry/);
    expect(got).toEqual(GOOD);
  });

  it('--keep-damaged keeps it as NAME.damaged, with the bytes the archive holds', () => {
    const out = join(dir, 'm-keep');
    const r = portarc(['extract', '-f', m, '-C', out, '--keep-damaged']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/entry "\.\/b\.bin", bytes \d+-\d+: content does not match the manifest .*; kept as \.\/b\.bin\.damaged/);
    expect(readFileSync(join(out, 'b.bin.damaged')).equals(wrong)).toBe(true);
    expect(existsSync(join(out, 'b.bin'))).toBe(false);
  });

  it('from a stream the manifest comes last: the file and its hardlinks are renamed NAME.damaged when it arrives', () => {
    const out = join(dir, 'm-stdin');
    const r = portarc(['extract', '-f', '-', '-C', out], { input: readFileSync(m) });
    expect(r.status).toBe(2);
    const got = files(out);
    expect(got['b.bin']).toBeUndefined();
    expect(got.h).toBeUndefined();
    expect(Buffer.from(got['b.bin.damaged']!, 'latin1').equals(wrong)).toBe(true);
    expect(Buffer.from(got['h.damaged']!, 'latin1').equals(wrong)).toBe(true);
    expect(r.stderr).toMatch(/error: \(stdin\), entry "\.\/b\.bin", bytes \d+-\d+: content does not match the manifest/);
    expect(r.stderr).toMatch(/damaged: 2 damaged places; 5 entries extracted/);
    expect(r.stderr).toMatch(/entry "\.\/h", bytes \d+-\d+: hardlink to "\.\/b\.bin", whose content does not match the manifest/);
    // A pipe named as the archive (`-f <(...)`) is a stream too: read once, checked the same way.
    const fifo = join(dir, 'm-fifo');
    const f = spawnSync('bash', ['-c', `"${process.execPath}" "${BIN}" extract -f <(cat "${m}") -C "${fifo}"`], { encoding: 'utf8' });
    expect(f.status).toBe(2);
    expect(existsSync(join(fifo, 'b.bin'))).toBe(false);
    expect(readFileSync(join(fifo, 'b.bin.damaged')).equals(wrong)).toBe(true);
    expect(readFileSync(join(fifo, 'c.txt'), 'utf8')).toBe('gamma\n');
    // An intact archive from a stream is checked the same way and passes: exit 0.
    const ok = portarc(['extract', '-f', '-', '-C', join(dir, 'ok-stdin')], { input: withManifest.bytes });
    expect(ok.status, ok.stderr).toBe(0);
  });

  it('library: the promise rejects with ExtractDamagedError carrying the report (file and stream)', async () => {
    for (const [source, kept] of [
      [m, false],
      [Readable.from([readFileSync(m)]), true],
    ] as const) {
      const out = tempDir('salvage-lib');
      const err = await extract(source, out, { fsync: false }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ExtractDamagedError);
      const damaged = (err as ExtractDamagedError).result.damaged;
      expect(damaged[0]).toMatchObject({ path: './b.bin', what: expect.stringMatching(/content does not match the manifest/) });
      expect(damaged[0]!.range![1] - damaged[0]!.range![0]).toBe(5120);
      expect(existsSync(join(out, 'b.bin'))).toBe(false);
      expect(existsSync(join(out, 'b.bin.damaged'))).toBe(kept);
      expect(readdirSync(out).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    }
  });
});

describe('zip: a damaged member in the middle', () => {
  const dir = tempDir('salvage-zip');
  tree(dir);
  const zip = make(dir, 'a.zip', ['--zip-method', 'store']);

  it('a CRC mismatch costs that member only: the others are extracted, exit 2 (as unzip does)', async () => {
    const bad = join(dir, 'crc.zip');
    writeFileSync(bad, flip(zip.bytes, zip.bytes.indexOf('gamma')));
    const out = join(dir, 'crc');
    const r = portarc(['extract', '-f', bad, '-C', out]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/error: .*crc\.zip, entry "\.\/c\.txt", offset \d+: CRC-32 mismatch.*not extracted/);
    const want = { 'a.txt': 'alpha\n', 'b.bin': BIG.toString('latin1'), 'd/': '', 'd/e.txt': 'epsilon\n' };
    expect(files(out)).toEqual(want);
    const u = spawnSync('unzip', ['-q', bad, '-x', '.portarc/*', '-d', join(dir, 'unzip')], { encoding: 'utf8' });
    expect(u.status).toBe(2);
    expect(Object.keys(files(join(dir, 'unzip')))).toEqual([...Object.keys(want), 'c.txt'].sort()); // unzip keeps the bad one
    const err = await extract(bad, join(dir, 'crc-lib'), { fsync: false }).catch((e: unknown) => e);
    expect((err as ExtractDamagedError).result.damaged).toMatchObject([{ path: './c.txt', what: expect.stringMatching(/CRC-32 mismatch/) }]);
  });

  it('a broken local header too', () => {
    const bad = Buffer.from(zip.bytes);
    const name = bad.indexOf('./b.bin');
    bad[name - 30 + 1]! ^= 0x01; // the local header's signature
    const p = join(dir, 'loc.zip');
    writeFileSync(p, bad);
    const out = join(dir, 'loc');
    const r = portarc(['extract', '-f', p, '-C', out]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/error: .*loc\.zip, entry "\.\/b\.bin", offset \d+: no local header at offset \d+.*not extracted/);
    expect(files(out)).toEqual({ ...GOOD });
  });
});

describe('the reader option and a manifest that cannot be trusted', () => {
  const dir = tempDir('salvage-reader');
  tree(dir);
  const tar = make(dir, 'm.tar');

  it('TarReader stops at a damaged header unless asked to salvage; then it yields the rest and the range', async () => {
    const { TarReader } = await import('../src/tar/reader.js');
    const hdr = headerOf(tar.bytes, './b.bin');
    const bad = flip(tar.bytes, hdr + 2);
    const names = async (r: InstanceType<typeof TarReader>) => {
      const out: string[] = [];
      for await (const m of r) out.push(m.entry.name);
      return out;
    };
    await expect(names(new TarReader(Readable.from([bad])))).rejects.toThrow(/header checksum mismatch/);
    const r = new TarReader(Readable.from([bad]), { salvage: true });
    expect(await names(r)).toEqual(['.', './a.txt', './c.txt', './d', './d/e.txt', '.portarc/manifest.xml', '.portarc/trailer']);
    expect(r.damaged).toHaveLength(1);
    expect(r.damaged[0]!.path).toBe('./r.bin');
    expect(r.damaged[0]!.range[1]).toBe(headerOf(tar.bytes, './c.txt') - 1024); // c.txt's x header: its ustar header is next but one
  });

  it('a manifest that does not match its trailer condemns nothing: a file it disagrees with is only set aside as NAME.damaged', () => {
    // Change a.txt's digest in the manifest (the XML no longer matches the trailer's manifest-sha256).
    const b = Buffer.from(tar.bytes);
    const xmlAt = b.indexOf('<entry path="./a.txt"');
    const sha = b.indexOf('sha256="', xmlAt) + 'sha256="'.length;
    b[sha] = b[sha] === 0x30 ? 0x31 : 0x30;
    const p = join(dir, 'bad-manifest.tar');
    writeFileSync(p, b);
    const out = join(dir, 'bad-manifest');
    const r = portarc(['extract', '-f', p, '-C', out]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/entry "\.\/a\.txt", bytes \d+-\d+: content does not match the manifest.*kept as \.\/a\.txt\.damaged/);
    expect(readFileSync(join(out, 'a.txt.damaged'), 'utf8')).toBe('alpha\n');
    expect(readFileSync(join(out, 'c.txt'), 'utf8')).toBe('gamma\n');
  });
});
