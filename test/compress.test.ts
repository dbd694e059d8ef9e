// The compression layer (src/compress): gzip and zstd round trips, sniffing, the seekable .tar.zst
// read by zstd, GNU tar and bsdtar, identical bytes whatever the thread count, random access that
// reads only the frames it needs, corrupt frames named by index and offset, and every zstd backend
// this Node has (built-in on Node >= 22.15, zstd-napi, the pure-JS fzstd fallback).
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync, gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers/tree.js';
import {
  CompressError,
  SeekTable,
  SeekableEncoder,
  Xxh64,
  bufferReader,
  compressingSink,
  compressor,
  decompressAuto,
  decompressor,
  detect,
  filterForPath,
  peek,
  readRange,
  sniff,
  unsupportedFormat,
  zstdBackend,
  zstdBackends,
  zstdDecompress,
  type RandomAccessReader,
  type ZstdBackendName,
} from '../src/compress/index.js';
import { crc32 } from '../src/zip/crc.js';

// ---- data and helpers ---------------------------------------------------------------------------

/** Deterministic text that compresses like source code (zstd -3 ratio ~4). */
function text(bytes: number, seed = 1): Buffer {
  const words = ['tar', 'archive', 'header', 'zstd', 'frame', 'offset', 'pax', 'entry', 'xattr', 'mode', '{', '}', '\n', '  ', 'return', 'const', '0x1f8b', 'seek'];
  let x = seed;
  const parts: string[] = [];
  let n = 0;
  while (n < bytes) {
    x = (x * 1103515245 + 12345) >>> 0;
    const w = (x >>> 16) % 7 === 0 ? String(x % 100000) : words[(x >>> 8) % words.length]!;
    parts.push(w, ' ');
    n += w.length + 1;
  }
  return Buffer.from(parts.join('')).subarray(0, bytes);
}

const TEXT = text(5 << 20);
const RANDOM = randomBytes(3 << 20);
const MIXED = Buffer.concat([TEXT.subarray(0, 1 << 20), RANDOM.subarray(0, 1 << 20), TEXT.subarray(1 << 20, 3 << 20)]);

/** The buffer in chunks of odd sizes, cycling. */
async function* chunks(b: Buffer, sizes = [1, 7, 4093, 65537, 1000003, 333]): AsyncGenerator<Buffer> {
  for (let p = 0, i = 0; p < b.length; i++) {
    const n = sizes[i % sizes.length]!;
    yield b.subarray(p, p + n);
    p += n;
  }
}

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of it) parts.push(c);
  return Buffer.concat(parts);
}

async function failure(p: Promise<unknown>): Promise<CompressError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(CompressError);
  return e as CompressError;
}

const zstdOf = (data: Buffer, opts: Parameters<typeof compressor>[1] = {}) => collect(compressor('zstd', { frameSize: 256 << 10, threads: 2, ...opts })(chunks(data)));

const available = zstdBackends().filter((b) => b.available);
const decoders = available.map((b) => b.name);
const compressors = available.filter((b) => b.compress).map((b) => b.name as ZstdBackendName);
const hasBuiltin = decoders.includes('builtin');

const tmp = tempDir('compress');
afterAll(() => spawnSync('rm', ['-rf', tmp]));

