// Extraction is hostile territory: archives that try to write outside the destination. Each case
// runs in its own directory beside a canary; nothing outside the destination may change (contents,
// modes, times, owners, xattrs), the offending entry is named, and the rest of the archive still
// extracts. A member that would go through a symlink or out of the destination is refused: exit 2.
// Symlinks themselves are data (spec §9.3): made verbatim, whatever they point at, never followed.
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeEntry, type Entry } from '../src/model/entry.js';
import { tarOf } from './helpers/archive.js';
import { compressor } from '../src/compress/index.js';
import { portarc } from './helpers/cli.js';
import { isRoot, snapshot, tempDir } from './helpers/tree.js';

const file = (path: string | Buffer, text = 'pwned', extra: Partial<Entry> = {}) => [makeEntry({ path, type: 'file', size: Buffer.byteLength(text), ...extra }), Buffer.from(text)] as [Entry, Buffer];
const link = (path: string, target: string, extra: Partial<Entry> = {}) => [makeEntry({ path, type: 'symlink', linkTarget: Buffer.from(target), ...extra })] as [Entry];
const hard = (path: string, target: string) => [makeEntry({ path, type: 'hardlink', linkTarget: Buffer.from(target) })] as [Entry];
const dir = (path: string, extra: Partial<Entry> = {}) => [makeEntry({ path, type: 'directory', ...extra })] as [Entry];

/** Metadata a write, chmod, chown, utime or xattr through a link would change. */
const EVIL: Partial<Entry> = { mode: 0o4777, uid: 4242, gid: 4343, mtimeNs: 86400n * 1_000_000_000n, xattrs: new Map([['user.evil', Buffer.from('x')]]) };

interface Case {
  name: string;
  /** `outside` is the canary directory's absolute path (for absolute link targets). */
  items: (outside: string) => Array<[Entry, Buffer?]>;
  /** Set up the destination before extraction (a planted symlink, say). */
  prepare?: (dest: string, outside: string) => void;
  /** The entry that must be named in the error output (exit 2), or none (exit 0). */
  offender?: string;
  check?: (dest: string, outside: string) => void;
  /** A loss expected besides (a user.* xattr cannot go on a symlink): exit 1 with this in stderr. */
  loss?: string;
}

const cases: Case[] = [
  { name: 'dot-dot component', items: () => [file('../escape.txt'), file('ok.txt', 'fine')], offender: '../escape.txt' },
  { name: 'dot-dot deep inside', items: () => [file('a/b/../../../escape.txt'), file('ok.txt', 'fine')], offender: 'a/b/../../../escape.txt' },
  {
    name: 'backslash dot-dot: one name on POSIX, made inside',
    items: () => [file('..\\escape.txt', 'inside'), file('ok.txt', 'fine')],
    check: (dest) => expect(readFileSync(join(dest, '..\\escape.txt'), 'utf8')).toBe('inside'),
  },
  {
    name: 'symlink to outside (relative), then a file written through it',
    items: () => [link('l', '../outside'), file('l/escape.txt'), file('ok.txt', 'fine')],
    offender: 'l/escape.txt',
    check: (dest) => expect(readlinkSync(join(dest, 'l'), 'utf8')).toBe('../outside'),
  },
  {
    name: 'absolute symlink to outside, then a file and a directory through it',
    items: (outside) => [link('a', outside), file('a/evil'), dir('a/sub'), file('ok.txt', 'fine')],
    offender: 'a/evil',
  },
  {
    name: 'absolute symlink: made verbatim, not followed',
    items: () => [link('abs', '/etc', EVIL), file('ok.txt', 'fine')],
    loss: 'not restored: abs: xattr: user.evil',
    check: (dest) => expect(readlinkSync(join(dest, 'abs'), 'utf8')).toBe('/etc'),
  },
  {
    name: 'symlink chain leading out',
    items: () => [link('a', 'b'), link('b', '../outside'), file('a/escape.txt'), file('ok.txt', 'fine')],
    offender: 'a/escape.txt',
  },
  {
    name: 'symlink to a file outside, then a file member of the same name: the link is replaced',
    items: (outside) => [link('l', join(outside, 'secret')), file('l', 'replaced', EVIL), file('ok.txt', 'fine')],
    check: (dest) => {
      expect(lstatSync(join(dest, 'l')).isFile()).toBe(true);
      expect(readFileSync(join(dest, 'l'), 'utf8')).toBe('replaced');
    },
  },
  {
    name: 'symlink to a file outside with metadata of its own: nothing chmod-ed, chown-ed, timed or xattr-ed through it',
    items: (outside) => [link('l', join(outside, 'secret'), EVIL), link('d', outside, EVIL), file('ok.txt', 'fine')],
    loss: 'not restored: d: xattr: user.evil',
  },
  {
    name: 'hardlink to a symlink pointing outside: links the symlink, never its target',
    items: (outside) => [link('l', join(outside, 'secret')), hard('h', 'l'), file('ok.txt', 'fine')],
    check: (dest, outside) => {
      expect(lstatSync(join(dest, 'h')).isSymbolicLink()).toBe(true);
      expect(lstatSync(join(dest, 'h')).ino).toBe(lstatSync(join(dest, 'l')).ino);
      expect(lstatSync(join(outside, 'secret')).nlink).toBe(1);
    },
  },
  {
    name: 'symlink to outside, then a directory member of the same name: a real directory replaces it',
    items: () => [link('l', '../outside'), dir('l', EVIL), file('l/f', 'inside'), file('ok.txt', 'fine')],
    check: (dest) => {
      expect(lstatSync(join(dest, 'l')).isDirectory()).toBe(true);
      expect(readFileSync(join(dest, 'l/f'), 'utf8')).toBe('inside');
    },
  },
  { name: 'hardlink to a path outside', items: () => [hard('h', '../outside/secret'), file('ok.txt', 'fine')], offender: 'h' },
  { name: 'hardlink through a symlink member', items: () => [link('l', '../outside'), hard('h', 'l/secret'), file('ok.txt', 'fine')], offender: 'h' },
  {
    name: 'symlink planted in the destination beforehand',
    items: () => [file('pre/escape.txt'), file('ok.txt', 'fine')],
    prepare: (dest, outside) => symlinkSync(outside, join(dest, 'pre')),
    offender: 'pre/escape.txt',
  },
  {
    name: 'symlink to a file planted beforehand, then a file member of that name',
    items: () => [file('planted', 'replaced'), file('ok.txt', 'fine')],
    prepare: (dest, outside) => symlinkSync(join(outside, 'secret'), join(dest, 'planted')),
    check: (dest) => expect(readFileSync(join(dest, 'planted'), 'utf8')).toBe('replaced'),
  },
  {
    name: 'directory replaced by a symlink after its contents',
    items: () => [dir('d'), file('d/x', 'x'), link('d', '.'), file('ok.txt', 'fine')],
    offender: 'd',
  },
];

