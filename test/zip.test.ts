// The ZIP container (spec/zip-profile.md): portarc's writer and both readers on entries built in
// memory and on a real tree, against the real tools both ways (Info-ZIP zip/unzip/zipinfo, bsdtar,
// 7-Zip, Python's zipfile), damaged archives, and zip64 (over 65535 entries; over 4 GiB in zip64-big.test.ts, `npm run test:heavy`).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { zstdBackends } from '../src/compress/index.js';
import { scan } from '../src/fs/scan.js';
import { Restorer } from '../src/fs/restore.js';
import { fileSink } from '../src/io/sink.js';
import { ArchiveError, EntryError } from '../src/model/errors.js';
import { displayName, makeEntry, type Entry } from '../src/model/entry.js';
import { crc32, crc32Table } from '../src/zip/crc.js';
import { isZip } from '../src/zip/detect.js';
import { openZip } from '../src/zip/file-reader.js';
import { ZipStreamReader } from '../src/zip/stream-reader.js';
import { ZipWriter } from '../src/zip/writer.js';
import { BAD_NAME, LONG_PATH, buildTree, isRoot, sh, snapshot, tempDir, type Node } from './helpers/tree.js';
import { pieces, readFile, readStream, writeZip, type Item, type Read } from './helpers/zip.js';
import { portarc } from './helpers/cli.js';

interface ToolRun {
  status: number;
  stdout: string;
  stderr: string;
}

function tool(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): ToolRun {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, maxBuffer: 1 << 28 });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout.toString('latin1'), stderr: r.stderr.toString('latin1') };
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function* gen(parts: Buffer[]): AsyncGenerator<Buffer> {
  for (const p of parts) yield p;
}

/** Whatever the reader, an ArchiveError that names the entry and an offset. */
async function expectArchiveError(p: Promise<unknown>, entry: string | undefined, pattern: RegExp): Promise<ArchiveError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'an error was raised').toBeInstanceOf(ArchiveError);
  const e = err as ArchiveError;
  expect(e.message).toMatch(pattern);
  expect(e.details.entry).toBe(entry);
  expect(typeof e.details.offset).toBe('number');
  return e;
}

async function drainFile(path: string): Promise<void> {
  await readFile(path);
}

async function drainStream(bytes: Buffer): Promise<void> {
  await readStream(bytes);
}

const ACL_ACCESS: Entry['aclAccess'] = [
  { tag: 'user_obj', perm: 7 },
  { tag: 'user', id: 1234, name: 'alice', perm: 5 },
  { tag: 'group_obj', perm: 5 },
  { tag: 'mask', perm: 5 },
  { tag: 'other', perm: 0 },
];

/** Every entry type and every piece of metadata, including the awkward values. */
function fullSet(): Item[] {
  const big = Buffer.alloc(3 << 20);
  for (let i = 0; i < big.length; i += 4096) big.writeUInt32LE(i * 2654435761 >>> 0, i);
  const longPath = 'd/' + 'x'.repeat(150) + '/' + 'y'.repeat(146);
  return [
    [makeEntry({ path: 'd', type: 'directory', mode: 0o755, mtimeNs: 1_700_000_000_123_456_789n, atimeNs: 1_700_000_001_000_000_001n })],
    [
      makeEntry({
        path: 'd/f.txt',
        type: 'file',
        size: 5,
        mode: 0o4751,
        uid: 3_000_000,
        gid: 42,
        uname: 'alice',
        gname: 'staff',
        mtimeNs: -86400_500_000_000n,
        atimeNs: 5n,
        ctimeNs: 1_600_000_000_999_999_999n,
        xattrs: new Map([
          ['user.bin', Buffer.from([0, 0xff, 1])],
          ['user.a=b%', Buffer.from('v')],
          ['user.empty', Buffer.alloc(0)],
        ]),
      }),
      Buffer.from('hello'),
    ],
    [makeEntry({ path: longPath, type: 'file', size: 3, selinux: 'system_u:object_r:tmp_t:s0', mtimeNs: 4_102_444_800_000_000_001n }), Buffer.from('abc')],
    [makeEntry({ path: 'd/big.bin', type: 'file', size: big.length, mtimeNs: 1n }), gen([big.subarray(0, 1000), big.subarray(1000)])],
    [makeEntry({ path: 'd/empty', type: 'file', size: 0 }), Buffer.alloc(0)],
    [makeEntry({ path: 'd/l', type: 'symlink', linkTarget: Buffer.from('f.txt'), mode: 0o777, uid: 7, gid: 8 })],
    [makeEntry({ path: 'd/h', type: 'hardlink', linkTarget: Buffer.from('d/f.txt'), mode: 0o4751 })],
    [makeEntry({ path: Buffer.from([0x64, 0x2f, 0x6e, 0xff, 0xfe]), type: 'fifo', mode: 0o640 })],
    [makeEntry({ path: 'd/ünï€.txt', type: 'file', size: 2 }), Buffer.from('ok')],
    [makeEntry({ path: 'd/c', type: 'chardev', devMajor: 1, devMinor: 3, mode: 0o666 })],
    [makeEntry({ path: 'd/b', type: 'blockdev', devMajor: 259, devMinor: 1_048_575, mode: 0o660 })],
    [makeEntry({ path: 'd/acl', type: 'directory', aclAccess: ACL_ACCESS, aclDefault: [{ tag: 'user_obj', perm: 7 }, { tag: 'group_obj', perm: 5 }, { tag: 'other', perm: 0 }] })],
    [
      makeEntry({ path: 'd/sparse', type: 'file', size: 3 << 20, sparse: [{ offset: 0, length: 4 }, { offset: 2 << 20, length: 5 }, { offset: 3 << 20, length: 0 }] }),
      gen([Buffer.from('abcd'), Buffer.from('efghi')]),
    ],
  ];
}

/** Content a reader gives for an item: the body bytes (for sparse entries, the runs back to back). */
async function bodyOf(item: Item): Promise<Buffer> {
  const [e, body] = item;
  if (e.type !== 'file' || !body) return Buffer.alloc(0);
  if (Buffer.isBuffer(body)) return body;
  const parts: Buffer[] = [];
  for await (const p of body) parts.push(p);
  return Buffer.concat(parts);
}

function expectSameEntry(got: Read, want: Entry, data: Buffer): void {
  const e = got.entry;
  const label = want.name;
  expect(e.path, label).toEqual(want.path);
  expect(e.type, label).toBe(want.type);
  expect(e.mode, label).toBe(want.mode);
  expect([e.uid, e.gid, e.uname, e.gname], label).toEqual([want.uid, want.gid, want.uname, want.gname]);
  expect([e.mtimeNs, e.atimeNs, e.ctimeNs], label).toEqual([want.mtimeNs, want.atimeNs, want.ctimeNs]);
  expect(e.xattrs, label).toEqual(want.xattrs);
  expect(e.selinux, label).toBe(want.selinux);
  expect(e.aclAccess, label).toEqual(want.aclAccess);
  expect(e.aclDefault, label).toEqual(want.aclDefault);
  expect(e.linkTarget, label).toEqual(want.linkTarget);
  expect([e.devMajor, e.devMinor], label).toEqual([want.devMajor, want.devMinor]);
  expect(e.sparse, label).toEqual(want.sparse);
  expect(e.size, label).toBe(want.type === 'file' ? want.size : 0);
  expect(e.warnings, label).toEqual([]);
  expect(sha(got.data), label).toBe(sha(data));
}