const run = (cmd: string, args: string[], input?: Buffer) => {
  const r = spawnSync(cmd, args, { input, maxBuffer: 1 << 30 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr?.toString() ?? '' };
};

// ---- sniffing -----------------------------------------------------------------------------------

describe('sniff, peek, detect', () => {
  it('tells gzip, a zstd frame, a zstd skippable frame and anything else apart', () => {
    expect(sniff(gzipSync(Buffer.from('x')))).toBe('gzip');
    expect(sniff(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0]))).toBe('zstd');
    for (const low of [0x50, 0x5a, 0x5e, 0x5f]) expect(sniff(Buffer.from([low, 0x2a, 0x4d, 0x18, 4, 0, 0, 0]))).toBe('zstd');
    expect(sniff(Buffer.from([0x60, 0x2a, 0x4d, 0x18]))).toBe('none');
    expect(sniff(Buffer.from('./file\0'))).toBe('none');
    expect(sniff(Buffer.from([0x28, 0xb5]))).toBe('none');
    expect(sniff(Buffer.alloc(0))).toBe('none');
    expect(unsupportedFormat(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0, 4]))).toBe('xz');
    expect(unsupportedFormat(Buffer.from('BZh91AY'))).toBe('bzip2');
    expect(unsupportedFormat(Buffer.from('./file'))).toBeUndefined();
  });

  it('peek returns the first n bytes and loses none of the stream', async () => {
    const data = randomBytes(10000);
    for (const sizes of [[1], [3, 1, 5], [4096], [20000]]) {
      for (const n of [0, 1, 4, 6, 100, 9999, 10000, 20000]) {
        const { head, rest } = await peek(chunks(data, sizes), n);
        expect(head.equals(data.subarray(0, n))).toBe(true);
        expect((await collect(rest)).equals(data)).toBe(true);
      }
    }
    const empty = await peek(chunks(Buffer.alloc(0)), 6);
    expect(empty.head.length).toBe(0);
    expect((await collect(empty.rest)).length).toBe(0);
  });

  it('detect and decompressAuto read each filter from a stream that cannot seek', async () => {
    const tarLike = text(100000);
    const forms = {
      none: tarLike,
      gzip: gzipSync(tarLike),
      zstd: await zstdOf(tarLike, { frameSize: 30000 }),
    };
    for (const [filter, bytes] of Object.entries(forms)) {
      const d = await detect(chunks(bytes, [1, 2, 3]));
      expect(d.filter).toBe(filter);
      expect((await collect(d.bytes)).equals(bytes)).toBe(true);
      let seen = '';
      const out = await collect(decompressAuto(chunks(bytes, [5, 4093]), { onFilter: (f) => (seen = f) }));
      expect(seen).toBe(filter);
      expect(out.equals(tarLike)).toBe(true);
    }
    await expect(collect(decompressAuto(chunks(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0, 1, 2]))))).rejects.toThrow(/xz-compressed/);
  });

  it('filterForPath follows the file name', () => {
    expect(filterForPath('a.tar.gz')).toBe('gzip');
    expect(filterForPath('A.TGZ')).toBe('gzip');
    expect(filterForPath('a.tar.zst')).toBe('zstd');
    expect(filterForPath('a.tzst')).toBe('zstd');
    expect(filterForPath('a.tar')).toBe('none');
    expect(filterForPath('-')).toBe('none');
  });
});

// ---- gzip ---------------------------------------------------------------------------------------

