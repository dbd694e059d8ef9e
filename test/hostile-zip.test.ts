// Hostile ZIP archives, the zip counterpart of hostile.test.ts: names and links that try to write
// outside the destination, members that lie about their place or size, bombs, privileges. Each
// case runs in its own directory beside an `outside/` canary, through `portarc extract` (random
// access from a file; for some, streamed from stdin as well). Nothing outside may change, the
// offending entry is named, and the exit code is 2 when a member is refused (it would go through
// a symlink or out of the destination) or the archive is refused. Symlinks are data: made
// verbatim, never followed (spec §9.3). Most archives come from ZipWriter, which writes any name it is given; the rest are
// built byte by byte below (rawZip).
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeEntry, type Entry } from '../src/model/entry.js';
import { crc32 } from '../src/zip/crc.js';
import { encodeCentral, encodeEocd, encodeLocal, MADE_BY } from '../src/zip/records.js';
import { portarc, type Run } from './helpers/cli.js';
import { listing, tempDir } from './helpers/tree.js';
import { writeZip, type Item } from './helpers/zip.js';

const file = (path: string | Buffer, text = 'pwned', mode = 0o644): Item => [makeEntry({ path, type: 'file', size: Buffer.byteLength(text), mode }), Buffer.from(text)];
const link = (path: string, target: string): Item => [makeEntry({ path, type: 'symlink', linkTarget: Buffer.from(target) })];
const hard = (path: string, target: string): Item => [makeEntry({ path, type: 'hardlink', linkTarget: Buffer.from(target) })];
const dir = (path: string): Item => [makeEntry({ path, type: 'directory' })];
const ok = file('ok.txt', 'fine');

async function zipOf(items: Item[], opts: Parameters<typeof writeZip>[1] = {}): Promise<Buffer> {
  return (await writeZip(items, opts)).bytes;
}

interface RawMember {
  name: string | Buffer;
  data?: Buffer;
  /** Unix st_mode for the external attributes (default a 0644 file). */
  mode?: number;
  extra?: Buffer;
  /** What the central header says instead of the local one. */
  central?: { name?: string; offset?: number; csize?: number; usize?: number };
}

/**
 * A zip built byte by byte: stored members, a local header each, a central directory and the end
 * record, with whatever lies the case needs (ZipWriter will not write those).
 */
function rawZip(members: RawMember[]): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let pos = 0;
  for (const m of members) {
    const name = Buffer.from(m.name);
    const data = m.data ?? Buffer.alloc(0);
    const extra = m.extra ?? Buffer.alloc(0);
    const common = { versionNeeded: 10, flags: 0, method: 0, dosTime: 0, dosDate: 0x21, crc: crc32(data), csize: data.length, usize: data.length, extra };
    const local = encodeLocal({ ...common, name });
    central.push(
      encodeCentral({
        ...common,
        madeBy: MADE_BY,
        name: m.central?.name !== undefined ? Buffer.from(m.central.name) : name,
        csize: m.central?.csize ?? data.length,
        usize: m.central?.usize ?? data.length,
        comment: Buffer.alloc(0),
        diskStart: 0,
        internalAttr: 0,
        externalAttr: ((m.mode ?? 0o100644) << 16) >>> 0,
        offset: m.central?.offset ?? pos,
      }),
    );
    parts.push(local, data);
    pos += local.length + data.length;
  }
  const cd = Buffer.concat(central);
  return Buffer.concat([...parts, cd, encodeEocd(members.length, cd.length, pos)]);
}

interface Case {
  name: string;
  zip: () => Promise<Buffer> | Buffer;
  /** Set up the destination before extraction (a planted symlink, say). */
  prepare?: (dest: string, outside: string) => void;
  /** Must appear in stderr (the offending entry, at least). */
  stderr: Array<string | RegExp>;
  /** 0/1: the archive extracts (ok.txt is there); 2: a member or the archive is refused. */
  exit: 0 | 1 | 2;
  /** With exit 2: only the offending member was refused, the rest (ok.txt) extracted. */
  rest?: boolean;
  /** Extra checks on the destination. */
  check?: (dest: string, base: string) => void;
  extraArgs?: string[];
  /** Also run it streamed through stdin (`-f -`). */
  stdin?: boolean;
  /** What stderr must hold when streamed, when it differs (a stream learns of some lies only at the central directory). */
  stdinStderr?: Array<string | RegExp>;
}

