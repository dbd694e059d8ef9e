// Tests for src/fs/sys.ts, the system-call layer: every test runs against the native addon and
// against the getfattr/setfattr/mknod fallback, which must agree (the fallback only loses
// sub-microsecond time digits). Linux only: this machine is root on ext4 without an SELinux
// policy, so security.selinux takes any string.

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSys, type Sys } from '../src/fs/sys.js';

const isRoot = process.getuid?.() === 0;
const LABEL = Buffer.from('system_u:object_r:tmp_t:s0');
const NON_UTF8 = Buffer.from([0x66, 0xff, 0x2e, 0x74]); // "f\xff.t"

let root: string;
beforeAll(() => {
  root = fs.mkdtempSync(join(os.tmpdir(), 'portarc-sys-'));
});
afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

const floorDiv = (a: bigint, b: bigint) => (a % b < 0n ? a / b - 1n : a / b);
const micro = (ns: bigint) => floorDiv(ns, 1000n);

/** Every reader available here: the fallback, and the addon when it is built. */
function readers(): Sys[] {
  const native = loadSys();
  const fallback = loadSys({ native: false });
  return native === fallback ? [fallback] : [native, fallback];
}

/** The xattrs of one path, as every reader sees them (they must agree). */
async function xattrsOf(path: Buffer): Promise<Map<string, Buffer>> {
  const seen = await Promise.all(readers().map(async (r) => (await r.getXattrs([path]))[0]!));
  for (const s of seen) {
    expect(s).toBeInstanceOf(Map);
    expect(s).toEqual(seen[0]);
  }
  return seen[0] as Map<string, Buffer>;
}

it('loads the native addon on this machine (unless PORTARC_NO_NATIVE=1)', () => {
  expect(loadSys({ native: false }).kind).toBe('fallback');
  if (process.env.PORTARC_NO_NATIVE === '1') {
    expect(loadSys().kind).toBe('fallback');
  } else {
    expect(loadSys().kind).toBe('native');
  }
  expect(loadSys()).toBe(loadSys()); // cached
});