describe('gzip', () => {
  it('round-trips random and compressible data, and gzip -d agrees', async () => {
    for (const data of [RANDOM, TEXT]) {
      const gz = await collect(compressor('gzip')(chunks(data)));
      expect(gz[0]).toBe(0x1f);
      expect(run('gzip', ['-dc'], gz).stdout.equals(data)).toBe(true);
      expect((await collect(decompressor('gzip')(chunks(gz)))).equals(data)).toBe(true);
    }
  });

  it('decompresses every member of a multi-member file, as gzip -d does', async () => {
    const a = text(300000, 2), b = randomBytes(70000), c = text(5, 3);
    const multi = Buffer.concat([gzipSync(a), gzipSync(b), gzipSync(c)]);
    expect((await collect(decompressor('gzip')(chunks(multi)))).equals(Buffer.concat([a, b, c]))).toBe(true);
  });

  /** What a decoder hands out before it fails (or all of it), and the failure. */
  async function partial(it: AsyncIterable<Buffer>): Promise<{ out: Buffer; err?: CompressError }> {
    const parts: Buffer[] = [];
    try {
      for await (const c of it) parts.push(Buffer.from(c));
      return { out: Buffer.concat(parts) };
    } catch (e) {
      expect(e).toBeInstanceOf(CompressError);
      return { out: Buffer.concat(parts), err: e as CompressError };
    }
  }

  it('after the last member: zeros are padding; other bytes are named, after all the data was handed out', async () => {
    const a = text(200000, 4), b = text(3000, 5);
    const gz = Buffer.concat([gzipSync(a), gzipSync(b)]);
    const whole = Buffer.concat([a, b]);
    for (const sizes of [[1], [3, 11], [65536], [1 << 20]]) {
      expect((await partial(decompressor('gzip')(chunks(Buffer.concat([gz, Buffer.alloc(1000)]), sizes)))).out.equals(whole)).toBe(true);
      const junk = await partial(decompressor('gzip')(chunks(Buffer.concat([gz, Buffer.alloc(0), Buffer.from('trailing junk')]), sizes)));
      expect(junk.out.equals(whole)).toBe(true);
      expect(junk.err!.message).toBe(`gzip: compressed bytes ${gz.length}–${gz.length + 13} after the last gzip member are not gzip data (bytes that start no member, at ${gz.length}): not read (gzip -d calls them trailing garbage)`);
      expect(junk.err!.compressedOffset).toBe(gz.length);
      // Zeros and then something else: gzip -d calls that trailing garbage too (Node's Gunzip
      // stopped at the first zero byte and said nothing).
      const late = await partial(decompressor('gzip')(chunks(Buffer.concat([gz, Buffer.alloc(600), Buffer.from([7])]), sizes)));
      expect(late.out.equals(whole)).toBe(true);
      expect(late.err!.message).toContain(`(600 zero bytes and then bytes that start no member, at ${gz.length + 600})`);
    }
    // gzip agrees that both are trailing garbage (exit 2, a warning).
    expect(run('gzip', ['-dc'], Buffer.concat([gz, Buffer.from('trailing junk')])).stderr).toMatch(/trailing garbage ignored/);
  });

  it('many members of every size (as bgzip writes), across any chunking; damage in a late one is named in it', async () => {
    let seed = 3;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
    const parts: Buffer[] = [];
    for (let i = 0; i < 150; i++) parts.push(i === 70 ? text(3 << 20, 9) : i % 7 === 3 ? randomBytes(rnd(90000)) : text(rnd(70000), i));
    const members = parts.map((p) => gzipSync(p, { level: 1 }));
    const gz = Buffer.concat(members);
    const whole = Buffer.concat(parts);
    for (const sizes of [[1 << 20], [65536], [4093, 100000]]) {
      expect((await collect(decompressor('gzip')(chunks(gz, sizes)))).equals(whole), String(sizes)).toBe(true);
    }
    expect(run('gzip', ['-dc'], gz).stdout.equals(whole)).toBe(true);
    // Member 120's deflate data damaged: everything before it comes out, then the error names its bytes.
    const at = members.slice(0, 120).reduce((n, m) => n + m.length, 0);
    const bad = Buffer.from(gz);
    bad[at + 10]! |= 6; // its first block of the reserved type
    const got = await partial(decompressor('gzip')(chunks(bad, [1 << 20])));
    expect(got.out.equals(Buffer.concat(parts.slice(0, 120)))).toBe(true);
    expect(got.err!.message).toMatch(/^gzip: invalid block type in compressed bytes (\d+)–(\d+); nothing after it can be read/);
    const from = Number(/bytes (\d+)–/.exec(got.err!.message)![1]);
    expect(from).toBeLessThanOrEqual(at + 10);
    expect(from).toBeGreaterThanOrEqual(at);
  });

  it('reads every header field (FEXTRA, FNAME, FCOMMENT, FHCRC) across any chunking, and checks each member', async () => {
    const data = text(70000, 6);
    const deflated = deflateRawSync(data);
    const trailer = Buffer.alloc(8);
    trailer.writeUInt32LE(crc32(data), 0);
    trailer.writeUInt32LE(data.length, 4);
    const head = Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0x1e, 0, 0, 0, 0, 0, 3]), Buffer.from([5, 0]), Buffer.from('AB\x01\x00x'), Buffer.from('name.tar\0comment\0')]);
    const crc16 = Buffer.alloc(2);
    crc16.writeUInt16LE(crc32(head) & 0xffff);
    const member = Buffer.concat([head, crc16, deflated, trailer]);
    expect(run('gzip', ['-dc'], member).stdout.equals(data)).toBe(true); // the member is right
    const two = Buffer.concat([member, gzipSync(Buffer.from('second'))]);
    for (const sizes of [[1], [2, 5], [13], [4096]]) {
      expect((await collect(decompressor('gzip')(chunks(two, sizes)))).equals(Buffer.concat([data, Buffer.from('second')]))).toBe(true);
    }
    const badHcrc = Buffer.from(member);
    badHcrc[head.length] ^= 1;
    expect((await failure(collect(decompressor('gzip')(chunks(badHcrc))))).message).toBe('gzip: header CRC mismatch in the member at compressed byte 0; nothing after it can be read (a gzip stream cannot be resynchronised)');
    const badCrc = Buffer.from(two);
    badCrc[member.length - 8] ^= 1;
    const c = await partial(decompressor('gzip')(chunks(badCrc, [4096])));
    expect(c.out.equals(data)).toBe(true);
    expect(c.err!.message).toMatch(new RegExp(`^gzip: the data of the member at compressed byte 0 does not match its trailer \\(CRC-32 ${crc32(data).toString(16).padStart(8, '0')}, the trailer says [0-9a-f]{8}\\) in compressed bytes ${member.length - 8}–${member.length};`));
    const badSize = Buffer.from(member);
    badSize[member.length - 4] ^= 1;
    expect((await failure(collect(decompressor('gzip')(chunks(badSize))))).message).toContain(`(${data.length} bytes (mod 2^32: ${data.length}), the trailer says ${data.length ^ 1})`);
    for (const cut of [5, head.length + 1, member.length - 3]) {
      expect((await failure(collect(decompressor('gzip')(chunks(member.subarray(0, cut)))))).message).toMatch(/^gzip: unexpected end of file/);
    }
  });

  it('names the compressed offset of damage and of truncation', async () => {
    const gz = gzipSync(TEXT.subarray(0, 1 << 20));
    const bad = Buffer.from(gz);
    bad.fill(0x55, 20000, 20100);
    const e = await failure(collect(decompressor('gzip')(chunks(bad, [4096]))));
    expect(e.message).toMatch(/^gzip: .* in compressed bytes (\d+)–(\d+); nothing after it can be read \(a gzip stream cannot be resynchronised\)$/);
    const [, from, to] = /(\d+)–(\d+);/.exec(e.message)!.map(Number);
    expect(e.compressedOffset).toBe(from);
    expect(to! - from!).toBeLessThanOrEqual(4096);
    expect(from).toBeGreaterThanOrEqual(16384); // the damage starts at 20000: nothing before its chunk fails
    const t = await failure(collect(decompressor('gzip')(chunks(gz.subarray(0, gz.length - 100), [65536]))));
    expect(t.message).toMatch(/gzip: unexpected end of file/);
  });
});