/** An archive whose first member's compressed size (local and central) also covers the second member. */
async function swallowing(): Promise<Buffer> {
  const bytes = rawZip([{ name: 'first.txt', data: Buffer.from('first') }, { name: 'hidden.txt', data: Buffer.from('second') }]);
  const cd = bytes.indexOf(Buffer.from('PK\x01\x02', 'latin1'));
  bytes.writeUInt32LE(cd - 30 - 'first.txt'.length, cd + 20); // central csize: up to the central directory
  return bytes;
}

const cases: Case[] = [
  { name: '"../" in a name', zip: () => zipOf([file('../escape.txt'), ok]), stderr: ['../escape.txt', '".." component'], exit: 2, rest: true, stdin: true },
  { name: '"../" deep inside a name', zip: () => zipOf([file('a/b/../../../escape.txt'), ok]), stderr: ['a/b/../../../escape.txt'], exit: 2, rest: true },
  {
    name: '"..\\" (backslash) in a name: on POSIX one name, made inside',
    zip: () => zipOf([file('..\\escape.txt', 'one'), file('a\\..\\..\\escape2.txt', 'two'), ok]),
    stderr: [],
    exit: 0,
    stdin: true,
    check: (dest) => {
      expect(readFileSync(join(dest, '..\\escape.txt'), 'utf8')).toBe('one');
      expect(readFileSync(join(dest, 'a\\..\\..\\escape2.txt'), 'utf8')).toBe('two');
    },
  },
  {
    name: 'absolute name: the leading "/" is removed, the file lands inside',
    zip: () => zipOf([file('/tmp/abs-escape.txt', 'inside'), ok]),
    stderr: ['/tmp/abs-escape.txt: leading "/" removed'],
    exit: 1,
    check: (dest) => expect(readFileSync(join(dest, 'tmp/abs-escape.txt'), 'utf8')).toBe('inside'),
    stdin: true,
  },
  {
    name: 'drive-letter name "C:\\...": on POSIX part of the name, the file lands inside',
    zip: () => zipOf([file('C:\\escape.txt', 'inside'), file('D:..\\escape2.txt', 'two'), ok]),
    stderr: [],
    exit: 0,
    check: (dest) => {
      expect(readFileSync(join(dest, 'C:\\escape.txt'), 'utf8')).toBe('inside');
      expect(readFileSync(join(dest, 'D:..\\escape2.txt'), 'utf8')).toBe('two');
    },
  },
  {
    name: 'symlink member pointing outside, then a file written through it',
    zip: () => zipOf([link('l', '../outside'), file('l/escape.txt'), ok]),
    stderr: ['not restored: l/escape.txt: entry: not extracted: "l" is a symlink'],
    exit: 2,
    rest: true,
    stdin: true,
    check: (dest) => expect(readlinkSync(join(dest, 'l'), 'utf8')).toBe('../outside'),
  },
  {
    name: 'absolute symlink: made verbatim',
    zip: () => zipOf([link('abs', '/etc'), ok]),
    stderr: [],
    exit: 0,
    check: (dest) => expect(readlinkSync(join(dest, 'abs'), 'utf8')).toBe('/etc'),
  },
  {
    name: 'symlink chain leading out',
    zip: () => zipOf([link('a', 'b'), link('b', '../outside'), file('a/escape.txt'), ok]),
    stderr: ['not restored: a/escape.txt: entry: not extracted: "a" is a symlink'],
    exit: 2,
    rest: true,
  },
  {
    name: 'symlink to a file outside, then a file member of that name: the link is replaced, not written through',
    zip: () => zipOf([link('l', '../outside/secret'), file('l', 'replaced'), hard('h', 'l'), ok]),
    stderr: [],
    exit: 0,
    stdin: true,
    check: (dest) => {
      expect(readFileSync(join(dest, 'l'), 'utf8')).toBe('replaced');
      expect(lstatSync(join(dest, 'h')).ino).toBe(lstatSync(join(dest, 'l')).ino);
    },
  },
  {
    name: 'hardlink to a symlink pointing outside: links the symlink itself',
    zip: () => zipOf([link('l', '../outside/secret'), hard('h', 'l'), ok]),
    stderr: [],
    exit: 0,
    check: (dest, base) => {
      expect(lstatSync(join(dest, 'h')).isSymbolicLink()).toBe(true);
      expect(lstatSync(join(base, 'outside/secret')).nlink).toBe(1);
    },
  },
  {
    name: 'hardlink (PX link record) to ../outside/secret',
    zip: () => zipOf([hard('h', '../outside/secret'), ok]),
    stderr: ['not restored: h: entry: path has a ".." component'],
    exit: 2,
    rest: true,
    check: (dest) => expect(existsSync(join(dest, 'h'))).toBe(false),
    stdin: true,
  },
  {
    name: 'symlink planted in the destination beforehand',
    zip: () => zipOf([file('pre/escape.txt'), ok]),
    prepare: (dest, outside) => symlinkSync(outside, join(dest, 'pre')),
    stderr: ['not restored: pre/escape.txt: entry: not extracted: "pre" is a symlink'],
    exit: 2,
    rest: true,
  },
  {
    name: 'hardlink whose target goes through a symlink planted beforehand',
    zip: () => zipOf([hard('h', 'pre/secret'), ok]),
    prepare: (dest, outside) => symlinkSync(outside, join(dest, 'pre')),
    stderr: ['not restored: h: entry: not extracted: "pre" is a symlink'],
    exit: 2,
    rest: true,
  },
  {
    name: 'directory replaced by a symlink after its contents',
    zip: () => zipOf([dir('d'), file('d/x', 'x'), link('d', '.'), ok]),
    stderr: ['not restored: d: entry: not extracted: a non-empty directory is in the way'],
    check: (dest) => expect(lstatSync(join(dest, 'd')).isDirectory()).toBe(true),
    exit: 2,
    rest: true,
  },
  {
    name: 'Unicode path extra field (0x7075) hiding "../" behind a harmless name',
    // The extra's CRC matches the header name, so a reader that honours it takes its name.
    zip: () => {
      const shown = Buffer.from('harmless.txt');
      const up = Buffer.alloc(5);
      up[0] = 1;
      up.writeUInt32LE(crc32(shown), 1);
      const evil = Buffer.from('../escape.txt');
      const block = Buffer.alloc(4);
      block.writeUInt16LE(0x7075, 0);
      block.writeUInt16LE(5 + evil.length, 2);
      return rawZip([{ name: shown, data: Buffer.from('pwned'), extra: Buffer.concat([block, up, evil]) }, { name: 'ok.txt', data: Buffer.from('fine') }]);
    },
    stderr: ['not restored: ../escape.txt: entry: path has a ".." component'],
    exit: 2,
    rest: true,
    stdin: true,
  },
  {
    name: 'two central entries sharing one local header (zip bomb by overlap)',
    zip: () => rawZip([{ name: 'ok.txt', data: Buffer.from('fine') }, { name: 'ok.txt', data: Buffer.from('fine'), central: { offset: 0 } }]),
    stderr: ['entry "ok.txt"', 'shares its local header with another entry'],
    exit: 2,
    stdin: true,
  },
  {
    name: 'members overlapping: the central directory places one inside another',
    zip: () => {
      const data = Buffer.alloc(200, 0x61);
      // The second central entry points into the first member's data, where a local header hides.
      const inner = encodeLocal({ versionNeeded: 10, flags: 0, method: 0, dosTime: 0, dosDate: 0x21, crc: crc32(Buffer.alloc(0)), csize: 0, usize: 0, name: Buffer.from('inner'), extra: Buffer.alloc(0) });
      inner.copy(data, 20);
      return rawZip([{ name: 'outer', data }, { name: 'inner', central: { offset: 30 + 'outer'.length + 20 } }]);
    },
    stderr: ['entry "outer"', 'overlaps the member at offset'],
    exit: 2,
    stdin: true,
    stdinStderr: ['entry "inner"', 'that the stream did not contain'],
  },
  {
    name: 'a compressed size that lies: bigger than the data, covering the next member',
    zip: swallowing,
    stderr: ['entry "first.txt"', /runs past the start of the central directory|overlaps|disagree on the compressed size/],
    exit: 2,
    stdin: true,
  },
  {
    name: 'a central size that lies: more bytes than the data holds',
    zip: () => rawZip([{ name: 'liar.txt', data: Buffer.from('short'), central: { usize: 1 << 30 } }]),
    stderr: ['entry "liar.txt"', 'disagree on the size'],
    exit: 2,
    check: (dest) => expect(existsSync(join(dest, 'liar.txt'))).toBe(false),
  },
  {
    name: 'deflate bomb (64 MiB of zeros in 64 KiB) stopped by --limit bytes=1M',
    zip: async () => {
      const zeros = Buffer.alloc(64 << 20);
      async function* body() {
        for (let i = 0; i < 64; i++) yield zeros.subarray(i << 20, (i + 1) << 20);
      }
      return zipOf([ok, [makeEntry({ path: 'bomb', type: 'file', size: zeros.length }), body()]], { level: 9 });
    },
    extraArgs: ['--limit', 'bytes=1M'],
    stderr: [/entry "bomb".*limit "bytes"/],
    exit: 2,
    check: (dest) => {
      expect(readFileSync(join(dest, 'ok.txt'), 'utf8')).toBe('fine');
      expect(readdirSync(dest).sort()).toEqual(['ok.txt']); // no partial or temporary file
    },
    stdin: true,
  },
  {
    name: 'zstd bomb (64 MiB of zeros) stopped by --limit bytes=1M',
    zip: async () => {
      const zeros = Buffer.alloc(64 << 20);
      async function* body() {
        for (let i = 0; i < 64; i++) yield zeros.subarray(i << 20, (i + 1) << 20);
      }
      return zipOf([ok, [makeEntry({ path: 'zbomb', type: 'file', size: zeros.length }), body()]], { method: 'zstd' });
    },
    extraArgs: ['--limit', 'bytes=1M'],
    stderr: [/entry "zbomb".*limit "bytes"/],
    exit: 2,
    check: (dest) => expect(readdirSync(dest).sort()).toEqual(['ok.txt']),
    stdin: true,
  },
  {
    name: 'setuid and setgid members with --no-same-permissions: the bits are dropped and counted in a note',
    zip: () => zipOf([file('suid', '#!', 0o4755), [makeEntry({ path: 'sgid-dir', type: 'directory', mode: 0o2775 })], ok]),
    extraArgs: ['--no-same-permissions'],
    stderr: ['note: setuid/setgid bits cleared on 2 entries'],
    exit: 0,
    check: (dest) => {
      expect(lstatSync(join(dest, 'suid')).mode & 0o7777).toBe(0o755);
      expect(lstatSync(join(dest, 'sgid-dir')).mode & 0o7777).toBe(0o775);
    },
    stdin: true,
  },
  {
    name: 'a device member (PX mode record) with --no-same-permissions: not made, a loss',
    zip: () => zipOf([[makeEntry({ path: 'null', type: 'chardev', devMajor: 1, devMinor: 3, mode: 0o666 })], [makeEntry({ path: 'disk', type: 'blockdev', devMajor: 8, devMinor: 0, mode: 0o660 })], ok]),
    extraArgs: ['--no-same-permissions'],
    stderr: ['not restored: null: device', 'not restored: disk: device'],
    exit: 1,
    check: (dest) => {
      expect(existsSync(join(dest, 'null'))).toBe(false);
      expect(existsSync(join(dest, 'disk'))).toBe(false);
    },
  },
];

