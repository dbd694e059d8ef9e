// Salvage (issue #10, part 3; spec §6.8, spec/manifest.md §11): extract and list go on past a
// damaged tar header as GNU tar does, past a damaged zip member; a file whose content does not
// match the manifest never lands under its real name; every damaged place is reported, exit 2.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, readdirSync, lstatSync, writeFileSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
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

  it('a malformed pax record: that member is lost (named), the reading goes on at the next member', async () => {
    // An audit's case: one flipped length digit ended the whole extraction, the members after it unnamed.
    for (const [name, extra] of [['pax-bad.tar', []], ['pax-bad-nm.tar', ['--no-manifest']]] as const) {
      const a = make(dir, name, [...extra]);
      const c = headerOf(a.bytes, './c.txt');
      const data = a.bytes.subarray(c - 512, c);
      expect(data.toString('latin1')).toMatch(/^\d+ [a-z]+=/); // c.txt's x header's records
      const bad = Buffer.from(a.bytes);
      bad[c - 512] = 0x58; // 'X': the first record's length is not a number
      const p = join(dir, `d-${name}`);
      writeFileSync(p, bad);
      const out = join(dir, `o-${name}`);
      const r = portarc(['extract', '-f', p, '-C', out]);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`bytes ${c - 1024}-${c + 1024}: header of "\\./c\\.txt"\\?: pax header damaged at offset ${c - 512}: pax record length "X\\d*" is not a number; the member it describes is not extracted`));
      // Every other member comes out. c.txt does not, with or without a manifest: what its x
      // header said (a long name, a size, times, xattrs) is lost, and it is never restored without it.
      expect(files(out)).toEqual({ 'a.txt': 'alpha\n', 'b.bin': BIG.toString('latin1'), 'd/': '', 'd/e.txt': 'epsilon\n' });
      const l = portarc(['list', '-f', p]);
      expect(l.status).toBe(2);
      expect(l.stdout).toMatch(/d\/e\.txt/);
      // Without salvage (the conformance adapter's reader) it is refused at the byte, as before.
      const { openArchive } = await import('../src/api/open.js');
      const plainRead = await openArchive(bad);
      await expect((async () => { for await (const m of plainRead.members) void m; })()).rejects.toThrow(new RegExp(`offset ${c - 512}: pax record length`));
      await plainRead.close();
    }
  });

  it('a size made larger by damage runs over the next member: the manifest names it, never restored in silence', () => {
    // An audit's case: the member whose headers became the one before's data was never named.
    const a = make(dir, 'grown.tar');
    const at = headerOf(a.bytes, './a.txt');
    const bad = Buffer.from(a.bytes);
    bad.write('00000003006\0', at + 124, 'latin1'); // 6 + 1536 bytes: b.bin's x and ustar headers
    bad.fill(0x20, at + 148, at + 156);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += bad[at + i]!;
    bad.write(sum.toString(8).padStart(6, '0') + '\0 ', at + 148, 'latin1');
    const p = join(dir, 'grown-bad.tar');
    writeFileSync(p, bad);
    const out = join(dir, 'grown-out');
    const r = portarc(['extract', '-f', p, '-C', out]);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/entry "\.\/a\.txt", .*header does not match the manifest/);
    expect(r.stderr).toMatch(/entry "\.\/b\.bin", bytes \d+-\d+: the manifest lists it here, but no header was read here: the member before it, as read, ran over it \(its size damaged\?\); not extracted/);
    expect(files(out)).toEqual({ 'c.txt': 'gamma\n', 'd/': '', 'd/e.txt': 'epsilon\n' });
  });

  it('members left out by a selection are not taken for members run over, also when a hardlink copy reads the archive again', () => {
    // A selected hardlink to an unselected file is copied in a second pass at the manifest; the
    // first version of the check then forgot the members met and named ./b and ./z-link (exit 2).
    const base = join(dir, 'sel');
    mkdirSync(join(base, 's'), { recursive: true });
    mkdirSync(join(base, 'x'));
    writeFileSync(join(base, 's/a'), 'A\n');
    writeFileSync(join(base, 's/b'), 'B\n');
    linkSync(join(base, 's/a'), join(base, 's/z-link'));
    writeFileSync(join(base, 'x/appended.txt'), 'X\n');
    const a = join(base, 'a.tar');
    expect(portarc(['create', '-f', a, '-C', join(base, 's'), '.']).status).toBe(0);
    expect(spawnSync('tar', ['-rf', a, '-C', join(base, 'x'), 'appended.txt']).status).toBe(0);
    const r = portarc(['extract', '-f', a, '-C', join(base, 'out'), './z-link', 'appended.txt']);
    expect(r.stderr).not.toMatch(/no header was read here/);
    expect(r.status, r.stderr).toBe(1); // appended.txt is not in the manifest: a warning
    expect(files(join(base, 'out'))).toEqual({ 'appended.txt': 'X\n', 'z-link': 'A\n' });
  });

  it('cut right after the global header that declares the manifest: no member came, which is damage too (exit 2, not 1)', async () => {
    // An audit's case: only the "no end-of-archive blocks" warning was said, exit 1, nothing restored.
    const head = make(dir, 'declares.tar').bytes.subarray(0, 1024);
    expect(head.toString('latin1')).toMatch(/PORTARC\.features\.compat=manifest/);
    const p = join(dir, 'globals-only.tar');
    writeFileSync(p, head);
    const gz = join(dir, 'globals-only.tar.gz');
    writeFileSync(gz, gzipSync(head));
    for (const a of [p, gz]) {
      const r = portarc(['extract', '-f', a, '-C', join(dir, `go-${a.length}`)]);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/ends before its first member, before its manifest member \(it declares one\)/);
      expect(r.stderr).toMatch(/1 damaged place; 0 entries extracted/);
      expect(portarc(['extract', '-O', '-f', a]).status).toBe(2);
      const l = portarc(['list', '-f', a]);
      expect(l.status).toBe(2);
      expect(l.stderr).toMatch(/ends before its first member, before its manifest member/);
    }
    await expect(extract(p, join(dir, 'go-lib'))).rejects.toBeInstanceOf(ExtractDamagedError);
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

  it('an end record damaged, or the file cut short: read from the local headers as from stdin, the damage named (exit 2)', async () => {
    // An audit's cases: one flipped bit in the end record, or a zip cut in half, restored nothing.
    const eocd = zip.bytes.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
    const flipped = Buffer.from(zip.bytes);
    flipped[eocd + 12]! ^= 0x01; // the central directory's size
    const cutAt = zip.bytes.indexOf('./d/e.txt') - 30; // c.txt whole, d/e.txt's local header gone
    for (const [name, bytes, want] of [
      ['eocd.zip', flipped, { ...GOOD, 'b.bin': BIG.toString('latin1') }],
      ['half.zip', zip.bytes.subarray(0, cutAt + 10), { 'a.txt': 'alpha\n', 'b.bin': BIG.toString('latin1'), 'c.txt': 'gamma\n', 'd/': '' }],
    ] as const) {
      const p = join(dir, name);
      writeFileSync(p, bytes);
      const out = join(dir, `o-${name}`);
      const r = portarc(['extract', '-f', p, '-C', out]);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/the central directory cannot be used \(.*\): the members were read from their local headers, as from a stream/);
      expect(files(out)).toEqual(want);
      const l = portarc(['list', '-f', p]);
      expect(l.status).toBe(2);
      expect(l.stdout).toMatch(/c\.txt/);
    }
    // Without salvage (the conformance adapter's reader) the file is refused, as before.
    const { openArchive } = await import('../src/api/open.js');
    await expect(openArchive(join(dir, 'eocd.zip'))).rejects.toThrow(/central directory/);
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

// ---- seekable zstd: a damaged frame costs that frame only (spec §6.8, seekable zstd) -------------

/** Seeded bytes that zstd cannot compress (xorshift32). */
function noise(seed: number, size: number): Buffer {
  const w = new Uint32Array(size / 4);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < w.length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    w[i] = x;
  }
  return Buffer.from(w.buffer);
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Data frames of a seekable .tar.zst, from its seek table: compressed and decompressed [start, end). */
function seekFrames(z: Buffer): { c: [number, number]; d: [number, number] }[] {
  const n = z.readUInt32LE(z.length - 9);
  expect(z[z.length - 5]).toBe(0x80); // checksums in the table: 12 bytes an entry
  const at = z.length - 9 - 12 * n;
  const out: { c: [number, number]; d: [number, number] }[] = [];
  let c = 0;
  let d = 0;
  for (let i = 0; i < n; i++) {
    const cs = z.readUInt32LE(at + 12 * i);
    const ds = z.readUInt32LE(at + 12 * i + 4);
    out.push({ c: [c, c + cs], d: [d, d + ds] });
    c += cs;
    d += ds;
  }
  return out;
}

/** The tar's members: name, header offset, data end (from the decompressed stream, read by zstd -dc). */
async function members(z: string): Promise<{ name: string; offset: number; end: number }[]> {
  const { TarReader } = await import('../src/tar/reader.js');
  const tar = spawnSync('zstd', ['-dc', z], { maxBuffer: 1 << 28 }).stdout;
  const out: { name: string; offset: number; end: number }[] = [];
  for await (const m of new TarReader(Readable.from([tar]))) out.push({ name: m.entry.name, offset: m.offset, end: m.dataOffset + m.entry.size });
  return out;
}

/** Regular files under `root`: relative name → sha256. Nothing else may be there (no temporaries). */
function sums(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of readdirSync(root, { recursive: true }) as string[]) {
    const p = join(root, n);
    if (lstatSync(p).isFile()) out[n] = sha(readFileSync(p));
  }
  return out;
}

describe('seekable .tar.zst: a damaged frame is skipped, the reading goes on at the next one', () => {
  const dir = tempDir('salvage-zst');
  const src = join(dir, 'src');
  mkdirSync(src);
  // a0.bin a0.txt a1.bin a1.txt ...: 3 MiB files across the 4 MiB frames, small ones between them
  // (a1.txt lies wholly inside frame 1).
  const want: Record<string, string> = {};
  for (let i = 0; i < 6; i++) {
    const big = noise(1000 + i, 3 << 20);
    const small = Buffer.from(`small file ${i}: marker-${'XYZ'.repeat(i + 1)}-end\n`);
    writeFileSync(join(src, `a${i}.bin`), big);
    writeFileSync(join(src, `a${i}.txt`), small);
    want[`a${i}.bin`] = sha(big);
    want[`a${i}.txt`] = sha(small);
  }
  const good = make(dir, 'good.tar.zst');
  const frames = seekFrames(good.bytes);
  const damage = (name: string, at: number, mask = 0x5a, n = 64) => {
    const b = Buffer.from(good.bytes);
    for (let i = 0; i < n; i++) b[at + i]! ^= mask;
    const p = join(dir, name);
    writeFileSync(p, b);
    return p;
  };
  const mid = damage('mid.tar.zst', (frames[1]!.c[0] + frames[1]!.c[1]) >> 1);
  const sum = damage('sum.tar.zst', frames[1]!.c[1] - 1, 0x01, 1); // the frame's checksum only
  const last = frames.length - 1;
  const tail = damage('tail.tar.zst', (frames[last]!.c[0] + frames[last]!.c[1]) >> 1);
  const lost = (ms: { name: string; offset: number; end: number }[], d: [number, number]) => ms.filter((m) => m.offset < d[1] && m.end > d[0]);
  /** What must be restored when the tar bytes `d` are lost: every file outside them, with its content. */
  const expected = (ms: { name: string; offset: number; end: number }[], d: [number, number]) => {
    const gone = new Set(lost(ms, d).map((m) => m.name.slice(2)));
    return Object.fromEntries(Object.entries(want).filter(([n]) => !gone.has(n)));
  };

  it('the archive has the frames the test needs', async () => {
    expect(frames.length).toBeGreaterThanOrEqual(5);
    const ms = await members(good.path);
    // Frame 1 holds a whole member (a1.txt) and ends inside another (a2.bin), whose header it holds too.
    expect(lost(ms, frames[1]!.d).map((m) => m.name)).toEqual(['./a1.bin', './a1.txt', './a2.bin']);
    expect(ms.find((m) => m.name === './a1.txt')!.offset).toBeGreaterThanOrEqual(frames[1]!.d[0]);
    expect(ms.find((m) => m.name === './a1.txt')!.end).toBeLessThanOrEqual(frames[1]!.d[1]);
  });

  it('extract: exit 2, the damaged entry and the skipped ranges named, every file of the other frames restored, nothing damaged under its name', async () => {
    const ms = await members(good.path);
    const d = frames[1]!.d;
    const c = frames[1]!.c;
    const first = ms.find((m) => m.offset < d[0] && m.end > d[0])!; // header before the frame, data into it
    for (const [p, tag] of [
      [mid, 'mid'],
      [sum, 'sum'],
    ] as const) {
      const out = join(dir, `x-${tag}`);
      const r = portarc(['extract', '-f', p, '-C', out]);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toContain(`entry "${first.name}", bytes ${first.offset}-`);
      expect(r.stderr).toContain(`data lost: zstd frame 1 (compressed bytes ${c[0]}-${c[1]}) is damaged: `);
      expect(r.stderr).toContain(`tar bytes ${d[0]}-${d[1]} lost; skipped to the next header; not extracted`);
      if (tag === 'sum') expect(r.stderr).toMatch(/checksum/);
      // The members whose headers were in the lost bytes are named too, from the manifest.
      const gone = lost(ms, d);
      for (const m of gone.filter((m) => m !== first)) expect(r.stderr).toContain(`entry "${m.name}", bytes ${m.offset}-${m.end + ((512 - (m.end % 512)) % 512)}: its header was in the bytes skipped (the manifest lists it there); not extracted`);
      // The files restored, and the directory itself.
      expect(r.stderr).toContain(`damaged: ${gone.length} damaged places; ${Object.keys(expected(ms, d)).length + 1} entries extracted`);
      // Exactly the files outside the lost bytes, each whole; a1.txt (inside the frame) and the
      // members the frame cut are not there, under any name.
      expect(sums(out)).toEqual(expected(ms, d));
      expect(Object.keys(sums(out))).not.toContain('a1.txt');
    }
  });

  it('list: every entry whose header is readable, the damage on stderr, exit 2', async () => {
    const ms = await members(good.path);
    const d = frames[1]!.d;
    const r = portarc(['list', '-f', mid]);
    expect(r.status).toBe(2);
    expect(r.stdout.split('\n').filter(Boolean)).toEqual(ms.filter((m) => !(m.offset >= d[0] && m.offset < d[1]) && !m.name.startsWith('.portarc/')).map((m) => m.name));
    expect(r.stderr).toMatch(new RegExp(`error: .*mid\\.tar\\.zst, entry "\\./a\\d\\.bin", bytes \\d+-\\d+: data lost: zstd frame 1 .*tar bytes ${d[0]}-${d[1]} lost; skipped to the next header`));
  });

  it('the last frame damaged: everything before it restored, its entries reported, exit 2', async () => {
    const ms = await members(good.path);
    const d = frames[last]!.d;
    const out = join(dir, 'x-tail');
    const r = portarc(['extract', '-f', tail, '-C', out]);
    expect(r.status).toBe(2);
    const first = ms.find((m) => m.offset < d[0] && m.end > d[0])!;
    expect(r.stderr).toContain(`entry "${first.name}"`);
    expect(r.stderr).toContain(`zstd frame ${last} (compressed bytes ${frames[last]!.c[0]}-${frames[last]!.c[1]}) is damaged`);
    expect(r.stderr).toMatch(/no valid header follows before the end of the archive/);
    expect(sums(out)).toEqual(expected(ms, d));
  });

  it('the first frame damaged: the tar does not start where expected, the reader finds the first header after the gap', async () => {
    const ms = await members(good.path);
    const d = frames[0]!.d;
    const first = damage('first.tar.zst', frames[0]!.c[1] >> 1);
    for (const [args, input] of [
      [['-f', first], undefined],
      [['-f', '-'], readFileSync(first)],
    ] as const) {
      const out = tempDir('salvage-first');
      const r = portarc(['extract', ...args, '-C', out], { input });
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`error: .*, bytes 0-\\d+: data lost: zstd frame 0 \\(compressed bytes 0-${frames[0]!.c[1]}\\) is damaged: .*: tar bytes 0-${d[1]} lost; skipped to the next header\n`));
      const got = sums(out);
      for (const [n, h] of Object.entries(expected(ms, d))) expect(got[n], n).toBe(h);
      expect(Object.keys(got).filter((n) => n in want)).toEqual(Object.keys(expected(ms, d)));
      // The global header went with the frame: the manifest is still known by its names, so the
      // members whose headers were lost are named, and it is not restored as a user's files.
      for (const m of lost(ms, d).filter((m) => m.offset > 0)) expect(r.stderr, m.name).toContain(`entry "${m.name}"`);
      expect(existsSync(join(out, '.portarc'))).toBe(false);
    }
    // An intact member is still read by random access (the damaged global header aside).
    const intact = Object.keys(expected(ms, d))[0]!;
    const out = tempDir('salvage-first-path');
    const p = portarc(['extract', '-f', first, '-C', out, intact]);
    expect(p.status, p.stderr).toBe(0);
    expect(sums(out)[intact]).toBe(want[intact]);
  });

  it('extract PATH... (random access by the manifest): a selected member in the damaged frame is named, the other selected ones restored', async () => {
    // The first member the damaged frame held ended the extraction, naming no entry; members
    // selected after it were never restored (-O printed nothing).
    const ms = await members(good.path);
    const inside = './a1.txt'; // wholly inside frame 1
    const after = lost(ms, frames[1]!.d).length ? Object.keys(expected(ms, frames[1]!.d)).filter((n) => ms.find((m) => m.name === `./${n}`)!.offset > frames[1]!.d[1])[0]! : '';
    expect(after).toBeTruthy();
    const out = tempDir('salvage-paths');
    const r = portarc(['extract', '-f', mid, '-C', out, inside, `./${after}`]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`entry "${inside.replace(/\./g, '\\.')}", bytes \\d+-\\d+: .*zstd frame 1.*not extracted`));
    expect(sums(out)[after]).toBe(want[after]);
    expect(existsSync(join(out, inside))).toBe(false);
    const o = spawnSync(process.execPath, [BIN, 'extract', '-O', '-f', mid, inside, `./${after}`]);
    expect(o.status).toBe(2);
    expect(sha(o.stdout)).toBe(want[after]);
  });

  it('two damaged frames, apart or in a row: each gap at its own tar offsets, from a file and from stdin', async () => {
    const ms = await members(good.path);
    const hit = (fs: number[], name: string) => {
      const b = Buffer.from(good.bytes);
      for (const f of fs) for (let i = 0; i < 64; i++) b[((frames[f]!.c[0] + frames[f]!.c[1]) >> 1) + i]! ^= 0x5a;
      const p = join(dir, name);
      writeFileSync(p, b);
      return p;
    };
    for (const [fs, tag] of [
      [[1, 3], 'apart'],
      [[1, 2], 'row'],
    ] as const) {
      const p = hit([...fs], `${tag}.tar.zst`);
      // The tar bytes lost: one range per gap (frames in a row make one).
      const ranges: [number, number][] = tag === 'row' ? [[frames[1]!.d[0], frames[2]!.d[1]]] : fs.map((f) => frames[f]!.d);
      const want1 = Object.fromEntries(Object.entries(want).filter(([n]) => !ranges.some((d) => lost(ms, d).some((m) => m.name === `./${n}`))));
      for (const [args, input] of [
        [['-f', p], undefined],
        [['-f', '-'], readFileSync(p)],
      ] as const) {
        const out = tempDir('salvage-two');
        const r = portarc(['extract', ...args, '-C', out], { input });
        expect(r.status).toBe(2);
        // From stdin a frame that stops decoding part way leaves a gap of unknown size; the seek
        // table always knows. (Here frame 1 fails at its checksum, frame 3 inside.)
        const stream = args[1] === '-';
        for (const d of ranges) {
          if (stream && d[0] > frames[1]!.d[0]) expect(r.stderr).toMatch(new RegExp(`tar bytes (${d[0]}-${d[1]} lost|from ${d[0]} lost, how many is unknown)`));
          else expect(r.stderr, `${tag} ${args[1]}`).toContain(`tar bytes ${d[0]}-${d[1]} lost; skipped to the next header`);
        }
        expect(sums(out)).toEqual(want1);
        // Every member lost is named: by the reader, or from the manifest (exact offsets only).
        for (const d of stream ? ranges.slice(0, 1) : ranges) for (const m of lost(ms, d)) expect(r.stderr).toContain(`entry "${m.name}"`);
      }
    }
  });

  it('from stdin (no seek table): the next frame is found by its magic, the same files restored', async () => {
    const ms = await members(good.path);
    const d = frames[1]!.d;
    // A broken block header in frame 1: the decoder stops inside the frame, the rest of it is scanned past.
    const blk = Buffer.from(good.bytes);
    blk[frames[1]!.c[0] + 10]! |= 6; // first block header after the 10-byte frame header: reserved type
    expect(blk.readUInt32LE(frames[1]!.c[0])).toBe(0xfd2fb528);
    expect(blk[frames[1]!.c[0] + 4]).toBe(0x84); // FCS 4 bytes, window byte, checksum: a 10-byte header
    for (const [input, tag] of [
      [readFileSync(mid), 'mid'],
      [readFileSync(sum), 'sum'],
      [blk, 'blk'],
      [readFileSync(tail), 'tail'],
    ] as const) {
      const out = join(dir, `stdin-${tag}`);
      const r = portarc(['extract', '-f', '-', '-C', out], { input });
      expect(r.status, `${tag}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(/error: \(stdin\), entry "\.\/a\d\.bin", bytes \d+-\d+: data lost: zstd frame \d+ \(compressed bytes \d+-\d+\) is damaged/);
      expect(sums(out), tag).toEqual(expected(ms, tag === 'tail' ? frames[last]!.d : d));
      if (tag === 'blk') expect(r.stderr).toMatch(/zstd block of reserved type: tar bytes from \d+ lost, how many is unknown without the seek table/);
      if (tag === 'sum') expect(r.stderr).toContain(`tar bytes ${d[0]}-${d[1]} lost`); // the frame header's content size
      // Offsets stay exact where the gap's size is known: the manifest (it comes last) names the
      // members whose headers were lost; after a gap of unknown size it cannot be matched.
      if (tag === 'sum') expect(r.stderr).toContain('entry "./a1.txt"');
      if (tag === 'blk') expect(r.stderr).toMatch(/damaged: 1 damaged place;/);
    }
    const l = portarc(['list', '-f', '-'], { input: blk });
    expect(l.status).toBe(2);
    expect(l.stdout.split('\n').filter(Boolean)).toEqual(ms.filter((m) => !(m.offset >= d[0] && m.offset < d[1]) && !m.name.startsWith('.portarc/')).map((m) => m.name));
  });

  it('a frame whose checksum fails hands out nothing: a small file in it is never restored with wrong bytes (no manifest to catch it)', () => {
    const plain = make(dir, 'plain.tar.zst', ['--no-manifest']);
    const f = seekFrames(plain.bytes);
    const marker = plain.bytes.indexOf('marker-XYZXYZ-end'); // a1.txt, stored as is in frame 1
    expect(marker).toBeGreaterThan(f[1]!.c[0]);
    expect(marker).toBeLessThan(f[1]!.c[1]);
    const b = Buffer.from(plain.bytes);
    b[marker + 7] = 0x51; // 'X' -> 'Q': decodes, to wrong bytes; only the frame checksum tells
    const p = join(dir, 'silent.tar.zst');
    writeFileSync(p, b);
    for (const [args, input] of [
      [['extract', '-f', p], undefined],
      [['extract', '-f', '-'], b],
    ] as const) {
      const out = tempDir('salvage-silent');
      const r = portarc([...args, '-C', out], { input });
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/checksum/);
      expect(existsSync(join(out, 'a1.txt'))).toBe(false);
      expect(readdirSync(out).some((n) => n.startsWith('a1.txt'))).toBe(false);
      expect(readFileSync(join(out, 'a0.txt'))).toEqual(readFileSync(join(src, 'a0.txt')));
      expect(sha(readFileSync(join(out, 'a5.bin')))).toBe(want['a5.bin']);
    }
  });

  it('library: extract() rejects with the report once the rest is restored; list() lists, then rejects; the ranges are structured', async () => {
    const d = frames[1]!.d;
    const out = join(dir, 'lib');
    const err = await extract(mid, out, { fsync: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExtractDamagedError);
    const { result } = err as ExtractDamagedError;
    expect(result.damaged.map((x) => x.path)).toEqual(['./a1.bin', './a1.txt', './a2.bin']);
    expect(result.damaged[0]).toMatchObject({ what: expect.stringMatching(/^data lost: zstd frame 1 .*; not extracted$/) });
    expect(existsSync(join(out, 'a5.bin'))).toBe(true);

    // To a callback (the decoder then hands out fresh chunks): the same report; the callback got
    // the later members whole, and the lost one only in part (it must drop it: the report names it).
    const seen: Record<string, string> = {};
    const cerr = await extract(mid, async (e, body) => {
      const h = createHash('sha256');
      for await (const c of body) h.update(c as Buffer);
      seen[e.name] = h.digest('hex');
    }).catch((e: unknown) => e);
    expect(cerr).toBeInstanceOf(ExtractDamagedError);
    // The members whose headers were in the lost bytes are named too, by the manifest (the
    // callback path once left them out: lost without a word).
    expect((cerr as ExtractDamagedError).result.damaged.map((x) => x.path)).toEqual(['./a1.bin', './a1.txt', './a2.bin']);
    expect((cerr as ExtractDamagedError).result.damaged[0]).toMatchObject({ path: './a1.bin', what: expect.stringMatching(/^data lost: zstd frame 1 /) });
    for (const n of ['a0.bin', 'a3.bin', 'a4.txt', 'a5.bin']) expect(seen[`./${n}`], n).toBe(want[n]);
    expect(seen['./a1.txt']).toBeUndefined();
    expect(seen['./a2.bin']).toBeUndefined();

    const names: string[] = [];
    const lerr = await (async () => {
      for await (const e of list(mid)) names.push(e.name);
    })().catch((e: unknown) => e);
    expect(lerr).toBeInstanceOf(ListDamagedError);
    const dmg = (lerr as ListDamagedError).damaged;
    expect(dmg).toHaveLength(1);
    expect(dmg[0]).toMatchObject({ compressed: frames[1]!.c, lost: { from: d[0], size: d[1] - d[0] } });
    expect(names).toContain('./a5.txt');
  });

  it('without salvage nothing changes: the decoder and TarReader stop at the first damaged frame', async () => {
    const { decompressor, zstdSalvage } = await import('../src/compress/index.js');
    const { TarReader } = await import('../src/tar/reader.js');
    const bad = readFileSync(mid);
    await expect((async () => {
      for await (const _ of decompressor('zstd')(Readable.from([bad]))) void _;
    })()).rejects.toThrow(/zstd frame 1 at compressed offset \d+/);
    await expect((async () => {
      for await (const _ of new TarReader(decompressor('zstd')(Readable.from([bad])))) void _;
    })()).rejects.toThrow(/zstd frame 1/);
    // Salvaging, the same bytes decode to all but frame 1, and the gap says exactly what was lost.
    const gaps: import('../src/compress/index.js').FrameGap[] = [];
    let n = 0;
    for await (const c of zstdSalvage(Readable.from([bad]), { gaps })) n += c.length;
    expect(n).toBe(frames[frames.length - 1]!.d[1] - (frames[1]!.d[1] - frames[1]!.d[0]));
    expect(gaps).toEqual([expect.objectContaining({ at: frames[1]!.d[0], size: frames[1]!.d[1] - frames[1]!.d[0], compressed: frames[1]!.c, frame: 1, resumed: true })]);
  });

  it('embedded recovery data right after the last frame ends the stream, wherever a chunk boundary cuts its magic', async () => {
    // Before: with the magic cut by a chunk boundary, it was taken for a damaged frame (exit 2).
    const { zstdSalvage } = await import('../src/compress/index.js');
    const z = Buffer.from(good.bytes);
    const par2 = Buffer.concat([Buffer.from('PAR2\0PKT', 'latin1'), Buffer.alloc(200, 7)]);
    const b = Buffer.concat([z, par2]);
    const whole = frames[frames.length - 1]!.d[1];
    for (let cut = z.length - 4; cut <= z.length + 9; cut++) {
      const gaps: import('../src/compress/index.js').FrameGap[] = [];
      let n = 0;
      for await (const c of zstdSalvage(Readable.from([b.subarray(0, cut), b.subarray(cut)]), { gaps })) n += c.length;
      expect([cut - z.length, gaps], `cut at magic+${cut - z.length}`).toEqual([cut - z.length, []]);
      expect(n).toBe(whole);
    }
    // Bytes that only begin like the magic are still damage.
    const gaps: import('../src/compress/index.js').FrameGap[] = [];
    const near = Buffer.concat([z, Buffer.from('PAR2\0PKX', 'latin1'), Buffer.alloc(50, 7)]);
    for await (const _ of zstdSalvage(Readable.from([near.subarray(0, z.length + 2), near.subarray(z.length + 2)]), { gaps })) void _;
    expect(gaps).toHaveLength(1);
  });

  it('resync by magic: a skippable-frame magic that damaged bytes hold by chance is not taken for a frame', async () => {
    const { zstdSalvage } = await import('../src/compress/index.js');
    const b = Buffer.from(good.bytes);
    const f1 = frames[1]!.c;
    b[f1[0] + 10]! |= 6; // frame 1 fails at its first block: the rest of it is scanned
    b.writeUInt32LE(0x184d2a5e, f1[0] + 1000); // then a skippable magic...
    b.writeUInt32LE(0xfffffff0, f1[0] + 1004); // ...whose size would swallow everything after
    const gaps: import('../src/compress/index.js').FrameGap[] = [];
    let n = 0;
    for await (const c of zstdSalvage(Readable.from([b]), { gaps })) n += c.length;
    expect(gaps).toMatchObject([{ at: frames[1]!.d[0], compressed: f1, resumed: true }]);
    expect(n).toBe(frames[frames.length - 1]!.d[1] - (frames[1]!.d[1] - frames[1]!.d[0]));
  });

  it('ByteSource: a gap inside a chunk (bytes gathered ahead by a peek) stops the reading exactly there', async () => {
    const { ByteSource, GapError } = await import('../src/io/bytesource.js');
    const a = Buffer.alloc(100, 0x61);
    const b = Buffer.alloc(100, 0x62);
    const gaps = [{ at: 100, size: 50, reason: 'frame lost' }];
    const src = new ByteSource(Readable.from([Buffer.concat([a, b])]), gaps);
    expect(await src.read(60)).toEqual(a.subarray(0, 60));
    const err = await src.read(60).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GapError);
    expect(src.position).toBe(100); // the 40 bytes before the gap were read
    await expect(src.skip(10)).rejects.toBeInstanceOf(GapError); // until it is accepted
    expect(src.acceptGap()).toBe(gaps[0]);
    expect(src.position).toBe(150);
    expect(await src.read(200)).toEqual(b);
    expect(src.position).toBe(250);
  });

  it('gzip cannot resynchronise: the error says nothing after it can be read', () => {
    const gz = make(dir, 'g.tar.gz');
    const b = Buffer.from(gz.bytes);
    for (let i = 0; i < 64; i++) b[(b.length >> 1) + i]! ^= 0x5a;
    const p = join(dir, 'bad.tar.gz');
    writeFileSync(p, b);
    const r = portarc(['extract', '-f', p, '-C', join(dir, 'gz-out')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/gzip: .*; nothing after it can be read \(a gzip stream cannot be resynchronised\)/);
  });
});

describe('a .tar.zst of one big frame (zstd program): read past the salvage hold', () => {
  it('a frame larger than what salvage holds back streams through intact, from a file and from stdin', () => {
    const dir = tempDir('salvage-one-frame');
    const src = join(dir, 'src');
    mkdirSync(src);
    const want: Record<string, string> = {};
    for (let i = 0; i < 7; i++) {
      // 21 MiB in all, more than the 16 MiB held back; hex text, so one input chunk decodes to many
      // output chunks (the decoder's reused buffers must each go out before the next is made).
      const b = Buffer.from(noise(7 + i, 3 << 19).toString('hex'));
      writeFileSync(join(src, `f${i}`), b);
      want[`f${i}`] = sha(b);
    }
    const z = join(dir, 'one.tar.zst');
    const t = spawnSync('bash', ['-c', `tar -cf - -C "${src}" . | zstd -q -3 -o "${z}"`], { encoding: 'utf8' });
    expect(t.status, t.stderr).toBe(0);
    expect(spawnSync('zstd', ['-lv', z], { encoding: 'utf8' }).stdout).toMatch(/# Zstandard Frames: 1\n/);
    for (const [args, input] of [
      [['-f', z], undefined],
      [['-f', '-'], readFileSync(z)],
    ] as const) {
      const out = tempDir('salvage-one-out');
      const r = portarc(['extract', ...args, '-C', out], { input });
      expect(r.status, r.stderr).toBe(0);
      expect(sums(out)).toEqual(want);
    }
  });
});

describe('verify: a .tar.zst is checked past a damaged frame (issue #10; spec/manifest.md §8.3)', () => {
  const dir = tempDir('verify-zst-gap');
  const src = join(dir, 'src');
  mkdirSync(src);
  // a0.bin a0.txt ... a3.txt: 3 MiB files across the 4 MiB frames, small ones between them.
  for (let i = 0; i < 4; i++) {
    writeFileSync(join(src, `a${i}.bin`), noise(2000 + i, 3 << 20));
    writeFileSync(join(src, `a${i}.txt`), `small file ${i}\n`);
  }
  const good = make(dir, 'good.tar.zst');
  const frames = seekFrames(good.bytes);
  const tar = spawnSync('zstd', ['-dc', good.path], { maxBuffer: 1 << 28 }).stdout;
  const [d1, d2] = [frames[1]!.d, frames[2]!.d];

  /** `z` with frame `k` holding `content` instead (compressed again, the seek table updated): a change its frame checksum cannot see. */
  const reframe = (z: Buffer, k: number, content: Buffer): Buffer => {
    const tmp = join(dir, `frame-${k}`);
    writeFileSync(tmp, content);
    const frame = spawnSync('zstd', ['-q', '-c', '-3', tmp], { maxBuffer: 1 << 28 }).stdout;
    expect(frame.readUInt32LE(0)).toBe(0xfd2fb528);
    const [c0, c1] = frames[k]!.c;
    const out = Buffer.concat([z.subarray(0, c0), frame, z.subarray(c1)]);
    const entry = out.length - 9 - 12 * frames.length + 12 * k;
    out.writeUInt32LE(frame.length, entry);
    out.writeUInt32LE(frame.readUInt32LE(frame.length - 4), entry + 8); // the frame's checksum
    return out;
  };
  /** `z` with frame 1 damaged: 64 bytes in its middle (its checksum fails), or its first block header (decoding stops inside it). */
  const hit = (z: Buffer, how: 'mid' | 'blk'): Buffer => {
    const b = Buffer.from(z);
    const [c0, c1] = frames[1]!.c;
    if (how === 'mid') for (let i = 0; i < 64; i++) b[((c0 + c1) >> 1) + i]! ^= 0x5a;
    else {
      expect(b[c0 + 4]).toBe(0x84); // a 10-byte frame header: the first block header follows
      b[c0 + 10]! |= 6; // a block of reserved type
    }
    return b;
  };
  const save = (name: string, b: Buffer) => {
    const p = join(dir, name);
    writeFileSync(p, b);
    return p;
  };
  /** verify --json of the file, or of its bytes on stdin. */
  const verifyJson = (p: string, stdin: boolean) => {
    const r = stdin ? portarc(['verify', '--json', '-f', '-'], { input: readFileSync(p) }) : portarc(['verify', '--json', '-f', p]);
    return { status: r.status, j: JSON.parse(r.stdout) as { ok: boolean; checkedContent: boolean; entries: number; notes: string[]; damaged: { part: string; path?: string; range: [number, number]; compressedOffset?: number; what: string }[] } };
  };
  const places = (j: { damaged: { part: string; path?: string }[] }) => j.damaged.map((d) => `${d.part} ${d.path ?? ''}`.trim());
  /** What losing frame 1 costs: the member it cuts, then the members whose headers were in it. */
  const LOST = ['content ./a1.bin', 'missing ./a1.txt', 'missing ./a2.bin'];

  it('the archive has the frames the test needs', async () => {
    expect(frames.length).toBe(4);
    const ms = (await members(good.path)).filter((m) => !m.name.startsWith('.portarc/'));
    // Frame 1 ends inside a2.bin: the reading goes on at a2.txt, in frame 2 with a3.bin's start.
    expect(ms.filter((m) => m.offset < d1[0] && m.end > d1[0]).map((m) => m.name)).toEqual(['./a1.bin']);
    expect(ms.filter((m) => m.offset >= d1[0] && m.offset < d1[1]).map((m) => m.name)).toEqual(['./a1.txt', './a2.bin']);
    expect(ms.filter((m) => m.offset >= d2[0] && m.offset < d2[1]).map((m) => m.name)).toEqual(['./a2.txt', './a3.bin']);
    expect(ms.find((m) => m.name === './a3.txt')!.offset).toBeGreaterThanOrEqual(d2[1]);
  });

  it('undamaged: clean, exactly as before, from the file and from stdin', () => {
    const r = portarc(['verify', '-f', good.path]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${good.path}: OK: 9 entries, contents checked against the manifest\n`);
    expect(r.stderr).toBe('');
    for (const stdin of [false, true]) expect(verifyJson(good.path, stdin)).toEqual({ status: 0, j: expect.objectContaining({ ok: true, damaged: [], notes: [], entries: 9, checkedContent: true }) });
  });

  it('frame 1 damaged: exit 2, one line for the frame, the member it cut, the members lost with it; the later members checked and clean (file and stdin)', () => {
    for (const how of ['mid', 'blk'] as const) {
      const p = save(`${how}.tar.zst`, hit(good.bytes, how));
      for (const stdin of [false, true]) {
        const tag = `${how}${stdin ? ' stdin' : ''}`;
        const { status, j } = verifyJson(p, stdin);
        expect(status, tag).toBe(2);
        expect(places(j), tag).toEqual(['compression', ...LOST]);
        // Known size: the seek table; or from stdin the frame header's content size, when it failed at its checksum.
        const known = !stdin || how === 'mid';
        expect(j.damaged[0], tag).toMatchObject({ compressedOffset: frames[1]!.c[0], range: known ? d1 : [d1[0], d1[0]], what: expect.stringMatching(/^zstd frame 1 \(compressed bytes \d+-\d+\) is damaged: /) });
        expect(j.damaged[1]!.what, tag).toContain(`damaged zstd frame at compressed offset ${frames[1]!.c[0]}`);
        expect(j.damaged[2]!.what, tag).toMatch(known ? /its header was in the bytes skipped past damage/ : /listed in the manifest/);
        // The 7 members read were checked against the manifest: a2.txt, a3.bin, a3.txt among them.
        expect(j, tag).toMatchObject({ ok: false, checkedContent: true, entries: 7 });
        expect(j.notes.join('\n'), tag).not.toMatch(/reading stopped/);
        if (!known) expect(j.notes.join('\n'), tag).toMatch(/lost an unknown number of tar bytes at offset \d+ .*the offsets after it could not be compared with the manifest/);
      }
    }
    const t = portarc(['verify', '-f', join(dir, 'mid.tar.zst')]);
    expect(t.status).toBe(2);
    expect(t.stdout).toContain(`damaged: compression, compressed offset ${frames[1]!.c[0]}: zstd frame 1 `);
    expect(t.stdout).toContain('damaged: content of "./a1.bin", bytes ');
    expect(t.stdout).toMatch(/DAMAGED: 4 damaged places \(contents checked against the manifest\)\n$/);
  });

  it('frame 0 damaged: the global header that declares the manifest is lost with it; the manifest is found by its name and the members after the gap checked', () => {
    const b = Buffer.from(good.bytes);
    for (let i = 0; i < 64; i++) b[(frames[0]!.c[1] >> 1) + i]! ^= 0x5a;
    const p = save('first.tar.zst', b);
    for (const stdin of [false, true]) {
      const { status, j } = verifyJson(p, stdin);
      expect(status).toBe(2);
      expect(places(j)).toEqual(['compression', 'missing .', 'missing ./a0.bin', 'missing ./a0.txt', 'missing ./a1.bin']);
      expect(j.damaged[0]).toMatchObject({ compressedOffset: 0, range: frames[0]!.d });
      expect(j).toMatchObject({ checkedContent: true, entries: 5 });
    }
  });

  it('a damaged seek table entry and a damaged frame: the table is not followed (the next frame is found by its magic), its entry is reported, the members after the gap checked', () => {
    const b = hit(good.bytes, 'mid');
    b[b.length - 9 - 12 * frames.length + 4]! ^= 1; // frame 0's decompressed size in the table
    const p = save('table.tar.zst', b);
    const { status, j } = verifyJson(p, false);
    expect(status).toBe(2);
    expect(places(j)).toEqual(['compression', ...LOST, 'compression']);
    expect(j.damaged[0]).toMatchObject({ compressedOffset: frames[1]!.c[0], range: d1 });
    expect(j.damaged[4]!.what).toMatch(/^zstd seek table, frame 1: it starts at tar offset \d+ in the table, but the frames before it decompress to \d+ bytes: the table is damaged/);
    expect(j.checkedContent).toBe(true);
    // extract follows the same decoder: every file outside the frame restored.
    const out = join(dir, 'table-out');
    const r = portarc(['extract', '-f', p, '-C', out]);
    expect(r.status).toBe(2);
    expect(readdirSync(out).sort()).toEqual(['a0.bin', 'a0.txt', 'a2.txt', 'a3.bin', 'a3.txt']);
    expect(sha(readFileSync(join(out, 'a3.bin')))).toBe(sha(readFileSync(join(src, 'a3.bin'))));
  });

  it('gzip cannot resynchronise: verify stops where the deflate data breaks, and says the entries after it were not checked', () => {
    const gz = make(dir, 'g.tar.gz');
    const b = Buffer.from(gz.bytes);
    // The first deflate block's type made the reserved one (portarc's gzip header is 10 bytes):
    // zlib stops there ("invalid block type"), before any member.
    expect(b.readUInt32LE(0) & 0xffffff).toBe(0x088b1f);
    b[10]! |= 6;
    const p = save('bad-start.tar.gz', b);
    for (const stdin of [false, true]) {
      const { status, j } = verifyJson(p, stdin);
      expect(status).toBe(2);
      expect(j.damaged, JSON.stringify(j.damaged)).toHaveLength(1);
      expect(j.damaged[0]!.part).toBe('compression');
      expect(j.damaged[0]!.what).toMatch(/^gzip: .* in compressed bytes \d+–\d+; nothing after it can be read/);
      expect(j.notes.join('\n')).toMatch(/reading stopped at offset \d+: entries after it could not be checked/);
      expect(j.checkedContent).toBe(false);
    }
  });

  it('gzip: damage that still decodes (a stored block) is named where it lands, then the CRC-32 of its member', () => {
    const gz = make(dir, 'g.tar.gz');
    const b = Buffer.from(gz.bytes);
    // Inside a2.bin's stored (incompressible) data, found by its bytes: the archive's layout moves
    // from run to run with the files' ctimes.
    const a2 = noise(2002, 3 << 20);
    let at = -1;
    for (let probe = 1 << 20; at < 0 && probe < 2 << 20; probe += 4096) at = b.indexOf(a2.subarray(probe, probe + 64));
    expect(at).toBeGreaterThan(0);
    for (let i = 0; i < 64; i++) b[at + i]! ^= 0x5a;
    const p = save('bad.tar.gz', b);
    for (const stdin of [false, true]) {
      const { status, j } = verifyJson(p, stdin);
      expect(status).toBe(2);
      // The damaged bytes are handed out before the member's CRC-32 is checked at its end (as
      // gzip -d does): the file they land in is named (not the manifest's content), and then the
      // CRC-32 mismatch, where the reading stops.
      expect(places(j), JSON.stringify(j.damaged)).toEqual(['content ./a2.bin', 'compression .portarc/trailer']);
      expect(j.damaged[1]!.what).toMatch(/^gzip: the data of the member at compressed byte 0 does not match its trailer \(CRC-32 [0-9a-f]{8}, the trailer says [0-9a-f]{8}\) in compressed bytes \d+–\d+/);
      expect(j.checkedContent).toBe(true);
    }
  });

  it('frame 1 damaged and, in frame 2, a header and a content byte changed past its checksum: each named after the gap (file, stdin, stdin of unknown gap size)', () => {
    const t = Buffer.from(tar);
    // a2.txt's ustar header: its mtime's last digit, the header checksum made right again.
    let h = t.indexOf('./a2.txt\0', d2[0]);
    h -= h % 512;
    expect(t.toString('latin1', h, h + 9)).toBe('./a2.txt\0');
    t[h + 146]! ^= 1;
    t.fill(0x20, h + 148, h + 156);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += t[h + i]!;
    t.write(sum.toString(8).padStart(6, '0') + '\0 ', h + 148, 'latin1');
    // A byte of a3.bin's data, in frame 2.
    const a3 = t.indexOf('./a3.bin\0', h);
    const q = a3 - (a3 % 512) + 512 + 4096;
    expect(q).toBeLessThan(d2[1]);
    t[q]! ^= 0x80;
    const changed = reframe(good.bytes, 2, t.subarray(d2[0], d2[1]));
    // Alone, the change passes the frame checksums; the manifest names both, and the compressed-stream digest fails.
    const alone = verifyJson(save('frame2.tar.zst', changed), false);
    expect(alone.status).toBe(2);
    expect(places(alone.j)).toEqual(['header ./a2.txt', 'content ./a3.bin', 'compression']);
    for (const how of ['mid', 'blk'] as const) {
      const p = save(`${how}-frame2.tar.zst`, hit(changed, how));
      for (const stdin of [false, true]) {
        const tag = `${how}${stdin ? ' stdin' : ''}`;
        const { status, j } = verifyJson(p, stdin);
        expect(status, tag).toBe(2);
        expect(places(j), tag).toEqual(['compression', ...LOST, 'header ./a2.txt', 'content ./a3.bin']);
        expect(j.damaged.slice(4), tag).toMatchObject([{ what: 'header bytes do not match their digest' }, { what: 'content does not match its SHA-256 in the manifest' }]);
      }
    }
  });
});

