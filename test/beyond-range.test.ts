// Values past what a system's types hold, which were once cast down without a word.
// Times past what an int64 of nanoseconds holds (1677-09-21 to 2262-04-11). ext4 keeps 1901-2446
// and tmpfs any time, so real files have them: the addon's scan once wrapped a file of 2400 into 1815
// (exit 0), and its restore refused a GNU tar archive holding one. A time the destination cannot hold
// is stored clamped without an error (ext4: 2500 becomes 2446): extract reads it back and reports it.
// Owner ids past 32 bits (pax allows any): uid 4294967297 was restored as uid 1, 4294967295 (chown's
// "unchanged") left root's; an ACL entry with such an id failed the whole file. A device major of
// 2^33 was made as major 0. `convert` to zip cut both to 32 bits.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import { asIfNative, portarc, ROUNDED_TIMES } from './helpers/cli.js';
import { tempDir } from './helpers/tree.js';

const VECTOR = fileURLToPath(new URL('../conformance/vectors/1.0/y_times-beyond-int64-ns.tar', import.meta.url));
/** The vector's times (its JSON's mtimeNs). */
const VECTOR_TIMES: Record<string, bigint> = {
  t: 16725225600000000000n,
  't/y2400.txt': 13569465600123456789n,
  't/y1600.txt': -11676096000750000000n,
  't/y2500.txt': 16725225600500000000n,
};

/** Each member's mtime as Python's tarfile reads it: the pax record's decimal seconds, else the ustar field's. */
function mtimes(archive: string): Record<string, string> {
  const out = execFileSync('python3', ['-c', `
import json, sys, tarfile
with tarfile.open(sys.argv[1]) as t:
    print(json.dumps({m.name: m.pax_headers.get("mtime", str(m.mtime)) for m in t}))
`, archive], { encoding: 'utf8' });
  return JSON.parse(out);
}

/** Decimal seconds ("-12.75") to nanoseconds. */
function ns(seconds: string): bigint {
  const [, sign, int, frac = ''] = /^(-?)(\d+)(?:\.(\d{1,9}))?$/.exec(seconds)!;
  const v = BigInt(int!) * 1_000_000_000n + BigInt(frac.padEnd(9, '0'));
  return sign ? -v : v;
}

