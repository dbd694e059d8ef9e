// Acceptance: portarc archives against the REAL other programs, both ways. GNU tar 1.34, bsdtar
// 3.6.2, Python's tarfile and 7-Zip extract or list what portarc writes, and portarc extracts what
// GNU tar and bsdtar write (pax, gnu, restricted pax, and every GNU sparse flavour), with nothing
// lost. What each tool does is in /work/shared/FACTS.md §1–§3 and §7.
//
// Where a tool cannot restore something by its own design, exactly that field of exactly those
// entries is left out (or checked against the tool's known deviation), with the reason beside it.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { portarc } from './helpers/cli.js';
import { BAD_NAME, LONG_PATH, buildTree, isRoot, sh, snapshot, tempDir, type Node } from './helpers/tree.js';

type Snapshot = Record<string, Node>;

interface ToolRun {
  status: number;
  stdout: Buffer;
  /** latin1, so that raw name bytes in messages survive for matching. */
  stderr: string;
}

function tool(cmd: string, args: string[], env?: NodeJS.ProcessEnv): ToolRun {
  const r = spawnSync(cmd, args, { maxBuffer: 1 << 28, env: { ...process.env, ...env } });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr.toString('latin1') };
}

/** A copy of the snapshot without one field of one entry. */
function omit(snap: Snapshot, path: string, field: keyof Node): Snapshot {
  const copy = structuredClone(snap);
  expect(copy[path], `${path} is in the snapshot`).toBeDefined();
  delete copy[path]![field];
  return copy;
}

const SECOND = 1_000_000_000n;

/**
 * libarchive 3.6.2 treats the fraction of a NEGATIVE pax time as a positive offset from the whole
 * seconds before the point (observed here, both ways): bsdtar reads POSIX "mtime=-86400123.5"
 * (what portarc and GNU tar write) as -86400123 s + 0.5 s = -86400122.5 s, and writes -86400123.5 s
 * as "mtime=-86400124.5", which every POSIX reader takes as -86400124.5 s. So through libarchive a
 * pre-1970 time with a fraction comes out exactly one second off, in a known direction.
 */
function expectLibarchiveNegativeTime(got: Snapshot, want: Snapshot, path: string, direction: 1n | -1n): void {
  const w = BigInt(want[path]!.mtimeNs!);
  expect(w).toBeLessThan(0n);
  expect([w, w + direction * SECOND].map(String)).toContain(got[path]!.mtimeNs);
}

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Archive path bytes of a snapshot key, as portarc writes them for `create -C src .`. */
function memberName(key: string): Buffer {
  if (key === '.') return Buffer.from('.');
  const rel = key.startsWith('hex:') ? Buffer.from(key.slice(4), 'hex') : Buffer.from(key);
  return Buffer.concat([Buffer.from('./'), rel]);
}

/**
 * Other tools extract the manifest and trailer as ordinary files (spec/manifest.md §2, spec Appendix
 * B): check they are there, then leave them out of the comparison with the source tree.
 */
function dropManifest(snap: Snapshot): Snapshot {
  const copy = { ...snap };
  for (const k of ['.portarc', '.portarc/manifest.xml', '.portarc/trailer']) {
    expect(copy[k], `${k} extracted as one more file`).toBeDefined();
    delete copy[k];
  }
  return copy;
}

const BAD_MEMBER = Buffer.concat([Buffer.from('./d/'), BAD_NAME]).toString('latin1');