describe('zip writer and readers', () => {
  const dir = tempDir('zip-codec');

  it('CRC-32: the JS table matches zlib', () => {
    const b = Buffer.from(Array.from({ length: 10_000 }, (_, i) => (i * 31) & 0xff));
    expect(crc32Table(b)).toBe(crc32(b));
    expect(crc32Table(b.subarray(5000), crc32Table(b.subarray(0, 5000)))).toBe(crc32(b));
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
  });

  it('round-trips every field through the streaming and the random-access reader', async () => {
    const items = fullSet();
    const datas = await Promise.all(items.map(bodyOf));
    const { bytes, offsets, warnings } = await writeZip(fullSet());
    expect(warnings).toEqual([]);
    expect(isZip(bytes)).toBe(true);
    const path = join(dir, 'full.zip');
    writeFileSync(path, bytes);
    const stream = await readStream(bytes);
    const file = await readFile(path);
    for (const side of [stream, file]) {
      expect(side.info.version).toBe('1.0');
      expect(side.info.creator).toBe('test');
      expect(side.info.warnings).toEqual([]);
      expect(side.members.map((m) => m.entry.name)).toEqual(items.map(([e]) => e.name));
      expect(side.members.map((m) => m.offset)).toEqual(offsets);
      side.members.forEach((m, i) => expectSameEntry(m, items[i]![0], datas[i]!));
    }
    // Random access to one entry by its offset and by its path.
    const zf = await openZip(path);
    const one = await zf.at(offsets[2]!);
    expect(one!.entry.name).toBe(items[2]![0].name);
    const byName = await zf.find('d/ünï€.txt');
    const parts: Buffer[] = [];
    for await (const p of byName!.open()) parts.push(p);
    expect(Buffer.concat(parts).toString()).toBe('ok');
    await zf.close();
  });

  it('writes the spec §9 example byte for byte', async () => {
    const e = makeEntry({ path: 'a.txt', type: 'file', size: 3, mode: 0o644, uid: 1000, gid: 1000, uname: 'alice', gname: 'alice', mtimeNs: 1_700_000_000_500_000_000n, xattrs: new Map([['user.k', Buffer.from([0, 0xff])]]) });
    const { bytes } = await writeZip([[e, Buffer.from('hi\n')]], { creator: 'portarc 0.1.0' });
    const want =
      '504b03040a0000000000aab16e577a7a6fed030000000300000005008f00612e747874555405000100f1536575780b00' +
      '0104e803000004e8030000786c0700053f030000a4815058680050525441010f2200000076657273696f6e3d312e300a' +
      '63726561746f723d706f727461726320302e312e300a0104000000a4810000020c00000000f15365000000000065cd1d' +
      '0505000000616c6963650605000000616c6963650c09000000757365722e6b0000ff68690a504b01023f030a00000000' +
      '00aab16e577a7a6fed0300000003000000050084000000000000000000a48100000000612e747874555405000100f153' +
      '6575780b000104e803000004e80300005058680050525441010f2200000076657273696f6e3d312e300a63726561746f' +
      '723d706f727461726320302e312e300a0104000000a4810000020c00000000f15365000000000065cd1d050500000061' +
      '6c6963650605000000616c6963650c09000000757365722e6b0000ff504b05060000000001000100b7000000b5000000' +
      '0000';
    expect(bytes.toString('hex')).toBe(want);
  });

  it('small files need no data descriptor; large streamed ones have one, and zip64 only when needed', async () => {
    const { bytes } = await writeZip(fullSet());
    const path = join(dir, 'layout.zip');
    writeFileSync(path, bytes);
    // Python reads the flags and extra fields as stored.
    // (Python decodes names without bit 11 as CP437: encoding back gives the raw bytes.)
    const r = tool('python3', ['-c', 'import zipfile,sys\nfor i in zipfile.ZipFile(sys.argv[1]).infolist(): print(i.filename.encode("utf-8" if i.flag_bits & 0x800 else "cp437").hex(), i.flag_bits, i.compress_type, i.create_system, i.external_attr >> 16)', path]);
    expect(r.status, r.stderr).toBe(0);
    const rows = new Map(r.stdout.trim().split('\n').map((l) => { const [n, ...v] = l.split(' '); return [Buffer.from(n!, 'hex').toString('latin1'), v.map(Number)]; }));
    expect(rows.get('d/f.txt')).toEqual([0, 0, 3, 0o104751]); // too small to deflate: stored
    expect(rows.get('d/big.bin')).toEqual([8, 8, 3, 0o100644]); // streamed: bit 3, deflate
    expect(rows.get('d/sparse')).toEqual([8, 8, 3, 0o100644]); // 3 MiB dense
    expect(rows.get('d/l')).toEqual([0, 0, 3, 0o120777]);
    expect(rows.get('d/')).toEqual([0, 0, 3, 0o40755]);
    expect(rows.get('d/c')).toEqual([0, 0, 3, 0o100666]); // devices look like empty files
    expect(rows.get(Buffer.from('d/ünï€.txt').toString('latin1'))).toEqual([2048, 0, 3, 0o100644]); // UTF-8: bit 11
    expect(rows.get(Buffer.from([0x64, 0x2f, 0x6e, 0xff, 0xfe]).toString('latin1'))).toEqual([0, 0, 3, 0o100640]); // raw bytes, no bit 11
    // No zip64 anywhere in a small archive.
    expect(bytes.includes(Buffer.from([0x50, 0x4b, 0x06, 0x06]))).toBe(false);
  });

  it('the DOS date and time do not depend on TZ', async () => {
    const make = () => writeZip([[makeEntry({ path: 'f', type: 'file', size: 1, mtimeNs: 1_700_000_000_000_000_000n }), Buffer.from('x')]]);
    const old = process.env.TZ;
    try {
      process.env.TZ = 'UTC';
      const a = (await make()).bytes;
      process.env.TZ = 'Pacific/Kiritimati';
      const b = (await make()).bytes;
      expect(b).toEqual(a);
      // 2023-11-14 22:13:20 UTC
      expect(a.readUInt16LE(12)).toBe(((2023 - 1980) << 9) | (11 << 5) | 14);
      expect(a.readUInt16LE(10)).toBe((22 << 11) | (13 << 5) | 10);
    } finally {
      if (old === undefined) delete process.env.TZ;
      else process.env.TZ = old;
    }
  });

  it('store method; a body that grows is cut with a warning, one that shrinks or fails is an EntryError', async () => {
    const items: Item[] = [
      [makeEntry({ path: 'long', type: 'file', size: 2 }), Buffer.from('abcdef')],
      [makeEntry({ path: 'streamed', type: 'file', size: 2 << 20 }), gen([Buffer.alloc(2 << 20, 0x61)])],
    ];
    const { bytes, warnings } = await writeZip(items, { method: 'store' });
    expect(warnings).toEqual(['long: file changed as we read it (6 bytes read, 2 expected); archived the first 2']);
    const path = join(dir, 'store.zip');
    writeFileSync(path, bytes);
    for (const side of [await readStream(bytes), await readFile(path)]) {
      expect(side.members.map((m) => m.data.length)).toEqual([2, 2 << 20]);
      expect(side.members[0]!.data.toString('latin1')).toBe('ab');
    }
    expect(tool('unzip', ['-tq', path]).status).toBe(0);
    // Never zeros in place of content: small (buffered) and streamed members alike.
    const failing = (n: number) =>
      (async function* () {
        yield Buffer.alloc(n, 0x61);
        throw Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO', syscall: 'read' });
      })();
    const cases: [Item, RegExp][] = [
      [[makeEntry({ path: 'short', type: 'file', size: 10 }), Buffer.from('abc')], /^short: cannot read: file shrank by 7 bytes while it was read \(3 of 10 bytes\)$/],
      [[makeEntry({ path: 'failing', type: 'file', size: 5 }), failing(3)], /^failing: cannot read: input\/output error \(EIO\) after 3 of 5 bytes$/],
      [[makeEntry({ path: 'big', type: 'file', size: 3 << 20 }), failing(2 << 20)], /^big: cannot read: input\/output error \(EIO\) after 2097152 of 3145728 bytes$/],
    ];
    for (const [item, message] of cases) {
      const err = await writeZip([item], { method: 'store', bufferLimit: 1 << 20 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(EntryError);
      expect((err as EntryError).code).toBe('PORTARC_ENTRY_FAILED');
      expect((err as Error).message).toMatch(message);
    }
  });

  it('a stored entry with a descriptor and no size (other writers) is found by its signed descriptor', async () => {
    // Make one: store, streamed, then strip portarc's PX size record by writing through a
    // writer with a tiny bufferLimit and flipping the record type to an unknown compat type.
    const data = Buffer.concat([Buffer.from('PK\x07\x08 decoy '), Buffer.alloc(70_000, 0x62)]);
    const { bytes } = await writeZip([[makeEntry({ path: 's', type: 'file', size: data.length }), gen([data])]], { method: 'store', bufferLimit: 10 });
    const sizeRec = Buffer.from([0x0e, 8, 0, 0, 0]);
    const at = bytes.indexOf(sizeRec);
    expect(at).toBeGreaterThan(0);
    bytes[at] = 0x7e; // unknown compat record: skipped by rule, a notice (not a warning: spec §6.5)
    const { members } = await readStream(bytes);
    expect(members[0]!.data).toEqual(data);
    expect(members[0]!.entry.notices).toEqual(['unknown portarc extra record type 0x7e ignored']);
    expect(members[0]!.entry.warnings).toEqual([]);
  });

  it('metadata beyond one header (64 KiB) goes to an overflow member and comes back whole', async () => {
    const xattrs = new Map<string, Buffer>();
    for (let i = 0; i < 3; i++) xattrs.set(`user.big${i}`, Buffer.alloc(65536, i + 1));
    xattrs.set('user.small', Buffer.from('s'));
    const e = makeEntry({ path: 'x/fat', type: 'file', size: 4, xattrs, selinux: 'u:r:t:s0' });
    const items: Item[] = [[e, Buffer.from('data')], [makeEntry({ path: 'x/next', type: 'file', size: 1 }), Buffer.from('n')]];
    const { bytes } = await writeZip(items);
    const path = join(dir, 'overflow.zip');
    writeFileSync(path, bytes);
    for (const side of [await readStream(bytes), await readFile(path)]) {
      expect(side.members.map((m) => m.entry.name)).toEqual(['x/fat', 'x/next']);
      const got = side.members[0]!.entry;
      expect(got.xattrs).toEqual(xattrs);
      expect(got.selinux).toBe('u:r:t:s0');
      expect(got.warnings).toEqual([]);
      expect(side.members[0]!.data.toString()).toBe('data');
    }
    // Other tools see the overflow member as one more (hidden) file, and accept the archive.
    const t = tool('unzip', ['-t', path]);
    expect(t.status, t.stdout).toBe(0);
    expect(t.stdout).toContain('.portarc/overflow/1');
    expect(tool('zipinfo', ['-v', path]).stdout).not.toMatch(/error/i);
  });

  it('names from other writers: Unicode path extra (only with a matching CRC), CP437, unknown extra fields', async () => {
    const path = join(dir, 'names.zip');
    const r = tool('python3', ['-c', `
import zipfile, struct, sys, zlib
class Raw(zipfile.ZipInfo):
    def _encodeFilenameFlags(self):
        return self.filename.encode('latin1'), self.flag_bits
z = zipfile.ZipFile(sys.argv[1], 'w')
def add(raw, system, extra):
    zi = Raw(raw.decode('latin1'), (2020, 1, 1, 0, 0, 0))
    zi.create_system = system
    zi.external_attr = (0o100640 << 16) if system == 3 else 0x01
    zi.extra = extra
    z.writestr(zi, b'x')
up = lambda raw, crc, utf8: struct.pack('<HHBI', 0x7075, 5 + len(utf8), 1, crc) + utf8
add(b'caf\\xe9', 3, up(b'caf\\xe9', zlib.crc32(b'caf\\xe9'), 'café'.encode()))
add(b'bad\\xe9', 3, up(b'bad\\xe9', 1234, 'wrong'.encode()))
add(b'dos\\x81', 0, b'')
add(b'unk', 3, struct.pack('<HHI', 0x1234, 4, 7) + struct.pack('<HHI', 0x1234, 4, 8))
z.close()
`, path]);
    expect(r.status, r.stderr).toBe(0);
    const file = await readFile(path);
    expect(file.members.map((m) => m.entry.path)).toEqual([Buffer.from('café'), Buffer.from('bad\xe9', 'latin1'), Buffer.from('dosü'), Buffer.from('unk')]);
    expect(file.members.map((m) => m.entry.mode.toString(8))).toEqual(['640', '640', '444', '640']);
    expect(file.members[3]!.entry.notices).toEqual(['unknown extra field 0x1234 ignored']);
    expect(file.members[3]!.entry.warnings).toEqual([]);
    const stream = await readStream(readFileSync(path));
    // A stream does not know the host (central only): the DOS name stays raw bytes.
    expect(stream.members.map((m) => m.entry.path)).toEqual([Buffer.from('café'), Buffer.from('bad\xe9', 'latin1'), Buffer.from('dos\x81', 'latin1'), Buffer.from('unk')]);
    expect(stream.members[3]!.entry.notices).toEqual(['unknown extra field 0x1234 ignored']);
    expect(stream.members[3]!.entry.warnings).toEqual([]);
  });

  it('an empty archive is just the end record', async () => {
    const { bytes } = await writeZip([]);
    expect(bytes.length).toBe(22);
    expect(isZip(bytes)).toBe(true);
    const path = join(dir, 'empty.zip');
    writeFileSync(path, bytes);
    expect((await readFile(path)).members).toEqual([]);
    expect((await readStream(bytes)).members).toEqual([]);
    // unzip warns "zipfile is empty" and exits 1 (its own warning status), 7-Zip lists 0 files.
    const u = tool('unzip', ['-l', path]);
    expect([u.status, u.stderr]).toEqual([1, `warning [${path}]:  zipfile is empty\n`]);
    expect(tool('7z', ['l', path]).stdout).toMatch(/\s0 files/);
  });

  it('an archive comment and bytes prepended to the archive are handled', async () => {
    const { bytes } = await writeZip([[makeEntry({ path: 'a', type: 'file', size: 1 }), Buffer.from('a')]]);
    const comment = Buffer.from('a comment with PK\x05\x06 inside');
    const withComment = Buffer.concat([bytes.subarray(0, bytes.length - 2), Buffer.from([comment.length, 0]), comment]);
    const prefixed = Buffer.concat([Buffer.from('#!/bin/sh\nexit 0\n'), withComment]);
    const path = join(dir, 'prefixed.zip');
    writeFileSync(path, prefixed);
    const zf = await openZip(path);
    expect(zf.comment).toEqual(comment);
    expect(zf.info.warnings.join()).toMatch(/17 extra bytes before the archive/);
    await zf.close();
    const { members } = await readFile(path);
    expect(members[0]!.data.toString()).toBe('a');
  });
});

describe('a real tree through zip and back', () => {
  const dir = tempDir('zip-tree');
  const src = buildTree(dir);
  const before = snapshot(src);
  const beforeSeconds = snapshot(src, { mtimeGrain: 1_000_000_000n });
  const archive = join(dir, 'tree.zip');

  async function create(): Promise<void> {
    const sink = await fileSink(archive);
    const w = new ZipWriter(sink, { creator: 'portarc test' });
    for await (const { entry, body } of scan(['.'], { cwd: src })) {
      const r = await w.add(entry, body?.());
      expect(r.warnings).toEqual([]);
    }
    await w.finish();
    await sink.close();
  }

  it('scan → ZipWriter → openZip → Restorer gives the identical tree', async () => {
    await create();
    const out = join(dir, 'out-file');
    mkdirSync(out);
    const restorer = new Restorer(out, { preserve: true });
    const zf = await openZip(archive);
    for await (const { entry, open } of zf.entries()) {
      expect(entry.warnings).toEqual([]);
      await restorer.restore(entry, open());
    }
    await zf.close();
    await restorer.finish();
    expect(restorer.losses).toEqual([]);
    expect(snapshot(out)).toEqual(before);
  });

  it('the same archive through the streaming reader gives the identical tree', async () => {
    const out = join(dir, 'out-stream');
    mkdirSync(out);
    const restorer = new Restorer(out, { preserve: true });
    const reader = new ZipStreamReader(pieces(readFileSync(archive), 65536), { archiveName: archive });
    for await (const { entry, body } of reader) await restorer.restore(entry, body);
    await restorer.finish();
    expect(reader.info.warnings).toEqual([]);
    expect(restorer.losses).toEqual([]);
    expect(snapshot(out)).toEqual(before);
  });

  /**
   * What a tool without portarc's extra field restores: names, contents, modes, symlinks, and
   * file mtimes to the second (from the UT field). Hardlinks, fifos and devices have no standard
   * ZIP form and become empty regular files with their permission bits (spec §4.2); d/hard2 so
   * loses its content there. d/old (before 1970) has no UT time (spec §3.1): tools fall back to
   * the DOS time, clamped to 1980-01-01 00:00:00.
   */
  function visible(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [k, n] of Object.entries(beforeSeconds)) {
      const mtime = k === 'd/old' ? '315532800000000000' : n.mtimeNs;
      if (['fifo', 'chardev', 'blockdev'].includes(n.type) || k === 'd/hard2') {
        out[k] = { type: 'file', mode: n.mode, sha256: sha(Buffer.alloc(0)), mtime };
      } else if (n.type === 'file') out[k] = { type: 'file', mode: n.mode, sha256: n.sha256, mtime };
      else if (n.type === 'symlink') out[k] = { type: 'symlink', link: n.link };
      else out[k] = { type: n.type, mode: n.mode };
    }
    return out;
  }

  function toolSnapshot(out: string): Record<string, unknown> {
    const got = snapshot(out, { owners: false, xattrs: false, mtimeGrain: 1_000_000_000n });
    const v: Record<string, unknown> = {};
    for (const [k, n] of Object.entries(got)) {
      v[k] =
        n.type === 'symlink'
          ? { type: 'symlink', link: n.link }
          : n.type === 'file'
            ? { type: 'file', mode: n.mode, sha256: n.sha256, mtime: n.mtimeNs }
            : { type: n.type, mode: n.mode };
    }
    return v;
  }

  it('unzip extracts it: names, contents, modes and symlinks (setuid kept with -K)', async () => {
    const out = join(dir, 'unzip-x');
    mkdirSync(out);
    const r = tool('unzip', ['-q', '-K', archive, '-d', out]);
    expect(r.status, r.stderr + r.stdout).toBe(0);
    const want = visible();
    // unzip 6.00 (Debian) drops the byte 0xff from names stored without the UTF-8 flag
    // ("bad-\xff\xfe.bin" is extracted as "bad-\xfe.bin"): measured, see spec §4.1.
    const bad = 'hex:' + Buffer.concat([Buffer.from('d/'), BAD_NAME]).toString('hex');
    const mangled = 'hex:' + Buffer.from('d/bad-\xfe.bin', 'latin1').toString('hex');
    want[mangled] = want[bad];
    delete want[bad];
    expect(toolSnapshot(out)).toEqual(want);
  });

  it('bsdtar extracts it: names, contents, modes and symlinks', () => {
    const out = join(dir, 'bsdtar-x');
    mkdirSync(out);
    const r = tool('bsdtar', ['-xpf', archive, '-C', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(toolSnapshot(out)).toEqual(visible());
  });

  it('bsdtar extracts it from a pipe too (streaming: modes and symlinks from the local "xl" field)', () => {
    const out = join(dir, 'bsdtar-pipe');
    mkdirSync(out);
    const r = tool('sh', ['-c', 'cat "$1" | bsdtar -xpf - -C "$0"', out, archive]);
    expect(r.status, r.stderr).toBe(0);
    expect(toolSnapshot(out)).toEqual(visible());
  });

  it('7-Zip lists, tests and extracts it', () => {
    const l = tool('7z', ['l', archive]);
    expect(l.status, l.stdout).toBe(0);
    expect(l.stdout).toContain(LONG_PATH);
    const t = tool('7z', ['t', archive]);
    expect(t.status, t.stdout).toBe(0);
    expect(t.stdout).toContain('Everything is Ok');
    const out = join(dir, '7z-x');
    // -snld: see interop.test.ts (7-Zip refuses ../ symlink targets otherwise).
    const x = tool('sh', ['-c', 'umask 022 && exec 7z x -y -snld "-o$0" "$1"', out, archive]);
    expect(x.status, x.stdout + x.stderr).toBe(0);
    // 7-Zip 26.02 applies the umask and drops setuid, setgid and sticky bits (as a non-root
    // extraction would); measured with umask 0 too, where 0775 and 0664 come out unchanged.
    const want = visible();
    for (const n of Object.values(want) as Array<{ mode?: string }>) {
      if (n.mode) n.mode = (parseInt(n.mode, 8) & 0o755).toString(8);
    }
    expect(toolSnapshot(out)).toEqual(want);
  });

  it('zipinfo -v shows every extra field well formed; Python testzip finds no bad CRC', () => {
    const z = tool('zipinfo', ['-v', archive]);
    expect(z.status).toBe(0);
    expect(z.stdout).not.toMatch(/error|warning/i);
    expect(z.stdout).toContain('A subfield with ID 0x5850 (unknown)');
    expect(z.stdout).toContain('Unix UID/GID (any size)');
    const p = tool('python3', ['-c', 'import zipfile,sys; print(zipfile.ZipFile(sys.argv[1]).testzip())', archive]);
    expect(p.stdout.trim()).toBe('None');
  });
});

describe('portarc reads what the other tools write', () => {
  const dir = tempDir('zip-foreign');
  const src = join(dir, 'src');
  mkdirSync(src);
  sh(
    `mkdir -p sub && printf 'hello\\n' > a.txt && chmod 0640 a.txt && head -c 300000 /dev/urandom > sub/r.bin && chmod 0751 sub/r.bin
     ln -s a.txt ln && printf 'utf8' > 'ünï€.txt' && printf '' > empty && touch -d @1600000000 a.txt`,
    src,
  );
  const files: Record<string, { mode: string; sha: string }> = {};
  for (const f of ['a.txt', 'sub/r.bin', 'ünï€.txt', 'empty']) {
    files[f] = { mode: (statSync(join(src, f)).mode & 0o7777).toString(8), sha: sha(readFileSync(join(src, f))) };
  }

  async function check(zip: string, opts: { symlinks: boolean; prefix?: string }): Promise<void> {
    const pre = opts.prefix ?? '';
    for (const side of [await readFile(zip), await readStream(readFileSync(zip))]) {
      const byName = new Map(side.members.map((m) => [m.entry.name, m]));
      for (const [f, want] of Object.entries(files)) {
        const m = byName.get(pre + f);
        expect(m, `${zip}: ${f}`).toBeDefined();
        expect(sha(m!.data), f).toBe(want.sha);
      }
      expect(byName.get(pre + 'a.txt')!.entry.mtimeNs / 1_000_000_000n).toBe(1_600_000_000n);
    }
    // Modes and symlinks live in the central directory: the random-access reader has them.
    const { members } = await readFile(zip);
    const byName = new Map(members.map((m) => [m.entry.name, m]));
    for (const [f, want] of Object.entries(files)) {
      expect(byName.get(pre + f)!.entry.mode.toString(8), `${zip}: ${f}`).toBe(want.mode);
      expect(byName.get(pre + f)!.entry.warnings).toEqual([]);
    }
    if (opts.symlinks) {
      const ln = byName.get(pre + 'ln')!.entry;
      expect([ln.type, ln.linkTarget?.toString()]).toEqual(['symlink', 'a.txt']);
    }
    expect(byName.get(pre + 'sub')!.entry.type).toBe('directory');
  }

  it('Info-ZIP zip -y (symlinks), with and without -X, and -fz (zip64)', async () => {
    for (const flags of [['-y'], ['-y', '-X'], ['-y', '-fz']]) {
      const zip = join(dir, `zip${flags.join('')}.zip`);
      const r = tool('zip', ['-q', '-r', ...flags, zip, '.'], { cwd: src });
      expect(r.status, r.stderr).toBe(0);
      await check(zip, { symlinks: true });
    }
  });

  it('Info-ZIP from a pipe: the entries made otherwise than the central directory says are named, symlinks each', () => {
    // Once one entry was named as an example, whether or not it lost anything ("t", a directory
    // whose default mode was right), and the symlinks made as files went unnamed.
    const zip = join(dir, 'pipe.zip');
    expect(tool('zip', ['-q', '-r', '-y', zip, '.'], { cwd: src }).status).toBe(0);
    const out = join(dir, 'pipe-x');
    const r = portarc(['extract', '-f', '-', '-C', out], { input: readFileSync(zip) });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('1 entry was made as regular files, their type being only in the central directory, which a stream reaches last: "ln" (a symlink).');
    // 0640 and 0751 are not the default 0644; "sub" (0755) and "empty" (0644) are, and are not counted.
    expect(r.stderr).toMatch(/the Unix modes of 2 entries \(e\.g\. "(a\.txt|sub\/r\.bin)"\) are only in the central directory/);
    expect(readFileSync(join(out, 'ln'), 'utf8')).toBe('a.txt');
  });

  it('bsdtar --format=zip (streamed deflate with data descriptors)', async () => {
    const zip = join(dir, 'bsdtar.zip');
    expect(tool('bsdtar', ['--format=zip', '-cf', zip, '-C', src, '.']).status).toBe(0);
    await check(zip, { symlinks: true, prefix: './' });
  });

  it('convert from a pipe of a zip whose sizes come after the data (bsdtar, descriptors): every file whole, to tar and to zip', () => {
    // The stream reader gave such a file as 0 bytes until its data was read: convert wrote it
    // empty ("file changed as we read it", exit 1) and the new manifest vouched for the empty file.
    const zip = join(dir, 'bsdtar-pipe.zip');
    const t = join(dir, 'pipe-src');
    mkdirSync(join(t, 'd'), { recursive: true });
    writeFileSync(join(t, 'a.txt'), 'a line\n'.repeat(500));
    writeFileSync(join(t, 'd/b.bin'), Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7919) & 0xff)));
    writeFileSync(join(t, 'd/empty'), '');
    expect(tool('bsdtar', ['--format=zip', '-cf', zip, '-C', t, '.']).status).toBe(0);
    const want = spawnSync('bsdtar', ['-tvf', zip], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l.startsWith('-')).length;
    expect(want).toBeGreaterThan(2);
    for (const out of ['from-pipe.tar', 'from-pipe.zip']) {
      const dest = join(dir, out);
      const r = portarc(['convert', '-', dest], { input: readFileSync(zip) });
      expect(r.stderr).not.toMatch(/changed as we read it/);
      expect(r.status, r.stderr).toBe(0);
      expect(portarc(['verify', '-f', dest]).status).toBe(0);
      const x = join(dir, `${out}-x`);
      expect(portarc(['extract', '-f', dest, '-C', x]).status).toBe(0);
      const y = join(dir, `${out}-y`);
      mkdirSync(y);
      expect(tool('bsdtar', ['-xf', zip, '-C', y]).status).toBe(0);
      expect(spawnSync('diff', ['-r', '--no-dereference', y, x], { encoding: 'utf8' }).stdout).toBe('');
    }
  });

  it('bsdtar --format=zip with stored entries (descriptor, no size: found by scanning)', async () => {
    const zip = join(dir, 'bsdtar-store.zip');
    expect(tool('bsdtar', ['--format=zip', '--options', 'zip:compression=store', '-cf', zip, '-C', src, '.']).status).toBe(0);
    await check(zip, { symlinks: true, prefix: './' });
  });

  it('7z a -snl (NTFS times, Unix modes in the high attribute bits)', async () => {
    const zip = join(dir, '7z.zip');
    const r = tool('7z', ['a', '-snl', zip, '.'], { cwd: src });
    expect(r.status, r.stdout).toBe(0);
    await check(zip, { symlinks: true });
  });

  it("Python's zipfile with forced zip64", async () => {
    const zip = join(dir, 'py64.zip');
    const r = tool('python3', ['-c', `
import zipfile, os, sys
with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:
    for root, ds, fs in os.walk('.'):
        for d in ds:
            z.write(os.path.join(root, d))
        for f in fs:
            p = os.path.join(root, f)
            if os.path.islink(p): continue
            with open(p, 'rb') as s, z.open(zipfile.ZipInfo.from_file(p), 'w', force_zip64=True) as o: o.write(s.read())
`, zip], { cwd: src });
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(zip).includes(Buffer.from([1, 0, 16, 0]))).toBe(true); // a zip64 block with both sizes
    await check(zip, { symlinks: false, prefix: '' });
  });
});