async function run(c: Case, viaStdin: boolean): Promise<{ r: Run; dest: string; base: string; outside: string; before: Record<string, string> }> {
  const base = tempDir('hostile-zip');
  const outside = join(base, 'outside');
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret'), 'canary');
  const dest = join(base, 'dest');
  mkdirSync(dest);
  c.prepare?.(dest, outside);
  const bytes = await c.zip();
  const archive = join(base, 'evil.zip');
  writeFileSync(archive, bytes);
  const before = listing(outside);
  const args = ['extract', '-f', viaStdin ? '-' : archive, '-C', dest, ...(c.extraArgs ?? [])];
  const r = portarc(args, viaStdin ? { input: bytes } : {});
  return { r, dest, base, outside, before };
}

describe.each([
  ['from a file (random access)', false],
  ['from stdin (streaming)', true],
] as const)('hostile zips %s', (_label, viaStdin) => {
  for (const c of cases.filter((c) => !viaStdin || c.stdin)) {
    it(`${c.name}: nothing outside changes, the entry is named, exit ${c.exit}`, async () => {
      const { r, dest, base, outside, before } = await run(c, viaStdin);
      expect(listing(outside)).toEqual(before);
      expect(readFileSync(join(outside, 'secret'), 'utf8')).toBe('canary');
      expect(lstatSync(outside).isDirectory()).toBe(true);
      expect(readdirSync(base).sort()).toEqual(['dest', 'evil.zip', 'outside']);
      expect(r.stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace
      for (const s of (viaStdin && c.stdinStderr) || c.stderr) {
        if (typeof s === 'string') expect(r.stderr).toContain(s);
        else expect(r.stderr).toMatch(s);
      }
      expect(r.status, r.stderr).toBe(c.exit);
      if (c.exit !== 2 || c.rest) expect(readFileSync(join(dest, 'ok.txt'), 'utf8')).toBe('fine');
      if (c.exit === 0 && !c.stderr.length) expect(r.stderr).toBe('');
      c.check?.(dest, base);
    });
  }
});

describe('names that collide on case-folding filesystems (forced folding, as on macOS/Windows)', () => {
  it('the second of two colliding names is refused and named, a symlink among them included', async () => {
    const { extract } = await import('../src/api/extract.js');
    const base = tempDir('hostile-zip-fold');
    const outside = join(base, 'outside');
    mkdirSync(outside);
    writeFileSync(join(outside, 'secret'), 'canary');
    const archive = join(base, 'a.zip');
    const nfc = 'caf\u00e9';
    const nfd = 'cafe\u0301';
    writeFileSync(archive, await zipOf([dir('Docs'), link('DOCS', '../outside'), file('DOCS/escape.txt'), file(`${nfc}.txt`, 'one'), file(`${nfd}.txt`, 'two'), file('Docs/ok.txt', 'fine')]));
    const dest = join(base, 'dest');
    mkdirSync(dest);
    const r = await extract(archive, dest, { foldNames: true });
    expect(r.losses.map((l) => l.path)).toEqual(['DOCS', 'DOCS/escape.txt', `${nfd}.txt`]);
    expect(r.losses[0]!.reason).toContain('collides with "Docs"');
    // Its directory is the refused symlink's name, which the filesystem takes for Docs: refused too
    // (neither written through the link nor merged into Docs under a name the archive does not give).
    expect(r.losses[1]!.reason).toContain('directory "DOCS" collides with "Docs"');
    expect(r.losses[2]!.reason).toContain(`collides with "${nfc}.txt"`);
    expect(readFileSync(join(dest, `${nfc}.txt`), 'utf8')).toBe('one');
    expect(readFileSync(join(dest, 'Docs/ok.txt'), 'utf8')).toBe('fine');
    expect(existsSync(join(dest, 'DOCS'))).toBe(false);
    expect(readdirSync(outside)).toEqual(['secret']);
    expect(readFileSync(join(outside, 'secret'), 'utf8')).toBe('canary');
  });
});

describe('privileges beyond the mode bits', () => {
  // `security.capability` (file capabilities: the same power as a setuid bit) and `trusted.*` go
  // with the setuid bits: restored by root by default, dropped by --no-same-permissions and
  // --untrusted, each named in a note. The Restorer is shared with tar.
  it.runIf(process.getuid?.() === 0)('file capabilities (security.capability) and trusted.* xattrs: root default restores them, the opt-outs do not', async () => {
    const cap = Buffer.alloc(20);
    cap.writeUInt32LE(0x02000001, 0); // VFS_CAP_REVISION_2, effective
    cap.writeUInt32LE(1 << 7, 4); // permitted: CAP_SETUID
    const xattrs = new Map([
      ['security.capability', cap],
      ['trusted.evil', Buffer.from('x')],
      ['user.fine', Buffer.from('y')],
    ]);
    const base = tempDir('hostile-zip-cap');
    const archive = join(base, 'cap.zip');
    writeFileSync(archive, await zipOf([[makeEntry({ path: 'capbin', type: 'file', size: 2, mode: 0o755, xattrs }), Buffer.from('#!')], ok]));
    const { spawnSync } = await import('node:child_process');
    const attrsOf = (p: string) => spawnSync('getfattr', ['-d', '-m', '-', p], { encoding: 'utf8' }).stdout;
    for (const flag of ['--no-same-permissions', '--untrusted']) {
      const dest = join(base, flag.slice(2));
      const r = portarc(['extract', flag, '-f', archive, '-C', dest]);
      const attrs = attrsOf(join(dest, 'capbin'));
      expect(attrs).toContain('user.fine');
      expect(attrs).not.toContain('security.capability');
      expect(attrs).not.toContain('trusted.evil');
      expect(r.stderr).toContain(`note: capbin: security.capability not restored (${flag}): it grants privileges`);
      expect(r.stderr).toContain(`note: capbin: trusted.evil not restored (${flag})`);
      expect(r.status).toBe(0);
    }
    const kept = join(base, 'kept');
    expect(portarc(['extract', '-f', archive, '-C', kept]).status).toBe(0);
    const plain = attrsOf(join(kept, 'capbin'));
    expect(plain).toContain('security.capability');
    expect(plain).toContain('trusted.evil');
  });
});