// ---- zstd ---------------------------------------------------------------------------------------

describe('zstd backends', () => {
  it('some backend can compress here, and fzstd can always decompress', () => {
    expect(compressors.length).toBeGreaterThan(0);
    expect(decoders).toContain('fzstd');
    expect(zstdBackend('decompress', 'fzstd').checksChecksums).toBe(false);
  });

  it('compression without a native backend is a clear error naming what to install', () => {
    expect(() => new SeekableEncoder(() => undefined, { backend: 'fzstd' })).toThrow(/zstd-napi.*npm install zstd-napi|Node >= 22\.15/);
    if (!hasBuiltin) expect(() => zstdBackend('compress', 'builtin')).toThrow(/no built-in zstd \(needs >= 22\.15\)/);
  });

  it('PORTARC_ZSTD_BACKEND forces the decoder (and does not stop compression)', async () => {
    const z = await zstdOf(TEXT.subarray(0, 600000));
    const saved = process.env['PORTARC_ZSTD_BACKEND'];
    process.env['PORTARC_ZSTD_BACKEND'] = 'fzstd';
    try {
      expect(zstdBackend('decompress').name).toBe('fzstd');
      expect(zstdBackend('compress').canCompress).toBe(true);
      expect((await collect(zstdDecompress(chunks(z)))).equals(TEXT.subarray(0, 600000))).toBe(true);
      expect((await zstdOf(TEXT.subarray(0, 600000))).equals(z)).toBe(true);
    } finally {
      if (saved === undefined) delete process.env['PORTARC_ZSTD_BACKEND'];
      else process.env['PORTARC_ZSTD_BACKEND'] = saved;
    }
  });

  it.each(decoders)('%s decodes seekable output of random and compressible data, chunked at odd places', async (backend) => {
    for (const data of [MIXED, RANDOM]) {
      const z = await zstdOf(data);
      expect((await collect(zstdDecompress(chunks(z, [1, 4093, 65537, 17, 262147]), { backend }))).equals(data)).toBe(true);
    }
  });

  it.each(decoders)('%s decodes frame by frame with 1-byte input chunks (headers split everywhere)', async (backend) => {
    const data = text(40000, 9);
    const z = await zstdOf(data, { frameSize: 3000 });
    expect((await collect(zstdDecompress(chunks(z, [1]), { backend }))).equals(data)).toBe(true);
  });

  it.each(decoders)('%s decodes what the zstd program and pzstd write: concatenated and skippable frames', async (backend) => {
    const a = text(200000, 4), b = randomBytes(100000), c = text(700000, 5);
    const cat = Buffer.concat([run('zstd', ['-q', '-c'], a).stdout, run('zstd', ['-q', '-c', '--no-check'], b).stdout, run('zstd', ['-q', '-19', '-c'], c).stdout]);
    expect((await collect(zstdDecompress(chunks(cat), { backend }))).equals(Buffer.concat([a, b, c]))).toBe(true);
    if (existsSync('/usr/bin/pzstd')) {
      const p = run('pzstd', ['-q', '-p', '2', '-c'], TEXT).stdout;
      expect(p.readUInt32LE(0)).toBe(0x184d2a50);
      expect((await collect(zstdDecompress(chunks(p), { backend }))).equals(TEXT)).toBe(true);
    }
  });

  it.each(decoders)('%s keeps memory flat on data that expands 30000x', async (backend) => {
    const z = run('zstd', ['-q', '-c'], Buffer.alloc(64 << 20)).stdout;
    expect(z.length).toBeLessThan(20000);
    let total = 0, biggest = 0;
    for await (const c of zstdDecompress(chunks(z, [1 << 20]), { backend })) {
      total += c.length;
      biggest = Math.max(biggest, c.length);
      expect(c.every((x) => x === 0)).toBe(true);
    }
    expect(total).toBe(64 << 20);
    expect(biggest).toBeLessThanOrEqual(32 << 20);
  });

  it.each(decoders)('%s: truncation, trailing garbage and a corrupt frame are errors naming the frame and its offset', async (backend) => {
    const z = await zstdOf(TEXT.subarray(0, 2 << 20), { frameSize: 256 << 10 }); // 8 frames
    const table = (await SeekTable.read(bufferReader(z)))!;
    const f5 = table.frame(5);
    const t = await failure(collect(zstdDecompress(chunks(z.subarray(0, f5.compressedOffset + 100)), { backend })));
    expect(t.message).toMatch(new RegExp(`truncated input: zstd frame 5 starting at compressed offset ${f5.compressedOffset}`));
    const g = await failure(collect(zstdDecompress(chunks(Buffer.concat([z, Buffer.from('garbage!')])), { backend })));
    expect(g.message).toMatch(new RegExp(`not a zstd frame.*`));
    expect(g.compressedOffset).toBe(z.length);
    const bad = Buffer.from(z);
    bad[f5.compressedOffset + (f5.compressedSize >> 1)] ^= 0xff;
    const c = await failure(collect(zstdDecompress(chunks(bad), { backend })));
    expect(c.message).toMatch(new RegExp(`^zstd frame 5 at compressed offset ${f5.compressedOffset}: `));
    expect(c.frame).toBe(5);
    expect(c.compressedOffset).toBe(f5.compressedOffset);
  });
});