describe('damaged archives give an ArchiveError naming the entry and the offset', () => {
  const dir = tempDir('zip-damage');
  const items = (): Item[] => [
    [makeEntry({ path: 'first.txt', type: 'file', size: 11 }), Buffer.from('first entry')],
    [makeEntry({ path: 'second.txt', type: 'file', size: 12 }), Buffer.from('second entry')],
  ];

  async function fresh(): Promise<{ bytes: Buffer; offsets: number[]; cd: number[] }> {
    const { bytes, offsets } = await writeZip(items(), { method: 'store' });
    const cd: number[] = [];
    for (let at = bytes.indexOf(Buffer.from('PK\x01\x02', 'latin1')); at >= 0; at = bytes.indexOf(Buffer.from('PK\x01\x02', 'latin1'), at + 4)) cd.push(at);
    return { bytes, offsets, cd };
  }

  function save(name: string, bytes: Buffer): string {
    const p = join(dir, name);
    writeFileSync(p, bytes);
    return p;
  }

  it('bad CRC', async () => {
    const { bytes, offsets } = await fresh();
    bytes[bytes.indexOf(Buffer.from('second entry')) + 3] ^= 1;
    const p = save('crc.zip', bytes);
    const e1 = await expectArchiveError(drainFile(p), 'second.txt', /CRC-32 mismatch/);
    expect(e1.details.offset).toBe(offsets[1]);
    const e2 = await expectArchiveError(drainStream(bytes), 'second.txt', /CRC-32 mismatch/);
    expect(e2.details.offset).toBe(offsets[1]);
    expect(e1.message).toContain(p);
  });

  it('bad CRC in a deflated, streamed (descriptor) entry', async () => {
    const data = Buffer.from(Array.from({ length: 3 << 20 }, (_, i) => (i * 7) & 0xff));
    const { bytes } = await writeZip([[makeEntry({ path: 'big', type: 'file', size: data.length }), gen([data])]]);
    const desc = bytes.lastIndexOf(Buffer.from('PK\x07\x08', 'latin1'));
    bytes[desc + 4] ^= 0xff; // the descriptor's CRC
    await expectArchiveError(drainStream(bytes), 'big', /CRC-32 mismatch: data descriptor says/);
    await expectArchiveError(drainFile(save('desc.zip', bytes)), 'big', /data descriptor and central directory disagree on the CRC-32/);
  });

  it('a size that lies (the zip bomb shape) is caught, not believed', async () => {
    const data = Buffer.alloc(200_000, 0x61);
    const { bytes, offsets } = await writeZip([[makeEntry({ path: 'bomb', type: 'file', size: data.length }), data]]);
    const cd = bytes.indexOf(Buffer.from('PK\x01\x02', 'latin1'));
    bytes.writeUInt32LE(1000, offsets[0]! + 22); // local uncompressed size
    bytes.writeUInt32LE(1000, cd + 24); // central uncompressed size
    await expectArchiveError(drainFile(save('bomb.zip', bytes)), 'bomb', /corrupt|size mismatch/);
    await expectArchiveError(drainStream(bytes), 'bomb', /corrupt|size mismatch/);
  });

  it('local and central headers that disagree', async () => {
    // The name in the local header.
    let { bytes, offsets } = await fresh();
    bytes[offsets[1]! + 30] = 0x53; // "second.txt" → "Second.txt"
    await expectArchiveError(drainFile(save('name.zip', bytes)), 'second.txt', /disagree on the name/);
    // The stream believes the local header until the central directory, which names it.
    await expectArchiveError(drainStream(bytes), 'second.txt', /disagree on the name/);
    // The CRC in the local header (and the data to match it, so the stream itself is consistent).
    ({ bytes, offsets } = await fresh());
    bytes.writeUInt32LE(0x12345678, offsets[0]! + 14);
    await expectArchiveError(drainFile(save('lcrc.zip', bytes)), 'first.txt', /disagree on the CRC-32/);
    // The method in the central header.
    const f = await fresh();
    f.bytes.writeUInt16LE(8, f.cd[0]! + 10);
    await expectArchiveError(drainFile(save('method.zip', f.bytes)), 'first.txt', /disagree on the compression method/);
    await expectArchiveError(drainStream(f.bytes), 'first.txt', /disagree on the compression method/);
    // The size in the central header.
    const g = await fresh();
    g.bytes.writeUInt32LE(13, g.cd[1]! + 24);
    await expectArchiveError(drainStream(g.bytes), 'second.txt', /disagree on the size/);
  });

  it('bad offsets: pointing at no local header, past EOF, overlapping', async () => {
    let f = await fresh();
    f.bytes.writeUInt32LE(f.offsets[1]! + 1, f.cd[1]! + 42);
    await expectArchiveError(drainFile(save('off1.zip', f.bytes)), 'second.txt', /no local header at offset/);
    f = await fresh();
    f.bytes.writeUInt32LE(0x7ffffff0, f.cd[1]! + 42);
    await expectArchiveError(openZip(save('off2.zip', f.bytes)), 'second.txt', /past the end/);
    f = await fresh();
    f.bytes.writeUInt32LE(f.offsets[0]!, f.cd[1]! + 42);
    await expectArchiveError(openZip(save('off3.zip', f.bytes)), 'first.txt', /shares its local header|overlaps/);
  });

  it('truncated archives', async () => {
    const { bytes, offsets } = await fresh();
    const dataAt = bytes.indexOf(Buffer.from('second entry'));
    for (const end of [offsets[1]! + 40, dataAt + 5]) {
      const cut = bytes.subarray(0, end);
      const e1 = await expectArchiveError(drainStream(cut), 'second.txt', /truncated/);
      expect(e1.details.offset).toBe(offsets[1]);
      // No end record: openZip finds the entry that was cut off by reading the local headers.
      await expectArchiveError(openZip(save('cut.zip', cut)), 'second.txt', /truncated/);
    }
  });

  it('NUL in a name', async () => {
    const { bytes, offsets, cd } = await fresh();
    bytes[offsets[1]! + 30 + 3] = 0;
    bytes[cd[1]! + 46 + 3] = 0;
    const shown = displayName(Buffer.from('sec\0nd.txt'));
    await expectArchiveError(openZip(save('nul.zip', bytes)), shown, /NUL/);
    await expectArchiveError(drainStream(bytes), shown, /NUL/);
  });

  it('not a zip at all', async () => {
    const p = save('not.zip', Buffer.from('just some text, no zip here'));
    await expect(openZip(p)).rejects.toThrow(/not a zip archive/);
    await expect(drainStream(Buffer.from('just text'))).rejects.toThrow(/not a zip archive/);
  });
});