/** The same archive as plain tar, gzip and seekable zstd: the defences sit behind decompression. */
const FORMATS = ['tar', 'tar.gz', 'tar.zst'] as const;

async function wrap(tar: Buffer, format: (typeof FORMATS)[number]): Promise<Buffer> {
  if (format === 'tar') return tar;
  const parts: Buffer[] = [];
  for await (const c of compressor(format === 'tar.gz' ? 'gzip' : 'zstd', { threads: 1 })((async function* () {
    yield tar;
  })()))
    parts.push(c);
  return Buffer.concat(parts);
}

describe.each(FORMATS)('hostile archives (%s)', (format) => {
  for (const c of cases) {
    it(`${c.name}: nothing outside changes; exit ${c.offender ? '2, the entry named' : c.loss ? '1' : '0'}; the rest extracts`, async () => {
      const base = tempDir('hostile');
      const outside = join(base, 'outside');
      mkdirSync(outside);
      writeFileSync(join(outside, 'secret'), 'canary');
      const dest = join(base, 'dest');
      mkdirSync(dest);
      c.prepare?.(dest, outside);
      const archive = join(base, `evil.${format}`);
      writeFileSync(archive, await wrap(await tarOf(c.items(outside)), format));
      const before = snapshot(outside);
      const r = portarc(['extract', '-f', archive, '-C', dest]);
      expect(snapshot(outside)).toEqual(before);
      expect(readFileSync(join(outside, 'secret'), 'utf8')).toBe('canary');
      expect(readdirSync(base).sort()).toEqual(['dest', `evil.${format}`, 'outside']);
      if (c.offender) {
        expect(r.stderr).toContain(`not restored: ${c.offender}: entry:`);
        expect(r.status, r.stderr).toBe(2);
      } else if (c.loss) {
        expect(r.stderr).toContain(c.loss);
        expect(r.status, r.stderr).toBe(1);
      } else {
        expect(r.stderr).toBe('');
        expect(r.status).toBe(0);
      }
      expect(readFileSync(join(dest, 'ok.txt'), 'utf8')).toBe('fine');
      c.check?.(dest, outside);
    });
  }
});