// Without the addon, times are set through Node's lutimes, to the microsecond (README, --version).
for (const [label, env, unit] of [['addon', {}, 1n], ['no addon', { PORTARC_NO_NATIVE: '1' }, 1000n]] as const) {
  const restored = (a: bigint, b: bigint) => a / unit === b / unit;
  describe(`times past an int64 of nanoseconds (${label})`, () => {
    it('create records what the disk holds, to the nanosecond, and extract gives it back', () => {
      const dir = tempDir('times');
      const src = join(dir, 'src');
      mkdirSync(src);
      const stamps = { y2400: '2400-01-01 00:00:00.123456789', y2262: '2262-04-12 00:00:00.5', y1901: '1901-12-13 20:45:52.25', y2000: '2000-01-01' };
      for (const [name, when] of Object.entries(stamps)) execFileSync('touch', ['-d', `${when} UTC`, join(src, name)]);
      const disk = Object.fromEntries(Object.keys(stamps).map((n) => [n, lstatSync(join(src, n), { bigint: true })]));
      // The filesystem holds at least the year 2400 here (ext4, tmpfs): otherwise this test shows nothing.
      expect(disk.y2400!.mtimeNs, 'the temp directory cannot hold 2400').toBe(13569465600123456789n);
      for (const ext of ['tar', 'zip', 'tar.zst']) {
        const archive = join(dir, `a.${ext}`);
        const c = portarc(['create', '-f', archive, '-C', src, '.'], { env });
        expect(c.stderr).toBe('');
        expect(c.status).toBe(0);
        if (ext === 'tar') {
          const m = mtimes(archive);
          for (const [name, st] of Object.entries(disk)) expect(ns(m[`./${name}`]!), `${name} mtime`).toBe(st.mtimeNs);
        }
        const out = join(dir, `out-${ext}`);
        // Without the addon, the times set to the microsecond are one warning (spec §9.1).
        const x0 = portarc(['extract', '-f', archive, '-C', out], { env });
        const x = unit === 1n ? x0 : asIfNative(x0);
        expect(x.stderr).toBe('');
        expect(x.status).toBe(0);
        for (const [name, st] of Object.entries(disk)) {
          const got = lstatSync(join(out, name), { bigint: true }).mtimeNs;
          expect(restored(got, st.mtimeNs), `${ext}: ${name}: ${got} for ${st.mtimeNs}`).toBe(true);
        }
      }
    });

    it('a directory of 2300 before small files: every file archived with its own content', () => {
      // The addon's scan left the directory (its time past int64 ns) to the JS path and went on
      // reading the files after it into its buffer; the walk into the directory refilled that
      // buffer, and the files were archived with its bytes, exit 0.
      const dir = tempDir('times-dir');
      const src = join(dir, 'src');
      mkdirSync(join(src, 'b'), { recursive: true });
      const want: Record<string, Buffer> = {};
      for (const name of ['b/h1', 'b/h2', 'b/h3', 'b1', 'b2', 'c', 'z']) {
        want[name] = randomBytes(700 + name.length * 100);
        writeFileSync(join(src, name), want[name]!);
      }
      execFileSync('touch', ['-d', '2300-01-01 UTC', join(src, 'b')]);
      for (const ext of ['tar', 'zip']) {
        const archive = join(dir, `d.${ext}`);
        const c = portarc(['create', '-f', archive, '-C', src, '.'], { env });
        expect(c.stderr).toBe('');
        expect(c.status).toBe(0);
        const out = join(dir, `dout-${ext}`);
        mkdirSync(out);
        // Read back by another program, not by portarc: the archive's bytes themselves.
        execFileSync(ext === 'tar' ? 'tar' : 'unzip', ext === 'tar' ? ['-xf', archive, '-C', out] : ['-q', archive, '-d', out], { stdio: 'ignore' });
        for (const [name, bytes] of Object.entries(want)) expect(readFileSync(join(out, name)).equals(bytes), `${ext}: ${name}`).toBe(true);
      }
    });

    it('extract of the vector: each time restored exactly, or read back and reported as the filesystem stored it (exit 1)', () => {
      const dests = [join(tempDir('times-x'), 'out')];
      // tmpfs holds every time: nothing to report there.
      if (existsSync('/dev/shm')) dests.push(join(mkdtempSync('/dev/shm/portarc-times-'), 'out'));
      for (const out of dests) {
        // Removed whatever the outcome: tempDir's are, but a directory in /dev/shm stayed in RAM.
        onTestFinished(() => void execFileSync('rm', ['-rf', out.replace(/\/out$/, '')]));
        mkdirSync(out, { recursive: true });
        const r0 = portarc(['extract', '-f', VECTOR, '-C', out], { env });
        const r = unit === 1n || !ROUNDED_TIMES.test(r0.stderr) ? r0 : asIfNative(r0);
        let clamped = 0;
        for (const [path, want] of Object.entries(VECTOR_TIMES)) {
          const got = lstatSync(join(out, path), { bigint: true }).mtimeNs;
          const reported = r.stderr.includes(`not restored: ${path}: time: mtime `) && r.stderr.includes('is outside what this filesystem holds: stored as');
          expect({ path, out, reported }).toEqual({ path, out, reported: !restored(got, want) });
          if (!restored(got, want)) clamped++;
        }
        expect(r.status, r.stderr).toBe(clamped ? 1 : 0);
        if (out.startsWith('/dev/shm/')) expect(clamped).toBe(0);
      }
    });
  });
}

/** A pax tar (Python's tarfile) of files with the given pax records, content "hi". */
function paxTar(path: string, members: Record<string, Record<string, string>>): void {
  execFileSync('python3', ['-c', `
import io, json, sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as t:
    for name, pax in json.loads(sys.argv[2]).items():
        i = tarfile.TarInfo(name); i.size = 2; i.mode = 0o640; i.mtime = 1600000000; i.pax_headers = pax
        t.addfile(i, io.BytesIO(b"hi"))
`, path, JSON.stringify(members)]);
}