describe('one member that cannot be read costs only itself (spec §9.5)', () => {
  // A CRC mismatch read from a pipe, or an encrypted member (file or pipe), ended the extraction:
  // the members after it were neither extracted nor named.
  const dir = tempDir('zip-one-member');
  it('a damaged member from a pipe, an encrypted one from a file: the others are extracted, each refused one named', () => {
    const t = join(dir, 't');
    mkdirSync(t);
    for (const [n, lines] of [['a', 5000], ['b', 6000], ['c', 7000]] as const) writeFileSync(join(t, n), Array.from({ length: lines }, (_, i) => `${i}\n`).join(''));
    const stored = join(dir, 'stored.zip');
    expect(tool('zip', ['-q0', stored, 'a', 'b', 'c'], { cwd: t }).status).toBe(0);
    const bytes = readFileSync(stored);
    const sig = Buffer.from('PK\x03\x04', 'latin1');
    const b = bytes.indexOf(sig, bytes.indexOf(sig) + 4); // the second local header: b's
    expect(bytes.toString('latin1', b + 30, b + 31)).toBe('b');
    bytes[b + 30 + bytes.readUInt16LE(b + 26) + bytes.readUInt16LE(b + 28) + 100]! ^= 1; // inside its data
    for (const [args, input] of [[['extract', '-f', '-'], bytes], [['extract', '-f', join(dir, 'damaged.zip')], undefined]] as const) {
      writeFileSync(join(dir, 'damaged.zip'), bytes);
      const out = join(dir, `out-${args[2] === '-' ? 'pipe' : 'file'}`);
      const r = portarc([...args, '-C', out], { input });
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/entry "b", offset \d+: CRC-32 mismatch.*not extracted/);
      expect(readFileSync(join(out, 'a'), 'utf8')).toBe(readFileSync(join(t, 'a'), 'utf8'));
      expect(readFileSync(join(out, 'c'), 'utf8')).toBe(readFileSync(join(t, 'c'), 'utf8'));
      expect(existsSync(join(out, 'b'))).toBe(false);
    }
    const enc = join(dir, 'enc.zip');
    expect(tool('zip', ['-q', enc, 'a'], { cwd: t }).status).toBe(0);
    expect(tool('zip', ['-q', '-P', 'secret', enc, 'b'], { cwd: t }).status).toBe(0);
    expect(tool('zip', ['-q', enc, 'c'], { cwd: t }).status).toBe(0);
    const out = join(dir, 'out-enc');
    const r = portarc(['extract', '-f', enc, '-C', out]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/entry "b", offset \d+: encrypted entries are not supported; not extracted/);
    expect(readFileSync(join(out, 'c'), 'utf8')).toBe(readFileSync(join(t, 'c'), 'utf8'));
    // From a pipe, Info-ZIP's encrypted member has a data descriptor: its end cannot be found, and the error says what is not read.
    const p = portarc(['extract', '-f', '-', '-C', join(dir, 'out-enc-pipe')], { input: readFileSync(enc) });
    expect(p.status).toBe(2);
    expect(p.stderr).toMatch(/entry "b".*nothing after it is read; read the archive from a file/);
  });
});