describe('zstdSalvage with reused output buffers', () => {
  it('hands a checked frame out in pieces; each chunk is left intact until the consumer asks for the one after the next (the tar reader may still read the previous one)', async () => {
    const { zstdSalvage } = await import('../src/compress/index.js');
    const { compress } = await import('zstd-napi');
    // Frames of many pieces, of one, several of one in a row, and one not a multiple of 256 KiB.
    const sizes = [1300 << 10, 100 << 10, 90 << 10, 700 << 10, 5 << 10, 256 << 10];
    let seed = 1;
    const data = sizes.map((n) => {
      const b = Buffer.alloc(n);
      for (let i = 0; i < n; i++) b[i] = (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24 & 0x3f;
      return b;
    });
    const input = Buffer.concat(data.map((d) => compress(d)));
    const out: Buffer[] = [];
    let prev: { view: Buffer; copy: Buffer } | undefined;
    for await (const c of zstdSalvage(Readable.from([input]), { gaps: [] }, { reuseOutput: true })) {
      if (prev) expect(prev.view.equals(prev.copy), `the chunk before byte ${out.reduce((n, b) => n + b.length, 0)} was overwritten`).toBe(true);
      expect(c.length).toBeLessThanOrEqual(256 << 10);
      prev = { view: c, copy: Buffer.from(c) };
      out.push(prev.copy);
    }
    expect(Buffer.concat(out).equals(Buffer.concat(data))).toBe(true);
  });
});