describe('seekable writer', () => {
  it('writes the same bytes with 0, 1 and 4 threads', async () => {
    const one = await zstdOf(MIXED, { threads: 1 });
    expect((await zstdOf(MIXED, { threads: 4 })).equals(one)).toBe(true);
    expect((await zstdOf(MIXED, { threads: 0 })).equals(one)).toBe(true);
  });

  it.skipIf(compressors.length < 2)('every compression backend here writes the same bytes', async () => {
    const [first, ...others] = compressors;
    const ref = await zstdOf(MIXED, { backend: first });
    for (const backend of others) expect((await zstdOf(MIXED, { backend })).equals(ref)).toBe(true);
  });

  it('frames hold frameSize bytes each and the seek table checksums are XXH64 of each frame', async () => {
    const z = await zstdOf(MIXED, { frameSize: 1 << 20, threads: 2 });
    const table = (await SeekTable.read(bufferReader(z)))!;
    expect(table.frames).toBe(Math.ceil(MIXED.length / (1 << 20)));
    expect(table.decompressedSize).toBe(MIXED.length);
    expect(table.hasChecksums).toBe(true);
    for (let i = 0; i < table.frames; i++) {
      const f = table.frame(i);
      expect(f.decompressedSize).toBe(Math.min(1 << 20, MIXED.length - f.decompressedOffset));
      const content = MIXED.subarray(f.decompressedOffset, f.decompressedOffset + f.decompressedSize);
      expect(new Xxh64().update(content).low32()).toBe(f.checksum);
    }
    // The last 4 bytes are the seekable magic; the table frame is a skippable frame.
    expect(z.readUInt32LE(z.length - 4)).toBe(0x8f92eab1);
    expect(z.readUInt32LE(table.compressedSize)).toBe(0x184d2a5e);
  });

  it('empty input is one empty frame and a seek table', async () => {
    const z = await collect(compressor('zstd', { threads: 1 })(chunks(Buffer.alloc(0))));
    expect(sniff(z)).toBe('zstd');
    expect(z.readUInt32LE(0)).toBe(0xfd2fb528);
    const d = run('zstd', ['-dc'], z);
    expect(d.status).toBe(0);
    expect(d.stdout.length).toBe(0);
    expect((await SeekTable.read(bufferReader(z)))!.frames).toBe(1);
    expect((await collect(zstdDecompress(chunks(z)))).length).toBe(0);
  });

  it('XXH64 matches the reference values and zstd checksums at every length', () => {
    expect(new Xxh64().digest()).toBe(0xef46db3751d8e999n);
    expect(new Xxh64().update(Buffer.from('abc')).digest()).toBe(0x44bc2cf5ad770999n);
    for (const n of [1, 3, 4, 7, 8, 31, 32, 33, 100, 4099]) {
      const d = randomBytes(n);
      const z = run('zstd', ['-q', '-c', '--check'], d).stdout;
      const h = new Xxh64();
      for (let p = 0; p < n; p += 5) h.update(d.subarray(p, p + 5));
      expect(h.low32()).toBe(z.readUInt32LE(z.length - 4));
    }
  });

  it('compressingSink: the create side writes through it, closes and aborts', async () => {
    for (const filter of ['gzip', 'zstd'] as const) {
      const got: Buffer[] = [];
      const calls: string[] = [];
      const downstream = {
        write: async (c: Buffer) => void got.push(c),
        close: async () => void calls.push('close'),
        abort: async () => void calls.push('abort'),
      };
      const sink = compressingSink(filter, downstream, { threads: 2, frameSize: 100000 });
      const data: Buffer[] = [];
      for (let i = 0; i < 2000; i++) {
        const header = Buffer.alloc(512, i & 0xff);
        const body = TEXT.subarray(i * 1000, i * 1000 + (i % 7) * 300);
        for (const c of [header, body]) {
          data.push(c);
          await sink.write(c);
        }
      }
      await sink.close();
      expect(calls).toEqual(['close']);
      expect((await collect(decompressor(filter)(chunks(Buffer.concat(got))))).equals(Buffer.concat(data))).toBe(true);

      const aborted = compressingSink(filter, downstream, { threads: 2 });
      await aborted.write(TEXT);
      await aborted.abort();
      expect(calls).toEqual(['close', 'abort']);
    }
  });
});