describe("portarc's metadata in both headers: copies that differ are damage, never applied silently", () => {
  // The central copy (what a zip file is read by) was restored as if sound: one flipped bit made a
  // 0600 file 0606, exit 0, verify OK.
  const dir = tempDir('zip-px-copies');
  it('a file is refused naming it; a directory is restored with a warning naming it; verify says damaged', () => {
    const t = join(dir, 't');
    mkdirSync(join(t, 'd'), { recursive: true });
    writeFileSync(join(t, 'f'), 'hi\n');
    sh('chmod 600 f; chmod 700 d', t);
    const zip = join(dir, 'm.zip');
    expect(portarc(['create', '--no-manifest', '-f', zip, '-C', t, 'f', 'd']).status).toBe(0);
    for (const [name, type] of [['f', 'file'], ['d/', 'directory']] as const) {
      const b = readFileSync(zip);
      let cd = b.indexOf(Buffer.from('PK\x01\x02', 'latin1'));
      while (b.toString('latin1', cd + 46, cd + 46 + b.readUInt16LE(cd + 28)) !== name) cd = b.indexOf(Buffer.from('PK\x01\x02', 'latin1'), cd + 4);
      // The PX field's mode record (type 1): its first value byte gets the "other" bits.
      let r = b.indexOf(Buffer.from('PRTA\x01', 'latin1'), cd) + 5;
      while (b[r] !== 1) r += 5 + b.readUInt32LE(r + 1);
      b[r + 5]! |= 0o006;
      const bad = join(dir, `bad-${type}.zip`);
      writeFileSync(bad, b);
      const out = join(dir, `out-${type}`);
      const x = portarc(['extract', '-f', bad, '-C', out]);
      expect(x.stderr).toContain('local and central headers disagree on the portarc metadata');
      if (type === 'file') {
        expect(x.status).toBe(2);
        expect(x.stderr).toMatch(/entry "f", offset \d+: local and central headers disagree on the portarc metadata .*not extracted/);
        expect(existsSync(join(out, 'f'))).toBe(false);
      } else {
        expect(x.status).toBe(1);
        expect(x.stderr).toMatch(/warning: d: local and central headers disagree on the portarc metadata/);
      }
      const v = portarc(['verify', '-f', bad]);
      expect(v.status).toBe(2);
      expect(v.stdout).toMatch(/header of "(f|d)", .*disagree on the portarc metadata/);
    }
    expect(portarc(['verify', '-f', zip]).status).toBe(0);
  });
});

