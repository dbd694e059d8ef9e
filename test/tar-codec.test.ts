// The tar codec against the real tools: what portarc writes, GNU tar, bsdtar and Python read;
// what they write, portarc reads. Filesystem-free: entries are built in memory.
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers/tree.js';
import { portarc } from './helpers/cli.js';
import { openArchive } from '../src/api/open.js';
import { makeEntry, type Entry } from '../src/model/entry.js';
import { TarReader } from '../src/tar/reader.js';
import { TarWriter } from '../src/tar/writer.js';
import { PaxError, formatPaxRecord, parsePaxRecords } from '../src/tar/pax.js';
import { parsePaxTime, parsePaxTimeBytes, readNumber, readSafeNumber, readSmallOctal } from '../src/tar/numbers.js';

async function writeTar(items: Array<[Entry, Buffer?]>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const w = new TarWriter({ write: (c) => void chunks.push(Buffer.from(c)) }, { creator: 'test' });
  for (const [e, body] of items) await w.add(e, body);
  await w.finish();
  return Buffer.concat(chunks);
}

async function readTar(bytes: Buffer) {
  const reader = new TarReader((async function* () { yield bytes; })(), { archiveName: 't.tar' });
  const out: Array<{ entry: Entry; data: Buffer }> = [];
  for await (const m of reader) {
    const parts: Buffer[] = [];
    for await (const p of m.body) parts.push(p);
    out.push({ entry: m.entry, data: Buffer.concat(parts) });
  }
  return { members: out, info: reader.info };
}

describe('numeric fields', () => {
  const field = (text: string | number[], width = 12) => {
    const b = Buffer.alloc(width + 4, 0x41); // bytes after the field must not be read
    if (typeof text === 'string') b.write(text, 2, 'latin1');
    else Buffer.from(text).copy(b, 2);
    return b;
  };
  it('readSmallOctal takes what readNumber takes in one number, and leaves the rest to it', () => {
    for (const [text, want] of [['0000644\0', 0o644], ['  17 \0', 0o17], ['\0\0\0\0\0\0\0\0\0\0\0\0', 0], ['77777777777\0', 8 ** 11 - 1], ['\0 12\0', 0o12]] as const) {
      const b = field(text);
      expect(readSmallOctal(b, 2, 12), JSON.stringify(text)).toBe(want);
      expect(BigInt(readSafeNumber(b, 2, 12, 'f'))).toBe(readNumber(b, 2, 12, 'f'));
    }
    // 17 digits fit; 18 are readNumber's (a bigint), as are base-256 values and bad digits.
    expect(readSmallOctal(field('77777777777777777\0', 20), 2, 20)).toBe(8 ** 17 - 1);
    expect(readSmallOctal(field('777777777777777777\0', 20), 2, 20)).toBeUndefined();
    const b256 = field([0x80, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0]);
    expect(readSmallOctal(b256, 2, 12)).toBeUndefined();
    expect(readSafeNumber(b256, 2, 12, 'size')).toBe(65536);
    expect(readSmallOctal(field('0009\0'), 2, 12)).toBeUndefined();
    expect(() => readSafeNumber(field('0009\0'), 2, 12, 'mode')).toThrow('invalid octal digit 0x39 in mode field');
    expect(() => readSafeNumber(field([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff].map((x, i) => (i === 0 ? 0x80 : x))), 2, 12, 'size')).toThrow('size value');
  });

  it('parsePaxTimeBytes reads a time record as parsePaxTime reads its text', () => {
    const fixed = ['0', '-0', '1796577666.737086067', '1796577666.7370860679999', '-1.5', '1.', '.5', '-', '', '12a', '1.2.3', '1e9', ' 1', '1 ', '+1',
      '1234567890123456', '123456789012345678901234.000000001', '-123456789012345.999999999', '1.\u00b9'];
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
    const random = Array.from({ length: 3000 }, () => Array.from({ length: rnd(24) }, () => '0123456789.-x'[rnd(13)]).join(''));
    for (const t of [...fixed, ...random]) expect(parsePaxTimeBytes(Buffer.from(t, 'latin1')), JSON.stringify(t)).toBe(parsePaxTime(t));
  });
});