describe('hardlinks that cannot be made', () => {
  it('to a member that comes later, to a directory, to itself, to nothing: each named with its target, as GNU tar says it (exit 2)', async () => {
    const base = tempDir('hostile-hard');
    const archive = join(base, 'a.tar');
    writeFileSync(archive, await tarOf([hard('a/link', 'a/later'), file('a/later', 'data'), hard('a/dir', 'a'), hard('a/self', 'a/self'), hard('a/none', 'a/missing')]));
    const r = portarc(['extract', '-f', archive, '-C', join(base, 'dest')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('a/link: entry: not extracted: cannot hard link to "a/later": no such file or directory (ENOENT)');
    expect(r.stderr).toContain('a/dir: entry: not extracted: cannot hard link to "a": operation not permitted (EPERM)');
    expect(r.stderr).toContain('a/self: entry: not extracted: cannot hard link to "a/self"');
    expect(r.stderr).toContain('a/none: entry: not extracted: cannot hard link to "a/missing"');
    // The temporary name the link was made under is nobody's business.
    expect(r.stderr).not.toContain('.portarc-');
    expect(readdirSync(join(base, 'dest', 'a'))).toEqual(['later']);
  });

  it.runIf(isRoot)('device numbers past what Linux holds (12-bit major, 20-bit minor): each named with its numbers (exit 2), as GNU tar fails them', async () => {
    const base = tempDir('hostile-dev');
    const archive = join(base, 'a.tar');
    const dev = (path: string, devMajor: number, devMinor: number) => [makeEntry({ path, type: 'chardev', devMajor, devMinor })] as [Entry];
    writeFileSync(archive, await tarOf([dev('minor', 1, 2 ** 20 + 5), dev('major', 2 ** 12 + 1, 3), file('ok.txt', 'fine')]));
    const r = portarc(['extract', '-f', archive, '-C', join(base, 'dest')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`minor: entry: not extracted: cannot make the device node: invalid argument (EINVAL) (device 1,${2 ** 20 + 5}: this system's device numbers hold a major below 4096 and a minor below 1048576)`);
    expect(r.stderr).toContain(`major: entry: not extracted: cannot make the device node: invalid argument (EINVAL) (device ${2 ** 12 + 1},3:`);
    expect(r.stderr).not.toContain('.portarc-');
    expect(readdirSync(join(base, 'dest'))).toEqual(['ok.txt']);
  });
});

describe('paths: the opt-out and leading slashes', () => {
  it('-P keeps ".." components (the explicit opt-out)', async () => {
    const base = tempDir('hostile-P');
    const archive = join(base, 'a.tar');
    writeFileSync(archive, await tarOf([file('../up.txt', 'up')]));
    const r = portarc(['extract', '-P', '-f', archive, '-C', join(base, 'dest')]);
    expect(r.status).toBe(0);
    expect(readFileSync(join(base, 'up.txt'), 'utf8')).toBe('up');
    expect(portarc(['extract', '--help']).stdout).toMatch(/keep\s+"\.\."\s+components\s+in\s+member\s+paths\s+\(a\s+leading\s+"\/"\s+is\s+still\s+removed\)/);
  });

  it('a leading "/" is removed with a warning and the file lands inside', async () => {
    const base = tempDir('hostile-abs');
    const archive = join(base, 'a.tar');
    writeFileSync(archive, await tarOf([file(join(base, 'abs-escape.txt'), 'inside')]));
    const r = portarc(['extract', '-f', archive, '-C', join(base, 'dest')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('leading "/" removed');
    expect(existsSync(join(base, 'abs-escape.txt'))).toBe(false);
    expect(readFileSync(join(base, 'dest', base, 'abs-escape.txt'), 'utf8')).toBe('inside');
  });
});

describe('privileges: root gets them by default, as with tar; the opt-outs and --untrusted drop them', () => {
  const setup = async () => {
    const base = tempDir('hostile-priv');
    const archive = join(base, 'a.tar');
    writeFileSync(
      archive,
      await tarOf([
        [makeEntry({ path: 'suid', type: 'file', mode: 0o4755, size: 2 }), Buffer.from('#!')],
        [makeEntry({ path: 'sgid-dir', type: 'directory', mode: 0o2775 })],
        [makeEntry({ path: 'null', type: 'chardev', devMajor: 1, devMinor: 3, mode: 0o666 })],
        [makeEntry({ path: 'owned', type: 'file', uid: 4242, gid: 4343, size: 0 })],
      ]),
    );
    return { base, archive };
  };

  it('--no-same-permissions --no-same-owner: no setuid/setgid bits, no device nodes, no owners; each reported', async () => {
    const { base, archive } = await setup();
    const dest = join(base, 'dest');
    const r = portarc(['extract', '--no-same-permissions', '--no-same-owner', '-f', archive, '-C', dest]);
    expect(r.status).toBe(1);
    expect(lstatSync(join(dest, 'suid')).mode & 0o7777).toBe(0o755);
    expect(lstatSync(join(dest, 'sgid-dir')).mode & 0o7777).toBe(0o775);
    expect(existsSync(join(dest, 'null'))).toBe(false);
    expect(r.stderr).toMatch(/not restored: null: device/);
    expect(r.stderr).toMatch(/note: setuid\/setgid bits cleared on 2 entries/);
    expect(lstatSync(join(dest, 'owned')).uid).toBe(process.getuid!());
  });

  it.runIf(isRoot)('as root with no flags: all of them', async () => {
    const { base, archive } = await setup();
    const dest = join(base, 'dest');
    const r = portarc(['extract', '-f', archive, '-C', dest]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(lstatSync(join(dest, 'suid')).mode & 0o7777).toBe(0o4755);
    expect(lstatSync(join(dest, 'sgid-dir')).mode & 0o7777).toBe(0o2775);
    expect(lstatSync(join(dest, 'null')).isCharacterDevice()).toBe(true);
    expect([lstatSync(join(dest, 'owned')).uid, lstatSync(join(dest, 'owned')).gid]).toEqual([4242, 4343]);
  });

  it('--untrusted: none of them; the device is refused (exit 2)', async () => {
    const { base, archive } = await setup();
    const dest = join(base, 'dest');
    const r = portarc(['extract', '--untrusted', '-f', archive, '-C', dest]);
    expect(r.status).toBe(2);
    expect(lstatSync(join(dest, 'suid')).mode & 0o7777).toBe(0o755);
    expect(lstatSync(join(dest, 'sgid-dir')).mode & 0o7777).toBe(0o755);
    expect(existsSync(join(dest, 'null'))).toBe(false);
    expect(r.stderr).toContain('not restored: null: entry: device node refused by --untrusted');
    expect(lstatSync(join(dest, 'owned')).uid).toBe(process.getuid!());
  });
});

describe('bounds', () => {
  const run = async (items: Array<[Entry, Buffer?]>, args: string[]) => {
    const base = tempDir('bounds');
    const archive = join(base, 'a.tar');
    writeFileSync(archive, await tarOf(items));
    const dest = join(base, 'dest');
    return { r: portarc(['extract', '-f', archive, '-C', dest, ...args]), dest };
  };
  const kib = (path: string) => file(path, 'x'.repeat(1024));

  it('total bytes: extraction stops with exit 2 naming the limit and the entry', async () => {
    const { r, dest } = await run([kib('a'), kib('b'), kib('c')], ['--limit', 'bytes=2K']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/entry "c".*limit "bytes"/);
    expect(readFileSync(join(dest, 'a'), 'utf8')).toHaveLength(1024);
    expect(existsSync(join(dest, 'c'))).toBe(false);
  });

  it('entry count', async () => {
    const { r } = await run([kib('a'), kib('b'), kib('c')], ['--limit', 'entries=2']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('limit "entries"');
  });

  it('path depth and length: the entry is skipped and named (exit 2), the rest extracts', async () => {
    const deep = Array.from({ length: 40 }, (_, i) => `d${i}`).join('/');
    const { r, dest } = await run([file(deep), file('x'.repeat(200) + '/' + 'y'.repeat(200)), file('ok.txt', 'fine')], ['--limit', 'depth=20', '--limit', 'pathBytes=300']);
    expect(r.status).toBe(2); // members not extracted: a failure
    expect(r.stderr).toContain('d0/d1/d2');
    expect(r.stderr).toContain('"pathBytes"/"depth"');
    expect(readFileSync(join(dest, 'ok.txt'), 'utf8')).toBe('fine');
  });

  it('pax header size', async () => {
    const { r } = await run([file('p/'.repeat(1000) + 'f')], ['--limit', 'headerBytes=1K']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('exceeds the limit of 1024');
  });

  it('xattr count', async () => {
    const xattrs = new Map(Array.from({ length: 5 }, (_, i) => [`user.a${i}`, Buffer.from('v')] as [string, Buffer]));
    const { r } = await run([[makeEntry({ path: 'x', type: 'file', xattrs })], file('ok.txt')], ['--limit', 'xattrs=3']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('entry "x"');
  });

  it('a size field that lies is an error after the data runs out, never an allocation', async () => {
    const base = tempDir('bounds-lie');
    const archive = join(base, 'lie.tar');
    // A ustar header claiming 8 GiB - 1 bytes, followed by 1 KiB of data and the end.
    const good = await tarOf([file('liar', 'x'.repeat(1024))]);
    const hdrAt = good.indexOf(Buffer.from('liar')) ;
    const h = Buffer.from(good.subarray(hdrAt, hdrAt + 512));
    h.write('77777777777\0', 124, 'latin1');
    h.write('        ', 148, 'latin1');
    let sum = 0;
    for (const b of h) sum += b;
    h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
    writeFileSync(archive, Buffer.concat([good.subarray(0, hdrAt), h, good.subarray(hdrAt + 512, hdrAt + 512 + 1024)]));
    const r = portarc(['extract', '-f', archive, '-C', join(base, 'dest')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/entry "liar".*truncated/);
    expect(existsSync(join(base, 'dest/liar'))).toBe(false);
  });
});

describe('names that collide on case- or normalisation-folding filesystems', () => {
  it('the second of two colliding names is refused and named (forced folding, as on macOS/Windows)', async () => {
    const { extract } = await import('../src/api/extract.js');
    const base = tempDir('fold');
    const archive = join(base, 'a.tar');
    const nfc = 'caf\u00e9';
    const nfd = 'cafe\u0301';
    writeFileSync(archive, await tarOf([dir('Docs'), link('DOCS', '../outside'), file(`${nfc}.txt`, 'one'), file(`${nfd}.txt`, 'two'), file('Docs/ok.txt', 'fine')]));
    const dest = join(base, 'dest');
    mkdirSync(dest);
    const r = await extract(archive, dest, { foldNames: true });
    const refused = r.losses.map((l) => l.path);
    expect(refused).toEqual(['DOCS', `${nfd}.txt`]);
    expect(r.losses[0]!.reason).toContain('collides with "Docs"');
    expect(readFileSync(join(dest, `${nfc}.txt`), 'utf8')).toBe('one');
    expect(readFileSync(join(dest, 'Docs/ok.txt'), 'utf8')).toBe('fine');
  });

  it('a member whose directory the filesystem would take for another (Dir/a, then dir/b with no entry of its own) is refused, not merged into it', async () => {
    const { extract } = await import('../src/api/extract.js');
    const base = tempDir('fold-parent');
    const archive = join(base, 'a.tar');
    writeFileSync(archive, await tarOf([file('Dir/a', 'one'), file('dir/b', 'two'), file('Dir/c', 'three'), file('x/DIR', 'four')]));
    const dest = join(base, 'dest');
    mkdirSync(dest);
    const r = await extract(archive, dest, { foldNames: true });
    expect(r.losses.map((l) => [l.path, l.reason])).toEqual([['dir/b', 'directory "dir" collides with "Dir" on this filesystem (case or Unicode normalisation); not extracted']]);
    expect(readFileSync(join(dest, 'Dir/c'), 'utf8')).toBe('three');
    expect(readFileSync(join(dest, 'x/DIR'), 'utf8')).toBe('four');
  });

  it('a case-sensitive destination (ext4 here) keeps both names', async () => {
    const { extract } = await import('../src/api/extract.js');
    const base = tempDir('fold-ext4');
    const archive = join(base, 'a.tar');
    writeFileSync(archive, await tarOf([file('Readme', 'a'), file('README', 'b')]));
    const dest = join(base, 'dest');
    mkdirSync(dest);
    const r = await extract(archive, dest);
    expect(r.losses).toEqual([]);
    expect(readFileSync(join(dest, 'README'), 'utf8')).toBe('b');
    expect(readFileSync(join(dest, 'Readme'), 'utf8')).toBe('a');
  });
});

describe('resources', () => {
  it('failed extractions and listings release their files (no descriptor leak)', async () => {
    const { extract } = await import('../src/api/extract.js');
    const { list } = await import('../src/api/list.js');
    const base = tempDir('leak');
    // A damaged header early, then megabytes the reader never gets to: it stops with input left.
    const good = await tarOf([file('a.txt', 'x'), file('b.txt', 'y'), file('c.bin', 'z'.repeat(3 << 20))]);
    const at = good.indexOf(Buffer.from('b.txt'));
    const damaged = Buffer.from(good);
    damaged[at + 150] ^= 0xff; // inside b.txt's checksum field
    const bad = join(base, 'bad.tar');
    writeFileSync(bad, damaged);
    const fds = () => readdirSync('/proc/self/fd').length;
    const before = fds();
    for (let i = 0; i < 200; i++) {
      await expect(extract(bad, join(base, `d${i % 3}`), { fsync: false })).rejects.toThrow(/b\.txt|checksum/);
      await expect((async () => {
        for await (const _ of list(bad));
      })()).rejects.toThrow(/checksum/);
    }
    expect(fds() - before).toBeLessThan(5);
  });
});