describe('zip64', () => {
  it('over 65535 entries: written, read back by both readers, accepted by unzip -t and Python', async () => {
    const dir = tempDir('zip64-many');
    const path = join(dir, 'many.zip');
    const sink = await fileSink(path);
    const w = new ZipWriter(sink, { centralMemoryLimit: 1 << 20 }); // exercise the spill file too
    const N = 70_000;
    const body = Buffer.from('x');
    for (let i = 0; i < N; i++) await w.add(makeEntry({ path: `d${i % 100}/f${i}`, type: 'file', size: 1 }), body);
    await w.finish();
    await sink.close();
    const bytes = readFileSync(path);
    // The end record defers to the zip64 record: entries = 0xffff.
    expect(bytes.readUInt16LE(bytes.length - 12)).toBe(0xffff);
    expect(bytes.readUInt32LE(bytes.length - 22 - 20)).toBe(0x07064b50);
    const zf = await openZip(path);
    expect(zf.count).toBe(N);
    let n = 0;
    for await (const e of zf.entries()) {
      if (n === N - 1) expect(e.entry.name).toBe(`d${(N - 1) % 100}/f${N - 1}`);
      n++;
    }
    expect(n).toBe(N);
    await zf.close();
    let m = 0;
    for await (const member of new ZipStreamReader(pieces(bytes, 1 << 20))) {
      for await (const p of member.body) expect(p.toString()).toBe('x');
      m++;
    }
    expect(m).toBe(N);
    const t = tool('unzip', ['-tq', path]);
    expect(t.status, t.stdout + t.stderr).toBe(0);
    const py = tool('python3', ['-c', 'import zipfile,sys; z=zipfile.ZipFile(sys.argv[1]); print(len(z.infolist()), z.testzip())', path]);
    expect(py.stdout.trim()).toBe(`${N} None`);
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

});

describe('zstd members (method 93)', () => {
  const dir = tempDir('zip-zstd');
  const ZSTD_TRAILER = Buffer.from([0x50, 0x2a, 0x4d, 0x18, 0, 0, 0, 0]);
  const text = Buffer.from('a line of text that compresses well\n'.repeat(3000));
  const noise = createHash('sha512');
  const random = Buffer.concat(Array.from({ length: 3 << 14 }, (_, i) => noise.copy().update(String(i)).digest())); // 3 MiB, incompressible
  const mixed = Buffer.alloc(4 << 20); // compresses to about half: over 1 MiB, decoded as a stream
  for (let i = 0; i < mixed.length; i += 64) random.copy(mixed, i, i % random.length, (i % random.length) + 32);
  const blocks = Buffer.alloc(256 << 10); // a multiple of 128 KiB (libarchive's output buffer)
  for (let i = 0; i < blocks.length; i += 4) blocks.writeUInt32LE((i * 2654435761) & 0xff00ff, i);
  const streamed = Buffer.concat([text, random.subarray(0, 1 << 20), blocks]); // over bufferLimit: bit 3, descriptor
  const items = (): Item[] => [
    [makeEntry({ path: 'z', type: 'directory', mode: 0o755 })],
    [makeEntry({ path: 'z/text.txt', type: 'file', size: text.length, mode: 0o640 }), text],
    [makeEntry({ path: 'z/random.bin', type: 'file', size: random.length }), random],
    [makeEntry({ path: 'z/blocks.bin', type: 'file', size: blocks.length }), blocks],
    [makeEntry({ path: 'z/mixed.bin', type: 'file', size: mixed.length }), mixed],
    [makeEntry({ path: 'z/streamed.bin', type: 'file', size: streamed.length }), gen([streamed.subarray(0, 5000), streamed.subarray(5000)])],
    [makeEntry({ path: 'z/tiny', type: 'file', size: 3 }), Buffer.from('abc')],
    [makeEntry({ path: 'z/link', type: 'symlink', linkTarget: Buffer.from('text.txt') })],
  ];
  const want: Record<string, Buffer> = { 'z/text.txt': text, 'z/random.bin': random, 'z/blocks.bin': blocks, 'z/mixed.bin': mixed, 'z/streamed.bin': streamed, 'z/tiny': Buffer.from('abc') };
  let archive = '';

  async function make(): Promise<string> {
    if (archive) return archive;
    const { bytes, warnings } = await writeZip(items(), { method: 'zstd' });
    expect(warnings).toEqual([]);
    archive = join(dir, 'zstd.zip');
    writeFileSync(archive, bytes);
    return archive;
  }

  function withBackend<T>(name: string | undefined, f: () => Promise<T>): Promise<T> {
    const old = process.env.PORTARC_ZSTD_BACKEND;
    if (name) process.env.PORTARC_ZSTD_BACKEND = name;
    return f().finally(() => {
      if (old === undefined) delete process.env.PORTARC_ZSTD_BACKEND;
      else process.env.PORTARC_ZSTD_BACKEND = old;
    });
  }

  it('writes method 93, version needed 63, one frame and an empty skippable frame per member', async () => {
    const path = await make();
    const r = tool('python3', ['-c', 'import zipfile,sys\nfor i in zipfile.ZipFile(sys.argv[1]).infolist(): print(i.filename, i.compress_type, i.extract_version, i.flag_bits)', path]);
    expect(r.status, r.stderr).toBe(0);
    const rows = r.stdout.trim().split('\n');
    expect(rows).toEqual([
      'z/ 0 20 0',
      'z/text.txt 93 63 0',
      'z/random.bin 0 10 0', // zstd does not make it smaller: stored
      'z/blocks.bin 93 63 0',
      'z/mixed.bin 93 63 0',
      'z/streamed.bin 93 63 8', // streamed: data descriptor
      'z/tiny 0 10 0',
      'z/link 0 10 0',
    ]);
    const bytes = readFileSync(path);
    let frames = 0;
    for (let at = bytes.indexOf(Buffer.from([0x28, 0xb5, 0x2f, 0xfd])); at >= 0; at = bytes.indexOf(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), at + 1)) frames++;
    expect(frames).toBe(4);
    let trailers = 0;
    for (let at = bytes.indexOf(ZSTD_TRAILER); at >= 0; at = bytes.indexOf(ZSTD_TRAILER, at + 1)) trailers++;
    expect(trailers).toBe(4);
  });

  const available = zstdBackends().filter((b) => b.available);
  for (const backend of [undefined, ...available.map((b) => b.name)]) {
    it(`round-trips through both readers (decoder: ${backend ?? 'auto'})`, async () => {
      const path = await make();
      await withBackend(backend, async () => {
        const bytes = readFileSync(path);
        for (const side of [await readFile(path), await readStream(bytes), await readStream(pieces(bytes, 4093))]) {
          expect(side.members.map((m) => m.entry.name)).toEqual(items().map(([e]) => e.name));
          for (const m of side.members) {
            expect(m.entry.warnings, m.entry.name).toEqual([]);
            if (want[m.entry.name]) expect(sha(m.data), m.entry.name).toBe(sha(want[m.entry.name]!));
          }
          expect(side.members[1]!.entry.mode).toBe(0o640);
          expect(side.members[7]!.entry.linkTarget?.toString()).toBe('text.txt');
        }
      });
    });
  }

  it('every available compressor writes members that every available decoder reads', async () => {
    const data = Buffer.concat([text, blocks]);
    for (const writer of available.filter((b) => b.compress)) {
      const { bytes } = await withBackend(writer.name, () =>
        writeZip([
          [makeEntry({ path: 'small', type: 'file', size: text.length }), text],
          [makeEntry({ path: 'streamed', type: 'file', size: data.length }), gen([data])],
        ], { method: 'zstd', bufferLimit: 1000 }),
      );
      const path = join(dir, `by-${writer.name}.zip`);
      writeFileSync(path, bytes);
      for (const reader of available) {
        await withBackend(reader.name, async () => {
          for (const side of [await readFile(path), await readStream(bytes)]) {
            expect(side.members.map((m) => sha(m.data)), `${writer.name} -> ${reader.name}`).toEqual([sha(text), sha(data)]);
          }
        });
      }
    }
  });

  it('a streamed member read from a pipe one byte at a time: the frames say where the data ends', async () => {
    const small = Buffer.from('x'.repeat(5000) + 'y'.repeat(5000));
    const { bytes } = await writeZip(
      [
        [makeEntry({ path: 'a', type: 'file', size: small.length }), gen([small])],
        [makeEntry({ path: 'b', type: 'file', size: 2 }), gen([Buffer.from('ok')])],
      ],
      { method: 'zstd', bufferLimit: 1 },
    );
    expect(bytes.readUInt16LE(6) & 8).toBe(8);
    for (const size of [1, 3, 8, 4096]) {
      const { members } = await readStream(pieces(bytes, size));
      expect(members.map((m) => [m.entry.name, m.data.toString()])).toEqual([['a', small.toString()], ['b', 'ok']]);
    }
  });

  it('the decompressor() stream stops by itself after the frames and gives the rest back (runDecoder)', async () => {
    const { zipMethod } = await import('../src/zip/methods.js');
    const { runDecoder } = await import('../src/zip/decode.js');
    const m = zipMethod('zstd')!;
    const data = Buffer.from('hello zstd '.repeat(2000));
    const after = Buffer.from('PK\x07\x08 and then the next header', 'latin1');
    const input = Buffer.concat([m.compressSync!(data), after]);
    for (const size of [1, 2, 5, 13, 4096, input.length]) {
      let pos = 0;
      const feed = {
        next: async (max: number) => {
          const b = input.subarray(pos, pos + Math.min(max, size));
          pos += b.length;
          return b;
        },
        unread: (b: Buffer) => void (pos -= b.length),
      };
      const out: Buffer[] = [];
      const gen = runDecoder(m.decompressor(), feed, true);
      let r = await gen.next();
      for (; !r.done; r = await gen.next()) out.push(r.value);
      expect(Buffer.concat(out).equals(data), `pieces of ${size}`).toBe(true);
      expect(r.value).toBe(input.length - after.length);
      expect(input.subarray(pos)).toEqual(after);
    }
  });

  it('damage is an ArchiveError naming the entry: a corrupt frame, bytes after the frames, a size that lies', async () => {
    const data = Buffer.from('zstd data '.repeat(500));
    const fresh = async () => (await writeZip([[makeEntry({ path: 'zs', type: 'file', size: data.length }), data]], { method: 'zstd' })).bytes;
    let bytes = await fresh();
    const frame = bytes.indexOf(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]));
    bytes[frame + 12] ^= 0x55;
    writeFileSync(join(dir, 'bad1.zip'), bytes);
    await expectArchiveError(drainFile(join(dir, 'bad1.zip')), 'zs', /corrupt|CRC-32/);
    await expectArchiveError(drainStream(bytes), 'zs', /corrupt|CRC-32/);
    // Garbage where the trailer was: not a frame, within the member's size.
    bytes = await fresh();
    const trailer = bytes.indexOf(ZSTD_TRAILER);
    bytes.write('garbage!', trailer, 'latin1');
    writeFileSync(join(dir, 'bad2.zip'), bytes);
    await expectArchiveError(drainFile(join(dir, 'bad2.zip')), 'zs', /after the last zstd frame/);
    await expectArchiveError(drainStream(bytes), 'zs', /after the last zstd frame/);
    // Sizes that say 100 bytes for 5000: the decoder is stopped at 101.
    bytes = await fresh();
    const cd = bytes.indexOf(Buffer.from('PK\x01\x02', 'latin1'));
    bytes.writeUInt32LE(100, 22);
    bytes.writeUInt32LE(100, cd + 24);
    writeFileSync(join(dir, 'bad3.zip'), bytes);
    await expectArchiveError(drainFile(join(dir, 'bad3.zip')), 'zs', /corrupt|size mismatch/);
    await expectArchiveError(drainStream(bytes), 'zs', /corrupt|size mismatch/);
  });

  it('bsdtar (libarchive 3.6.2 with libzstd) extracts it from a file, every member', async () => {
    const path = await make();
    const out = join(dir, 'bsdtar-x');
    mkdirSync(out);
    const r = tool('bsdtar', ['-xf', path, '-C', out]);
    expect(r.status, r.stderr).toBe(0);
    for (const [name, data] of Object.entries(want)) expect(sha(readFileSync(join(out, name))), name).toBe(sha(data));
    expect(statSync(join(out, 'z/text.txt')).mode & 0o777).toBe(0o640);
  });

  it('bsdtar from a pipe: members with sizes in the local header extract; one with a data descriptor does not (libarchive 3.6.2)', async () => {
    const path = await make();
    const out = join(dir, 'bsdtar-pipe');
    mkdirSync(out);
    const r = tool('sh', ['-c', 'cat "$1" | bsdtar -xf - -C "$0"', out, path]);
    // Measured: libarchive's streaming zstd reader needs the compressed size up front.
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('z/streamed.bin: Truncated zstd file body');
    for (const name of ['z/text.txt', 'z/blocks.bin', 'z/mixed.bin']) expect(sha(readFileSync(join(out, name))), name).toBe(sha(want[name]!));
  });

  it('7-Zip tests and extracts it', async () => {
    const path = await make();
    const t = tool('7z', ['t', path]);
    expect(t.status, t.stdout).toBe(0);
    expect(t.stdout).toContain('Everything is Ok');
    const out = join(dir, '7z-x');
    const x = tool('7z', ['x', '-y', `-o${out}`, path]);
    expect(x.status, x.stdout + x.stderr).toBe(0);
    for (const [name, data] of Object.entries(want)) expect(sha(readFileSync(join(out, name))), name).toBe(sha(data));
  });

  it('UnZip 6.00 refuses the zstd members by their version needed (6.3), writes nothing for them', async () => {
    const path = await make();
    const out = join(dir, 'unzip-x');
    mkdirSync(out);
    const u = tool('unzip', ['-o', path, '-d', out]);
    expect(u.status).toBe(81); // "unsupported compression or encryption"
    expect(u.stdout + u.stderr).toMatch(/skipping: z\/text\.txt\s+need PK compat\. v6\.3 \(can do v4\.6\)/);
    expect(existsSync(join(out, 'z/text.txt'))).toBe(false);
    expect(readFileSync(join(out, 'z/tiny'), 'utf8')).toBe('abc'); // stored members still extract
  });

  it.runIf(!zstdBackends().find((b) => b.name === 'builtin')?.available)('without a zstd compressor, ZipWriter refuses method zstd at once, saying what is missing', async () => {
    await withBackend('builtin', async () => {
      expect(() => new ZipWriter({ write: () => undefined }, { method: 'zstd' })).toThrow(/zip method zstd: .*builtin.*not available/);
    });
  });
});