describe.runIf(process.getuid?.() === 0)('owner ids past 32 bits (as root)', () => {
  for (const [label, env] of [['addon', {}], ['no addon', { PORTARC_NO_NATIVE: '1' }]] as const) {
    it(`are reported, never cast down; the largest id is set (${label})`, () => {
      const dir = tempDir('ids');
      const archive = join(dir, 'ids.tar');
      const ACL = 'user::rw-,user:4294967297:r--,group::r--,mask::r--,other::---';
      paxTar(archive, {
        over: { uid: '4294967297', gid: '4294967297' },
        minus1: { uid: '4294967295', gid: '7' },
        largest: { uid: '4294967294', gid: '4294967294' },
        acl: { 'SCHILY.acl.access': ACL },
      });
      const out = join(dir, 'out');
      const r = portarc(['extract', '-f', archive, '-C', out], { env });
      expect(r.status, r.stderr).toBe(1);
      // (Node 24's lutimes leaves a double's noise below the microsecond: the fallback's one warning.)
      const lines = r.stderr.replace(ROUNDED_TIMES, '').trim().split('\n').filter((l) => !l.includes('native addon not built'));
      expect(lines).toEqual([
        'portarc: not restored: over: owner: uid 4294967297 is beyond the ids of this system (0-4294967294); not set',
        'portarc: not restored: over: owner: gid 4294967297 is beyond the ids of this system (0-4294967294); not set',
        'portarc: not restored: minus1: owner: uid 4294967295 is beyond the ids of this system (0-4294967294); not set',
        'portarc: not restored: acl: acl: system.posix_acl_access: user id 4294967297 is beyond the ids of this system (0-4294967294); not set',
        'portarc: summary: 4 entries extracted; not restored: 3 owners, 1 ACL',
      ]);
      const owner = (n: string) => {
        const st = lstatSync(join(out, n));
        return [st.uid, st.gid];
      };
      expect(owner('over')).toEqual([0, 0]);
      expect(owner('minus1')).toEqual([0, 7]);
      expect(owner('largest')).toEqual([4294967294, 4294967294]);
      for (const n of ['over', 'minus1', 'largest', 'acl']) expect(readFileSync(join(out, n), 'utf8')).toBe('hi');
    });
  }
});

describe.runIf(process.getuid?.() === 0 && process.platform === 'linux')('device numbers past 32 bits (as root)', () => {
  it('are refused and reported, never made as another device; the largest Linux numbers are made', () => {
    const dir = tempDir('devs');
    const archive = join(dir, 'devs.tar');
    execFileSync('python3', ['-c', `
import sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as t:
    for name, (ma, mi) in {"huge": (2**33, 1), "max": (4095, 2**20 - 1)}.items():
        i = tarfile.TarInfo(name); i.type = tarfile.CHRTYPE; i.mode = 0o600; i.mtime = 1600000000
        i.pax_headers = {"SCHILY.devmajor": str(ma), "SCHILY.devminor": str(mi)}
        t.addfile(i)
`, archive]);
    const out = join(dir, 'out');
    const r = portarc(['extract', '-f', archive, '-C', out]);
    expect(r.stderr).toContain("not restored: huge: entry: device 8589934592,1 is beyond this system's device numbers; not extracted");
    expect(r.status).toBe(2);
    expect(existsSync(join(out, 'huge'))).toBe(false);
    const st = lstatSync(join(out, 'max'));
    expect(st.isCharacterDevice()).toBe(true);
    expect(execFileSync('stat', ['-c', '%Hr,%Lr', join(out, 'max')], { encoding: 'utf8' }).trim()).toBe('4095,1048575');
  });
});

describe('convert to zip: ids and device numbers past 32 bits', () => {
  it('keeps ids past 32 bits (8-byte ux ids) and refuses device numbers it would cut', () => {
    const dir = tempDir('zip-ids');
    const tar = join(dir, 'ids.tar');
    paxTar(tar, { big: { uid: '4294967297', gid: '8589934592' }, small: { uid: '1000', gid: '1001' } });
    const zip = join(dir, 'ids.zip');
    const c = portarc(['convert', tar, zip]);
    expect(c.status, c.stderr).toBe(0);
    const listed = portarc(['list', '--json', '-f', zip]);
    const entries: Array<{ path: string; uid: number; gid: number }> = JSON.parse(listed.stdout).entries;
    const owners = Object.fromEntries(entries.map((e) => [e.path, [e.uid, e.gid]]));
    expect(owners).toMatchObject({ big: [4294967297, 8589934592], small: [1000, 1001] });
    // The other readers accept the archive (unzip reads 2- and 4-byte ux ids, and skips the others).
    expect(spawnSync('unzip', ['-tq', zip], { encoding: 'utf8' }).status).toBe(0);
    expect(execFileSync('python3', ['-c', 'import sys, zipfile; print(zipfile.ZipFile(sys.argv[1]).testzip())', zip], { encoding: 'utf8' }).trim()).toBe('None');

    const devTar = join(dir, 'dev.tar');
    execFileSync('python3', ['-c', `
import sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as t:
    i = tarfile.TarInfo("huge"); i.type = tarfile.CHRTYPE; i.mode = 0o600; i.mtime = 1600000000
    i.pax_headers = {"SCHILY.devmajor": str(2**33), "SCHILY.devminor": "1"}
    t.addfile(i)
`, devTar]);
    const d = portarc(['convert', devTar, join(dir, 'dev.zip')]);
    expect(d.stderr).toContain(`entry "huge": device 8589934592,1 does not fit the zip profile's 32-bit device numbers`);
    expect(d.status).toBe(2);
    expect(existsSync(join(dir, 'dev.zip'))).toBe(false);
  });
});