describe('other programs read portarc archives', () => {
  const dir = tempDir('interop');
  const src = buildTree(dir);
  const before = snapshot(src);
  const archive = join(dir, 'portarc.tar');

  beforeAll(() => {
    const c = portarc(['create', '-f', archive, '-C', src, '.']);
    expect(c.stderr).toBe('');
    expect(c.status).toBe(0);
  });

  it('the reference tree has the entries the interop tests rely on', () => {
    expect(before[LONG_PATH]!.type).toBe('file');
    expect(before['d/xattrs']!.xattrs!['user.binary']).toBe('0x00ff0a3d0001');
    expect(before['d/link-to-hello']!.xattrs!['security.selinux']).toBeDefined();
    expect(before['acl-dir']!.xattrs!['system.posix_acl_default']).toBeDefined();
    expect(before['d/fifo']!.type).toBe('fifo');
    if (isRoot) expect(before['d/null']!.type).toBe('chardev');
    expect(BigInt(before['d/old']!.mtimeNs!)).toBeLessThan(0n);
  });

  it('GNU tar --xattrs --selinux --acls -xp restores the identical tree, without warnings', () => {
    const out = join(dir, 'gnutar-x');
    mkdirSync(out);
    const r = tool('tar', ['--xattrs', '--xattrs-include=*', '--selinux', '--acls', '-xpf', archive, '-C', out]);
    expect(r.status).toBe(0);
    // GNU tar warns about every mtime before 1970 it restores ("implausibly old time stamp", its
    // `timestamp` warning class), also from its own archives; it restores the time exactly all the
    // same (checked below).
    // Any other line (an unknown keyword, a LIBARCHIVE.xattr record, a failed xattr) fails the test.
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    expect(lines.filter((l) => !/^tar: \.\/d\/old: implausibly old time stamp 1967-/.test(l))).toEqual([]);
    expect(dropManifest(snapshot(out))).toEqual(before);
  });

  it('bsdtar -xp restores the identical tree', () => {
    const out = join(dir, 'bsdtar-x');
    mkdirSync(out);
    const r = tool('bsdtar', ['-xpf', archive, '-C', out]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const got = dropManifest(snapshot(out));
    // bsdtar sets the time of the `./` member when it reads it, instead of deferring it like other
    // directories, so extracting the members under it moves it again. Observed with bsdtar's own
    // archives too (`bsdtar -cf A -C d .` then `bsdtar -xpf A`): mode restored, mtime not.
    // The pre-1970 fractional time: see expectLibarchiveNegativeTime (read as +1 s).
    expectLibarchiveNegativeTime(got, before, 'd/old', 1n);
    const strip = (s: Snapshot) => omit(omit(s, '.', 'mtimeNs'), 'd/old', 'mtimeNs');
    expect(strip(got)).toEqual(strip(before));
  });

  it("Python's tarfile lists every member, the 300-byte path and the non-UTF-8 name included, without error", () => {
    // surrogateescape: print() writes the non-UTF-8 name back as its original bytes.
    const r = tool('python3', ['-c', 'import tarfile,sys; [print(m.name) for m in tarfile.open(sys.argv[1])]', archive], {
      PYTHONIOENCODING: 'utf-8:surrogateescape',
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const names = r.stdout.toString('latin1').split('\n').filter((l) => l !== '');
    expect(names).toContain(`./${LONG_PATH}`);
    expect(names).toContain(BAD_MEMBER);
    const expected = [...Object.keys(before).map((k) => memberName(k).toString('latin1')), '.portarc/manifest.xml', '.portarc/trailer'];
    expect([...names].sort()).toEqual([...expected].sort());
  });

  it('7-Zip extracts every member under its right path with the right content, the 300-byte path and binary xattrs included', () => {
    // Its own tree: here the 300-byte path ALSO has a NUL-holding xattr. 7-Zip drops any x header
    // with a NUL in it (FACTS §3.8), so portarc must carry that value in base64 (LIBARCHIVE.xattr)
    // for members that only the x header can place; d/xattrs has a short path and keeps SCHILY.
    const own = tempDir('interop-7z');
    const tree = buildTree(own);
    sh(`setfattr -n user.binary -v 0x00ff0a3d0001 '${LONG_PATH}'`, tree);
    const want = snapshot(tree);
    expect(want[LONG_PATH]!.xattrs!['user.binary']).toBe('0x00ff0a3d0001');
    const archive = join(own, 'portarc.tar');
    const c = portarc(['create', '-f', archive, '-C', tree, '.']);
    expect(c.stderr).toBe('');
    expect(c.status).toBe(0);
    const out = join(own, '7z-x');
    // -snld: 7-Zip 26.02 refuses to make a symlink whose target climbs above the link's own
    // directory, "ERROR: Dangerous link path was ignored : ./d/dangling : ../nowhere", and exits 2,
    // although d/../nowhere stays inside the output (its symlink checks were tightened in 25.01).
    // -snld turns that check off; nothing else about the extraction changes.
    const r = tool('7z', ['x', '-y', '-snld', `-o${out}`, archive]);
    // 7-Zip prints "WARNINGS: Headers Error" because d/xattrs' x header holds a NUL (the binary
    // user.binary value) and 7-Zip drops such headers whole (FACTS §3.8); the ustar fields still
    // place that member, which is what is checked here. Warnings are allowed, errors are not.
    expect(r.status, r.stdout.toString() + r.stderr).toBe(0);
    const got = dropManifest(snapshot(out, { owners: false, xattrs: false, dirTimes: false }));
    // Every member, and nothing else (no truncated names, no PaxHeader stand-ins).
    expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
    for (const [key, w] of Object.entries(want)) {
      const node = got[key]!;
      if (w.type === 'file') {
        expect({ key, type: node.type, sha256: node.sha256 }).toEqual({ key, type: 'file', sha256: w.sha256 });
      } else if (w.type === 'symlink' || w.type === 'dir') {
        expect({ key, type: node.type, link: node.link }).toEqual({ key, type: w.type, link: w.link });
      }
      // fifo, chardev, blockdev: 7-Zip has no code to make special files on Linux and writes each
      // as an empty regular file (exit 0); their presence under the right name is checked above.
    }
    expect(sha256(join(out, LONG_PATH))).toBe(want[LONG_PATH]!.sha256);
    expect(sha256(join(out, 'd/xattrs'))).toBe(want['d/xattrs']!.sha256);
  });
});

describe('portarc extracts what GNU tar and bsdtar write', () => {
  const dir = tempDir('interop-rd');
  const src = buildTree(dir);
  const before = snapshot(src);

  /** Extract with portarc: exit 0, nothing on stderr (no warning, no loss). */
  function portarcExtract(archive: string, out: string): void {
    const x = portarc(['extract', '-p', '-f', archive, '-C', out]);
    expect(x.stderr).toBe('');
    expect(x.status).toBe(0);
  }

  it('GNU tar --format=pax --xattrs --selinux --acls: identical tree, to the nanosecond', () => {
    const archive = join(dir, 'gnu-pax.tar');
    const c = tool('tar', ['--format=pax', '--xattrs', '--xattrs-include=*', '--selinux', '--acls', '-cpf', archive, '-C', src, '.']);
    expect(c.stderr).toBe('');
    expect(c.status).toBe(0);
    const out = join(dir, 'gnu-pax-x');
    portarcExtract(archive, out);
    expect(snapshot(out)).toEqual(before);
  });

  it('GNU tar --format=gnu (L long names, base-256 negative time, devices): identical tree to the second', () => {
    // The gnu format carries no xattrs, labels or ACLs and only whole-second mtimes (rounded down,
    // also before 1970): the tree is built without them (rich: false), times compared in seconds.
    const plainDir = tempDir('interop-gnu');
    const plain = buildTree(plainDir, { rich: false });
    const archive = join(plainDir, 'gnu.tar');
    const c = tool('tar', ['--format=gnu', '-cpf', archive, '-C', plain, '.']);
    expect(c.stderr).toBe('');
    expect(c.status).toBe(0);
    expect(readFileSync(archive).toString('latin1', 257, 265)).toBe('ustar  \0');
    const out = join(plainDir, 'gnu-x');
    portarcExtract(archive, out);
    expect(snapshot(out, { mtimeGrain: SECOND })).toEqual(snapshot(plain, { mtimeGrain: SECOND }));
  });

  /** bsdtar warns (without a newline, exit 0) that it stores the non-UTF-8 name as raw bytes. */
  function bsdtarCreateStderr(stderr: string): string {
    return stderr.replace(`: Can't translate pathname '${BAD_MEMBER}' to UTF-8`, '').trim();
  }

  it('bsdtar --format=pax (SCHILY + LIBARCHIVE xattrs, comma ACLs with ids, mode from group::): identical tree, to the nanosecond', () => {
    const archive = join(dir, 'bsd-pax.tar');
    const c = tool('bsdtar', ['--format=pax', '-cf', archive, '-C', src, '.']);
    expect(bsdtarCreateStderr(c.stderr)).toBe('');
    expect(c.status).toBe(0);
    const out = join(dir, 'bsd-pax-x');
    portarcExtract(archive, out);
    const got = snapshot(out);
    // The pre-1970 fractional time: see expectLibarchiveNegativeTime (written as -1 s).
    expectLibarchiveNegativeTime(got, before, 'd/old', -1n);
    expect(omit(got, 'd/old', 'mtimeNs')).toEqual(omit(before, 'd/old', 'mtimeNs'));
  });

  it("bsdtar's default format (restricted pax): identical tree, ns times where it writes an x header", () => {
    const archive = join(dir, 'bsd-default.tar');
    const c = tool('bsdtar', ['-cf', archive, '-C', src, '.']);
    expect(bsdtarCreateStderr(c.stderr)).toBe('');
    expect(c.status).toBe(0);
    const out = join(dir, 'bsd-default-x');
    portarcExtract(archive, out);
    // Restricted pax writes an x header (and in it a fractional mtime) only for members that need
    // one for another reason (xattrs, ACLs, long names, times ustar cannot hold); all others carry
    // whole seconds in the ustar field. So the tree is compared in seconds, and the members with an
    // x header to the nanosecond.
    const got = snapshot(out, { mtimeGrain: SECOND });
    const want = snapshot(src, { mtimeGrain: SECOND });
    expectLibarchiveNegativeTime(got, want, 'd/old', -1n);
    expect(omit(got, 'd/old', 'mtimeNs')).toEqual(omit(want, 'd/old', 'mtimeNs'));
    const exact = snapshot(out);
    expect(exact['d/ns']!.mtimeNs).toBe('1700000000123456789'); // has an ACL
    expect(exact['d/sub']!.mtimeNs).toBe('1600000000987654321'); // has user.dir
    expect(exact['d/xattrs']!.mtimeNs).toBe(before['d/xattrs']!.mtimeNs);
  });
});

describe('sparse files between GNU tar, bsdtar and portarc', () => {
  const dir = tempDir('interop-sparse');
  const src = join(dir, 'src');
  mkdirSync(join(src, 'sub'), { recursive: true });
  // 20 MiB: seven data runs (more than the four an old-GNU header holds, so extension blocks are
  // needed), unaligned, one at the very end, and a hole at the start.
  const MiB = 1 << 20;
  sh(
    `truncate -s 20M sub/sparse
     for i in 1 3 5 7 9 11; do printf "chunk$i" | dd of=sub/sparse bs=1 seek=$((i * ${MiB} + i)) conv=notrunc status=none; done
     printf end | dd of=sub/sparse bs=1 seek=$((20 * ${MiB} - 3)) conv=notrunc status=none`,
    src,
  );
  const file = join(src, 'sub/sparse');
  const size = 20 * MiB;
  const digest = sha256(file);

  /** The restored file: same size and content, and still full of holes. */
  function expectSparseCopy(path: string): void {
    const st = lstatSync(path);
    expect(st.size).toBe(size);
    expect(sha256(path)).toBe(digest);
    expect(st.blocks * 512).toBeLessThan(size / 4);
  }

  it('the source file really is sparse', () => {
    expect(lstatSync(file).blocks * 512).toBeLessThan(size / 4);
  });

  // The gnu format stores whole-second mtimes, so that flavour is compared in seconds.
  const flavours: Array<[string, string[], string, bigint]> = [
    ['pax sparse 0.0', ['--format=pax', '-S', '--sparse-version=0.0'], 'GNU.sparse.numblocks=', 1n],
    ['pax sparse 0.1', ['--format=pax', '-S', '--sparse-version=0.1'], 'GNU.sparse.map=', 1n],
    ['pax sparse 1.0', ['--format=pax', '-S', '--sparse-version=1.0'], 'GNU.sparse.major=1', 1n],
    ['old GNU type S', ['--format=gnu', '-S'], '', SECOND],
  ];
  for (const [label, args, marker, mtimeGrain] of flavours) {
    it(`portarc reads GNU tar's ${label}: same content, holes kept, real name`, () => {
      const archive = join(dir, `${label.replace(/\W+/g, '-')}.tar`);
      const c = tool('tar', [...args, '-cf', archive, '-C', src, 'sub']);
      expect(c.stderr).toBe('');
      expect(c.status).toBe(0);
      const bytes = readFileSync(archive);
      expect(bytes.length).toBeLessThan(size / 4);
      // GNU tar really wrote that flavour.
      if (marker) expect(bytes.includes(marker)).toBe(true);
      else {
        // The member after sub/'s header is type S, with extension blocks for runs 5 to 7.
        expect(String.fromCharCode(bytes[512 + 156]!)).toBe('S');
        expect(bytes[512 + 482]).toBe(1);
      }
      const out = join(dir, `${label.replace(/\W+/g, '-')}-x`);
      const x = portarc(['extract', '-p', '-f', archive, '-C', out]);
      expect(x.stderr).toBe('');
      expect(x.status).toBe(0);
      expectSparseCopy(join(out, 'sub/sparse'));
      // Nothing else (no GNUSparseFile.<pid> stand-in directory), and the file's metadata.
      expect(snapshot(join(out, 'sub'), { xattrs: false, mtimeGrain })).toEqual(snapshot(join(src, 'sub'), { xattrs: false, mtimeGrain }));
    });
  }

  it('portarc create --sparse is read back by GNU tar, bsdtar and portarc with identical content and holes', () => {
    const archive = join(dir, 'portarc-sparse.tar');
    const c = portarc(['create', '--sparse', '-f', archive, '-C', src, 'sub']);
    expect(c.stderr).toBe('');
    expect(c.status).toBe(0);
    const bytes = readFileSync(archive);
    expect(bytes.includes('GNU.sparse.major=1')).toBe(true);
    expect(bytes.length).toBeLessThan(size / 4);
    const readers: Array<[string, string, string[]]> = [
      ['gnutar', 'tar', ['-xpf', archive, '-C']],
      ['bsdtar', 'bsdtar', ['-xpf', archive, '-C']],
    ];
    for (const [tag, cmd, args] of readers) {
      const out = join(dir, `portarc-sparse-${tag}`);
      mkdirSync(out);
      const r = tool(cmd, [...args, out]);
      expect({ tag, stderr: r.stderr, status: r.status }).toEqual({ tag, stderr: '', status: 0 });
      expectSparseCopy(join(out, 'sub/sparse'));
      expect(snapshot(join(out, 'sub'), { xattrs: false })).toEqual(snapshot(join(src, 'sub'), { xattrs: false }));
    }
    const out = join(dir, 'portarc-sparse-portarc');
    const x = portarc(['extract', '-p', '-f', archive, '-C', out]);
    expect(x.stderr).toBe('');
    expect(x.status).toBe(0);
    expectSparseCopy(join(out, 'sub/sparse'));
    expect(snapshot(join(out, 'sub'), { xattrs: false })).toEqual(snapshot(join(src, 'sub'), { xattrs: false }));
  });
});