// ---- a real .tar.zst ----------------------------------------------------------------------------

describe('a seekable .tar.zst from a real tar', () => {
  const src = join(tmp, 'tree');
  mkdirSync(join(src, 'd/e'), { recursive: true });
  writeFileSync(join(src, 'random.bin'), RANDOM.subarray(0, 1_500_000));
  writeFileSync(join(src, 'd/text.txt'), TEXT.subarray(0, 2_000_001));
  writeFileSync(join(src, 'd/e/empty'), '');
  writeFileSync(join(src, 'small'), 'hello\n');
  symlinkSync('d/text.txt', join(src, 'link'));
  const tar = execFileSync('tar', ['-cf', '-', '-C', src, '.'], { maxBuffer: 1 << 30 });
  const archive = join(tmp, 'tree.tar.zst');
  let table: SeekTable;

  it('is written, and zstd -t, zstd -l and zstd -dc accept it', async () => {
    const z = await zstdOf(tar, { frameSize: 256 << 10 });
    writeFileSync(archive, z);
    expect(run('zstd', ['-t', '-q', archive]).status).toBe(0);
    const l = run('zstd', ['-lv', archive]);
    expect(l.status).toBe(0);
    expect(l.stdout.toString()).toMatch(/Zstandard Frames: (\d+)/);
    expect(Number(/Zstandard Frames: (\d+)/.exec(l.stdout.toString())![1])).toBe(Math.ceil(tar.length / (256 << 10)));
    expect(l.stdout.toString()).toMatch(/Skippable Frames: 1/);
    expect(run('zstd', ['-dc', archive]).stdout.equals(tar)).toBe(true);
    table = (await SeekTable.read(bufferReader(z)))!;
    expect(table.decompressedSize).toBe(tar.length);
  });

  it.each([
    ['GNU tar --zstd', 'tar', ['--zstd', '-xf']],
    ['GNU tar (detects zstd)', 'tar', ['-xf']],
    ['bsdtar', 'bsdtar', ['-xf']],
  ])('%s extracts it to an identical tree', (_name, cmd, args) => {
    const out = mkdtempSync(join(tmp, 'x-'));
    const r = run(cmd, [...args, archive, '-C', out]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const diff = run('diff', ['-r', '--no-dereference', src, out]);
    expect(diff.stdout.toString() + diff.stderr).toBe('');
    expect(diff.status).toBe(0);
  });

  const sevenZipReadsZstd = / zstd /.test(run('7z', ['i']).stdout?.toString() ?? '');
  it.skipIf(!sevenZipReadsZstd)('7-Zip tests it and decodes it to the original tar bytes', () => {
    expect(run('7z', ['t', archive]).status).toBe(0);
    expect(run('7z', ['x', '-so', archive]).stdout.equals(tar)).toBe(true);
  });

  it.each(decoders)('portarc (%s) decodes it to the original tar bytes', async (backend) => {
    const z = Buffer.from(execFileSync('cat', [archive], { maxBuffer: 1 << 30 }));
    expect((await collect(zstdDecompress(chunks(z), { backend }))).equals(tar)).toBe(true);
  });
});

// ---- random access ------------------------------------------------------------------------------

describe('random access through the seek table', () => {
  const data = MIXED; // 4 MiB: 64 frames of 64 KiB
  let z: Buffer;

  function counting(b: Buffer): RandomAccessReader & { reads: [number, number][] } {
    const inner = bufferReader(b);
    const reads: [number, number][] = [];
    return { reads, size: inner.size, read: (p, n) => (reads.push([p, n]), inner.read(p, n)) };
  }

  it('maps offsets to frames', async () => {
    z = await zstdOf(data, { frameSize: 64 << 10 });
    const table = (await SeekTable.read(bufferReader(z)))!;
    expect(table.frames).toBe(64);
    expect(table.locate(0)).toEqual({ frame: 0, compressedOffset: 0, inFrameOffset: 0 });
    const at = table.locate(1_000_000);
    expect(at.frame).toBe(Math.floor(1_000_000 / 65536));
    expect(at.inFrameOffset).toBe(1_000_000 % 65536);
    expect(at.compressedOffset).toBe(table.frame(at.frame).compressedOffset);
    expect(() => table.locate(data.length)).toThrow(RangeError);
    expect(await SeekTable.read(bufferReader(run('zstd', ['-q', '-c'], data).stdout))).toBeUndefined();
  });

  it.each(decoders)('%s: a range from the middle reads only the frames that hold it', async (backend) => {
    const r = counting(z);
    const table = (await SeekTable.read(r))!;
    expect(r.reads.length).toBe(2); // footer, then the table
    r.reads.length = 0;
    const start = 1_000_000, length = 200_000;
    const got = await collect(readRange(r, table, start, length, { backend }));
    expect(got.equals(data.subarray(start, start + length))).toBe(true);
    const frames = [15, 16, 17, 18]; // 1_000_000 / 65536 = 15.3 ... 1_199_999 / 65536 = 18.3
    expect(r.reads).toEqual(frames.map((i) => [table.frame(i).compressedOffset, table.frame(i).compressedSize]));
    // Ranges at the edges, and past the end.
    expect((await collect(readRange(r, table, 0, 10, { backend }))).equals(data.subarray(0, 10))).toBe(true);
    expect((await collect(readRange(r, table, data.length - 5, 100, { backend }))).equals(data.subarray(data.length - 5))).toBe(true);
    expect((await collect(readRange(r, table, data.length, 100, { backend }))).length).toBe(0);
  });

  it.each(decoders)('%s: a corrupt frame is reported with its index and compressed offset', async (backend) => {
    const table = (await SeekTable.read(bufferReader(z)))!;
    const f = table.frame(20);
    const bad = Buffer.from(z);
    bad[f.compressedOffset + (f.compressedSize >> 1)] ^= 0x5a;
    bad[f.compressedOffset + (f.compressedSize >> 1) + 1] ^= 0xa5;
    const e = await failure(collect(readRange(bufferReader(bad), table, f.decompressedOffset + 10, 100, { backend })));
    expect(e.message).toMatch(new RegExp(`^zstd frame 20 at compressed offset ${f.compressedOffset}: `));
    expect(e.frame).toBe(20);
    expect(e.compressedOffset).toBe(f.compressedOffset);
    // Frames around it still read.
    const ok = await collect(readRange(bufferReader(bad), table, table.frame(19).decompressedOffset, 65536, { backend }));
    expect(ok.equals(data.subarray(19 * 65536, 20 * 65536))).toBe(true);
    // A seek table checksum that does not match its frame.
    const badSum = Buffer.from(z);
    const entry7 = table.compressedSize + 8 + 7 * 12;
    badSum.writeUInt32LE((badSum.readUInt32LE(entry7 + 8) ^ 1) >>> 0, entry7 + 8);
    const t = (await SeekTable.read(bufferReader(badSum)))!;
    const s = await failure(collect(readRange(bufferReader(badSum), t, 7 * 65536, 1, { backend })));
    expect(s.message).toMatch(new RegExp(`^zstd frame 7 at compressed offset ${t.frame(7).compressedOffset}: checksum mismatch`));
  });

  it('a damaged seek table is an error, not a wrong answer', async () => {
    const bad = Buffer.from(z);
    bad.writeUInt32LE(bad.readUInt32LE(z.length - 9) + 1, z.length - 9); // Number_Of_Frames
    await expect(SeekTable.read(bufferReader(bad))).rejects.toThrow(/zstd seek table/);
  });
});