describe('pax records', () => {
  it('length prefix counts its own digits across a digit boundary', () => {
    for (let n = 80; n < 120; n++) {
      const rec = formatPaxRecord('k', Buffer.alloc(n, 0x61));
      expect(Number(rec.toString('latin1').split(' ')[0])).toBe(rec.length);
      expect(parsePaxRecords(rec)[0]!.value.length).toBe(n);
    }
  });
  it('NUL padding after the records is read, records after NUL padding are a damaged header', () => {
    const rec = formatPaxRecord('uname', 'alice');
    expect(parsePaxRecords(Buffer.concat([rec, Buffer.alloc(7)])).map((r) => r.key)).toEqual(['uname']);
    const after = Buffer.concat([rec, Buffer.alloc(1), formatPaxRecord('SCHILY.xattr.user.a', '1')]);
    let caught: unknown;
    try {
      parsePaxRecords(after);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(PaxError);
    expect((caught as PaxError).message).toMatch(/pax records go on after NUL padding/);
    expect((caught as PaxError).at).toBe(rec.length + 1);
  });
  it('values keep NUL, newline and 0xff bytes', () => {
    const v = Buffer.from([0, 0xff, 0x0a, 0x3d, 0]);
    expect(parsePaxRecords(formatPaxRecord('SCHILY.xattr.user.b', v))[0]!.value).toEqual(v);
  });
});

describe('a pax header longer than the input\'s chunks', () => {
  // The reader's input reuses its chunks' memory (three 1 MiB buffers from a file; a pipe's
  // 64 KiB reads): a header read across more than two chunks kept views of them, joined after
  // they held later bytes. Its records failed to parse, or (a record starting where a chunk was
  // swapped in) were cut short without a word: times and xattrs lost, exit 0.
  it('is read whole from a file, a pipe and a .tar.zst: every record applies', async () => {
    const dir = tempDir('bigpax');
    const archive = join(dir, 'big.tar');
    execFileSync('python3', ['-c', `
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as t:
    i = tarfile.TarInfo("f"); i.size = 2; i.mode = 0o640
    i.pax_headers = {"mtime": "1700000000.987654321", "comment": "c" * (5 << 20) + "\\n" + "d" * 70000, "SCHILY.xattr.user.after": "kept"}
    t.addfile(i, io.BytesIO(b"hi"))
`, archive]);
    for (const via of ['file', 'pipe']) {
      const out = join(dir, via);
      const r = portarc(['extract', '-f', via === 'file' ? archive : '-', '-C', out], { input: via === 'pipe' ? readFileSync(archive) : undefined });
      expect(r.stderr, via).toBe('');
      expect(r.status, via).toBe(0);
      expect(readFileSync(join(out, 'f'), 'utf8')).toBe('hi');
      expect(lstatSync(join(out, 'f'), { bigint: true }).mtimeNs, via).toBe(1700000000987654321n);
      expect(execFileSync('getfattr', ['--only-values', '-n', 'user.after', join(out, 'f')], { encoding: 'utf8' }), via).toBe('kept');
    }
    // The library reading a .tar.zst: its decoder hands out reused 256 KiB output buffers.
    execFileSync('zstd', ['-q', '-f', archive, '-o', `${archive}.zst`]);
    const a = await openArchive(`${archive}.zst`);
    const seen: Entry[] = [];
    for await (const m of a.members) seen.push(m.entry);
    expect(seen.map((e) => [e.name, e.mtimeNs, e.xattrs.get('user.after')?.toString()])).toEqual([['f', 1700000000987654321n, 'kept']]);
  });
});

describe('GNU tar multi-volume archives (tar -M)', () => {
  it('a member continued from another volume is named and not extracted, never its tail under its name', () => {
    // Read as a file of unknown type "M", the tail of big1 was restored as big1 (mode 0000), exit 1.
    const dir = tempDir('multivol');
    const big = randomBytes(30000);
    writeFileSync(join(dir, 'big1'), big);
    writeFileSync(join(dir, 'small2'), 'small\n');
    execFileSync('tar', ['-c', '-M', '-L', '20', '-f', 'vol1.tar', '-f', 'vol2.tar', 'big1', 'small2'], { cwd: dir });
    const out = join(dir, 'out');
    const r = portarc(['extract', '-f', join(dir, 'vol2.tar'), '-C', out]);
    expect(r.stderr).toMatch(/entry "big1", bytes 0-\d+: data lost: continued from another volume \(GNU tar -M\): only its bytes from 19968 on are in this archive; not extracted/);
    expect(r.status).toBe(2);
    expect(existsSync(join(out, 'big1'))).toBe(false);
    expect(readFileSync(join(out, 'small2'), 'utf8')).toBe('small\n');
  });
});

describe('tar writer and reader', () => {
  const dir = tempDir('codec');
  const longPath = 'd/' + 'x'.repeat(150) + '/' + 'y'.repeat(146);
  const entries: Array<[Entry, Buffer?]> = [
    [makeEntry({ path: 'd', type: 'directory', mode: 0o755, mtimeNs: 1_700_000_000_123_456_789n })],
    [makeEntry({ path: 'd/f.txt', type: 'file', size: 5, uid: 3_000_000, gid: 42, uname: 'alice', gname: 'staff', mtimeNs: -86400_500_000_000n,
      xattrs: new Map([['user.bin', Buffer.from([0, 0xff, 1])], ['user.a=b%', Buffer.from('v')]]) }), Buffer.from('hello')],
    [makeEntry({ path: longPath, type: 'file', size: 3, selinux: 'system_u:object_r:tmp_t:s0',
      xattrs: new Map([['user.nul', Buffer.from([0x61, 0])]]) }), Buffer.from('abc')],
    [makeEntry({ path: 'd/l', type: 'symlink', linkTarget: Buffer.from('f.txt'), mode: 0o777 })],
    [makeEntry({ path: 'd/h', type: 'hardlink', linkTarget: Buffer.from('d/f.txt') })],
    [makeEntry({ path: Buffer.from([0x64, 0x2f, 0x6e, 0xff, 0xfe]), type: 'fifo' })],
    [makeEntry({ path: 'd/c', type: 'chardev', devMajor: 1, devMinor: 3 })],
    [makeEntry({ path: 'd/acl', type: 'directory', aclAccess: [{ tag: 'user_obj', perm: 7 }, { tag: 'user', id: 1234, perm: 5 }, { tag: 'group_obj', perm: 5 }, { tag: 'mask', perm: 5 }, { tag: 'other', perm: 0 }],
      aclDefault: [{ tag: 'user_obj', perm: 7 }, { tag: 'group_obj', perm: 5 }, { tag: 'other', perm: 0 }] })],
  ];

  it('round-trips every field through portarc', async () => {
    const bytes = await writeTar(entries);
    expect(bytes.length % 10240).toBe(0);
    const { members, info } = await readTar(bytes);
    expect(info.version).toBe('1.0');
    expect(members.map((m) => m.entry.name)).toEqual(entries.map(([e]) => e.name));
    for (const [i, [e, body]] of entries.entries()) {
      const got = members[i]!.entry;
      expect(got.path).toEqual(e.path);
      expect(got.type).toBe(e.type);
      expect(got.mode).toBe(e.mode);
      expect([got.uid, got.gid, got.uname, got.gname]).toEqual([e.uid, e.gid, e.uname, e.gname]);
      expect(got.mtimeNs).toBe(e.mtimeNs);
      expect(got.xattrs).toEqual(e.xattrs);
      expect(got.selinux).toBe(e.selinux);
      expect(got.aclAccess).toEqual(e.aclAccess);
      expect(got.aclDefault).toEqual(e.aclDefault);
      expect(got.linkTarget).toEqual(e.linkTarget);
      expect([got.devMajor, got.devMinor]).toEqual([e.devMajor, e.devMinor]);
      expect(got.warnings).toEqual([]);
      expect(members[i]!.data).toEqual(body ?? Buffer.alloc(0));
    }
  });

  it('GNU tar, bsdtar and Python list what portarc writes', async () => {
    const file = join(dir, 'a.tar');
    writeFileSync(file, await writeTar(entries));
    const gnu = execFileSync('tar', ['--xattrs', '--numeric-owner', '-tvf', file], { encoding: 'latin1' });
    expect(gnu).toContain(longPath);
    expect(gnu).toContain('3000000/42');
    const bsd = execFileSync('bsdtar', ['-tvf', file], { encoding: 'latin1' });
    expect(bsd).toContain(longPath);
    const py = execFileSync('python3', ['-c', 'import sys,tarfile\nfor m in tarfile.open(sys.argv[1]): print(m.name, m.uid, m.mtime)', file], { encoding: 'utf8' });
    expect(py).toContain(`${longPath} 0 `);
    expect(py).toContain('d/f.txt 3000000 -86400.5');
  });

  it('reads what GNU tar writes in gnu and pax format', async () => {
    const src = join(dir, 'src');
    execFileSync('bash', ['-c', `mkdir -p ${src}/sub && printf hi > ${src}/sub/${'n'.repeat(120)} && ln -s sub ${src}/ln && touch -d @1234567890.123456789 ${src}/sub`]);
    for (const format of ['gnu', 'pax']) {
      const file = join(dir, `g-${format}.tar`);
      execFileSync('tar', [`--format=${format}`, '-C', src, '-cf', file, '.']);
      const { members } = await readTar(readFileSync(file));
      const long = members.find((m) => m.entry.name === `./sub/${'n'.repeat(120)}`)!;
      expect(long.data.toString()).toBe('hi');
      expect(members.find((m) => m.entry.name === './ln')!.entry.linkTarget!.toString()).toBe('sub');
      const sub = members.find((m) => m.entry.name === './sub')!.entry;
      expect(sub.type).toBe('directory');
      expect(sub.mtimeNs).toBe(format === 'pax' ? 1234567890_123456789n : 1234567890_000000000n);
    }
  });
});

describe('an input that reuses its buffers, in small pieces (stdin from a pipe written a few bytes at a time)', () => {
  // stdin is read through a ring of reused buffers: a chunk is valid until the one after next is
  // asked for (src/io/source.ts). Pieces of a few bytes made the reader keep views of chunks
  // refilled since: an extension header's data (its padding skipped took more chunks than the ring
  // keeps) and the sniffed first block. Names made of other files' content came out, exit 0.
  function pieces(data: Buffer, seed: number, reuse: boolean): AsyncGenerator<Buffer> {
    let s = seed;
    const rnd = () => ((s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const slots = [Buffer.alloc(1024), Buffer.alloc(1024), Buffer.alloc(1024)];
    return (async function* () {
      for (let at = 0, k = 0; at < data.length; k++) {
        const n = Math.min(data.length - at, 1 + Math.floor(rnd() * (rnd() < 0.5 ? 8 : 700)));
        const slot = reuse ? slots[k % 3]! : Buffer.alloc(1024);
        slot.fill(0x41);
        data.copy(slot, 0, at, at + n);
        at += n;
        yield slot.subarray(0, n);
      }
    })();
  }
  async function read(source: AsyncIterable<Buffer>): Promise<string[]> {
    const out: string[] = [];
    for await (const m of new TarReader(source, { archiveName: 'x' })) {
      const parts: Buffer[] = [];
      for await (const c of m.body) parts.push(Buffer.from(c));
      out.push(`${m.offset} ${m.entry.type} ${m.entry.path.toString('hex')} ${m.entry.linkTarget?.toString('hex')} ${Buffer.concat(parts).toString('hex')}`);
    }
    return out;
  }

  it('GNU long names, pax records and portarc archives read the same as from fresh buffers (40 seeds)', async () => {
    const dir = tempDir('reuse-pieces');
    execFileSync('bash', ['-c', `mkdir src && cd src && for i in $(seq 1 12); do python3 -c "print(('content%03d' % $i) * 40, end='')" > "$(printf 'file_%03d_%0120d' $i 0)"; done && ln -s "$(printf 'file_%03d_%0120d' 1 0)" link && cd .. && tar --format=gnu -cf gnu.tar -C src . && tar --format=posix -cf pax.tar -C src .`], { cwd: dir });
    expect(portarc(['create', '-q', '-f', join(dir, 'own.tar'), '-C', join(dir, 'src'), '.']).status).toBe(0);
    for (const name of ['gnu.tar', 'pax.tar', 'own.tar']) {
      const data = readFileSync(join(dir, name));
      const want = await read(pieces(data, 1, false));
      expect(want.length).toBeGreaterThan(12);
      for (let seed = 1; seed <= 40; seed++) expect(await read(pieces(data, seed, true)), `${name} seed ${seed}`).toEqual(want);
    }
  });

  it('openArchive() sniffs the first block from many small reused pieces', async () => {
    const dir = tempDir('reuse-sniff');
    writeFileSync(join(dir, 'f'), 'hello\n');
    expect(portarc(['create', '-q', '-f', join(dir, 'a.tar'), '-C', dir, 'f']).status).toBe(0);
    const data = readFileSync(join(dir, 'a.tar'));
    for (let seed = 1; seed <= 10; seed++) {
      const a = await openArchive(pieces(data, seed, true));
      const names: string[] = [];
      for await (const m of a.members) names.push(m.entry.name);
      await a.close();
      expect(names.filter((n) => !n.startsWith('.portarc/'))).toEqual(['f']);
    }
  });
});