describe.each(['native', 'fallback'] as const)('%s', (kind) => {
  const sys = loadSys({ native: kind === 'native' });
  let n = 0;
  let dir: Buffer;
  beforeAll(() => {
    dir = Buffer.from(fs.mkdtempSync(join(root, `${kind}-`)) + '/');
  });
  /** A fresh path in this kind's directory; created as an empty file unless `create` is false. */
  function at(name: string | Buffer = `f${n++}`, create = true): Buffer {
    const path = Buffer.concat([dir, typeof name === 'string' ? Buffer.from(name) : name]);
    if (create) fs.writeFileSync(path, '');
    return path;
  }

  describe.skipIf(sys.kind !== kind)('xattrs', () => {
    it('round-trips binary and empty values, and odd names', async () => {
      const path = at();
      const values = new Map<string, Buffer>([
        ['user.bin', Buffer.from([0x00, 0xff, 0x00, 0x0a, 0x5c])],
        ['user.empty', Buffer.alloc(0)],
        ['user.ff', Buffer.from([0xff])],
        ['user.odd=name\\x', Buffer.from('v')],
        ['user.big', Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7) & 0xff))],
      ]);
      const items = [...values].map(([name, value]) => ({ path, name, value }));
      expect(await sys.setXattrs(items)).toEqual([]);
      expect(await xattrsOf(path)).toEqual(values);
    });

    it('reads many paths in one call, with results and errors per path', async () => {
      const names = ['a: b', 'nl\nx', 'back\\slash', ' lead', 'trail ', '-dash', 'tab\tx'];
      const paths = [...names.map((nm) => at(nm)), ...Array.from({ length: 300 }, () => at())];
      const missing = at('missing', false);
      const bare = at(); // no xattrs at all
      const items = paths.map((path, i) => ({ path, name: 'user.i', value: Buffer.from(String(i)) }));
      expect(await sys.setXattrs(items)).toEqual([]);

      const empty = Buffer.alloc(0); // what src/fs/scan.ts passes for a path it could not lstat
      const asked = [...paths.slice(0, 150), missing, bare, empty, paths[3]!, ...paths.slice(150)];
      const got = await sys.getXattrs(asked);
      expect(got).toHaveLength(asked.length);
      got.forEach((result, i) => {
        const path = asked[i]!;
        if (path === missing || path === empty) {
          expect(result).toBeInstanceOf(Error);
          expect((result as NodeJS.ErrnoException).code).toBe('ENOENT');
        } else if (path === bare) {
          expect(result).toEqual(new Map());
        } else {
          expect(result).toEqual(new Map([['user.i', Buffer.from(String(paths.indexOf(path)))]]));
        }
      });
    });

    it("reads and writes a symlink's own security.selinux, not its target's", async () => {
      const target = at();
      const link = at(undefined, false);
      fs.symlinkSync(target, link);
      expect(await sys.setXattrs([{ path: link, name: 'security.selinux', value: LABEL }])).toEqual([]);
      expect((await xattrsOf(link)).get('security.selinux')).toEqual(LABEL);
      expect((await xattrsOf(target)).get('security.selinux')).toBeUndefined();
    });

    it('sees system.posix_acl_access and can copy it to another file', async () => {
      const from = at();
      const to = at();
      execFileSync('setfacl', ['-m', 'u:1234:rw', from.toString()]);
      const acl = (await xattrsOf(from)).get('system.posix_acl_access');
      expect(acl?.subarray(0, 4)).toEqual(Buffer.from([2, 0, 0, 0])); // POSIX ACL xattr version 2
      expect(await sys.setXattrs([{ path: to, name: 'system.posix_acl_access', value: acl! }])).toEqual([]);
      expect(execFileSync('getfacl', ['-n', '-p', '--omit-header', to.toString()]).toString()).toContain('user:1234:rw-');
    });

    it('reports the items that failed and sets the others', async () => {
      const ok1 = at();
      const ok2 = at();
      const link = at(undefined, false);
      fs.symlinkSync(ok1, link);
      const missing = at('gone', false);
      const value = Buffer.from('x');
      const failures = await sys.setXattrs([
        { path: ok1, name: 'user.a', value },
        { path: link, name: 'security.selinux', value: LABEL },
        { path: link, name: 'user.a', value }, // user.* is not allowed on symlinks
        { path: missing, name: 'user.a', value },
        { path: ok2, name: 'user.a', value },
      ]);
      expect(failures.map((f) => [f.path, f.name, f.code])).toEqual([
        [link, 'user.a', 'EPERM'],
        [missing, 'user.a', 'ENOENT'],
      ]);
      expect(failures[0]!.error).toMatch(/Operation not permitted/);
      expect((await xattrsOf(ok1)).get('user.a')).toEqual(value);
      expect((await xattrsOf(ok2)).get('user.a')).toEqual(value);
      expect((await xattrsOf(link)).get('security.selinux')).toEqual(LABEL);
    });
  });

  describe.skipIf(sys.kind !== kind)('a non-UTF-8 file name', () => {
    // The fallback passes paths to its programs as raw bytes (xargs -0), so both kinds work.
    it('has xattrs, times and fifos', async () => {
      const path = at(NON_UTF8);
      expect(await sys.setXattrs([{ path, name: 'user.q', value: Buffer.from([0xff]) }])).toEqual([]);
      expect(await xattrsOf(path)).toEqual(new Map([['user.q', Buffer.from([0xff])]]));
      sys.setTimes(path, 1_000_000_000_000_000_000n, 1_000_000_000_000_000_000n);
      expect(micro(fs.lstatSync(path, { bigint: true }).mtimeNs)).toBe(micro(1_000_000_000_000_000_000n));
      const fifo = at(Buffer.concat([NON_UTF8, Buffer.from('.fifo')]), false);
      sys.mknod(fifo, 'fifo', 0o600, 0, 0);
      expect(fs.lstatSync(fifo).isFIFO()).toBe(true);
    });
  });

  describe.skipIf(sys.kind !== kind)('setTimes', () => {
    // The fallback gets the microsecond right; below it, Node 20 writes zeros and newer Node (libuv
    // ≥ 1.49) the double's nanoseconds. So the fallback is checked to the microsecond.
    const expected = (ns: bigint) => (kind === 'native' ? ns : floorDiv(ns, 1000n));
    const got = (ns: bigint) => (kind === 'native' ? ns : floorDiv(ns, 1000n));
    const precision = kind === 'native' ? 'exact' : 'microseconds';

    it('keeps nanoseconds (native) or floors to microseconds (fallback)', () => {
      const path = at();
      const atime = 1_700_000_000_123_456_789n;
      const mtime = 1_600_000_000_987_654_321n;
      expect(sys.setTimes(path, atime, mtime)).toBe(precision);
      const st = fs.lstatSync(path, { bigint: true });
      expect(got(st.atimeNs)).toBe(expected(atime));
      expect(got(st.mtimeNs)).toBe(expected(mtime));
    });

    it("says 'exact' only when the file holds exactly the times asked for", () => {
      const path = at();
      const said = sys.setTimes(path, 1_700_000_000_123_456_000n, -86_400_000_000_000n);
      const st = fs.lstatSync(path, { bigint: true });
      const exact = st.atimeNs === 1_700_000_000_123_456_000n && st.mtimeNs === -86_400_000_000_000n;
      expect(said).toBe(exact ? 'exact' : 'microseconds');
      // Node 20 (libuv < 1.49) truncates to whole microseconds, so there the fallback is exact.
      if (kind === 'native' || process.versions.node.startsWith('20.')) expect(said).toBe('exact');
    });

    it('handles times before 1970', () => {
      const path = at();
      for (const t of [-86400_000_000_007n, -1n, -1_500_000_000_000_000_123n, -999n]) {
        sys.setTimes(path, t, t);
        expect(got(fs.lstatSync(path, { bigint: true }).mtimeNs)).toBe(expected(t));
      }
    });

    it('never misses the microsecond through float rounding', () => {
      const path = at();
      let seed = 12345n;
      for (let i = 0; i < 200; i++) {
        seed = (seed * 6364136223846793005n + 1442695040888963407n) % 2n ** 64n;
        const t = (seed % 8_000_000_000_000_000_000n) - 2_000_000_000_000_000_000n; // ~1906..2223
        sys.setTimes(path, t, t);
        expect(got(fs.lstatSync(path, { bigint: true }).mtimeNs)).toBe(expected(t));
      }
    });

    it('changes a symlink, not its target', () => {
      const target = at();
      const link = at(undefined, false);
      fs.symlinkSync(target, link);
      const before = fs.statSync(target, { bigint: true }).mtimeNs;
      sys.setTimes(link, 1_234_567_890_123_456_789n, 1_234_567_890_123_456_789n);
      expect(got(fs.lstatSync(link, { bigint: true }).mtimeNs)).toBe(expected(1_234_567_890_123_456_789n));
      expect(fs.statSync(target, { bigint: true }).mtimeNs).toBe(before);
    });
  });

  describe.skipIf(sys.kind !== kind)('mknod', () => {
    it('makes a fifo with exactly the given permissions', () => {
      const path = at(undefined, false);
      sys.mknod(path, 'fifo', 0o640, 0, 0);
      const st = fs.lstatSync(path);
      expect(st.isFIFO()).toBe(true);
      expect(st.mode & 0o7777).toBe(0o640);
    });

    it('throws an error with a code when the path exists', () => {
      const path = at();
      expect(() => sys.mknod(path, 'fifo', 0o644, 0, 0)).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    });

    it.skipIf(!isRoot)('makes character and block devices (root)', () => {
      const chr = at(undefined, false);
      sys.mknod(chr, 'chardev', 0o666, 1, 3);
      const st = fs.lstatSync(chr);
      expect(st.isCharacterDevice()).toBe(true);
      expect(st.rdev).toBe((1 << 8) | 3);
      expect(st.mode & 0o7777).toBe(0o666);
      const blk = at(undefined, false);
      sys.mknod(blk, 'blockdev', 0o600, 7, 200);
      expect(fs.lstatSync(blk).isBlockDevice()).toBe(true);
      expect(fs.lstatSync(blk).rdev).toBe((7 << 8) | 200);
    });
  });
});