describe('zip xattr records', () => {
  it('are written in ascending name order, whatever order the entry lists them in (spec/zip-profile.md §4)', async () => {
    const entry = (order: string[]) => {
      const e = makeEntry({ path: 'f', type: 'file', size: 2, mtimeNs: 1_700_000_000_000_000_000n });
      for (const n of order) e.xattrs.set(n, Buffer.from(n));
      return e;
    };
    const a = await writeZip([[entry(['user.b', 'user.a', 'security.x']), Buffer.from('hi')]]);
    const b = await writeZip([[entry(['security.x', 'user.a', 'user.b']), Buffer.from('hi')]]);
    expect(a.bytes.equals(b.bytes)).toBe(true);
    const at = (n: string) => a.bytes.indexOf(Buffer.from(`${n}\0`));
    expect(at('security.x')).toBeGreaterThan(0);
    expect(at('security.x')).toBeLessThan(at('user.a'));
    expect(at('user.a')).toBeLessThan(at('user.b'));
  });
});

describe('a zip file member that cannot be read costs that member only (spec/zip-profile.md §2.5)', () => {
  it('a symlink whose target is stored with a method portarc lacks (7-Zip -mm=BZip2), or encrypted: extract, list and verify name it and go on to the members after it', () => {
    const dir = tempDir('zip-member-alone');
    const made = spawnSync('python3', ['-c', `
import zipfile, stat
with zipfile.ZipFile('m.zip', 'w') as z:
    z.writestr('a.txt', 'A\\n')
    i = zipfile.ZipInfo('link'); i.create_system = 3; i.external_attr = (stat.S_IFLNK | 0o777) << 16; i.compress_type = zipfile.ZIP_BZIP2
    z.writestr(i, 'a.txt')
    z.writestr(zipfile.ZipInfo('b.bin'), 'B' * 100, compress_type=zipfile.ZIP_BZIP2)
    z.writestr('z.txt', 'Z\\n')
`], { cwd: dir, encoding: 'utf8' });
    expect(made.status, made.stderr).toBe(0);
    sh('mkdir e && echo E > e/a.txt && ln -s a.txt e/link && echo Z > e/z.txt && cd e && zip -q -y -P pw ../enc.zip a.txt link z.txt', dir);
    for (const [zip, bad] of [['m.zip', ['link', 'b.bin']], ['enc.zip', ['a.txt', 'link', 'z.txt']]] as const) {
      const out = join(dir, `out-${zip}`);
      const x = portarc(['extract', '-f', join(dir, zip), '-C', out]);
      expect(x.status, x.stderr).toBe(2);
      for (const name of bad) expect(x.stderr, `${zip} ${name}`).toMatch(new RegExp(`entry "${name}", (bytes \\d+-\\d+|offset \\d+): .*not extracted`));
      if (zip === 'm.zip') {
        expect(readFileSync(join(out, 'z.txt'), 'utf8')).toBe('Z\n');
        expect(readFileSync(join(out, 'a.txt'), 'utf8')).toBe('A\n');
        expect(x.stderr).toMatch(/2 damaged places; 2 entries extracted/);
        const l = portarc(['list', '-f', join(dir, zip)]);
        expect(l.status).toBe(2);
        expect(l.stdout).toBe('a.txt\nb.bin\nz.txt\n');
        expect(l.stderr).toMatch(/entry "link", bytes \d+-\d+: .*compression method 12 is not supported/);
      }
      const v = portarc(['verify', '-f', join(dir, zip)]);
      expect(v.status, v.stdout + v.stderr).toBe(2);
      for (const name of bad) expect(v.stdout, `${zip} ${name}`).toMatch(new RegExp(`damaged: content of "${name}"`));
      expect(v.stderr).not.toMatch(/reading stopped/);
    }
  });
});

describe('a 7-Zip zip read from a pipe', () => {
  // 7-Zip writes a file's exact time (NTFS extra) in the central directory only; the local header
  // has the DOS time, in the creator's local time. From a pipe that was restored hours off, exit 0.
  it('restores the DOS time with a warning naming the entry (exit 1); from the file, the exact time (exit 0)', () => {
    const dir = tempDir('zip-7z-times');
    sh(`mkdir src && echo hi > src/f && touch -d '2020-06-01 12:00:00.5 UTC' src/f && cd src && TZ=America/New_York 7z a -tzip ../tz.zip f > /dev/null`, dir);
    const file = portarc(['extract', '-f', join(dir, 'tz.zip'), '-C', join(dir, 'a')]);
    expect(file.status, file.stderr).toBe(0);
    expect(statSync(join(dir, 'a/f'), { bigint: true }).mtimeNs).toBe(1591012800_500000000n);
    const piped = spawnSync('bash', ['-c', `cat tz.zip | node ${join(process.cwd(), 'bin/portarc.js')} extract -f - -C b`], { cwd: dir, encoding: 'utf8' });
    expect(piped.status, piped.stderr).toBe(1);
    expect(piped.stderr).toContain('the exact modification times of 1 entry (e.g. "f") are only in the central directory, which a stream reaches last');
  });
});
