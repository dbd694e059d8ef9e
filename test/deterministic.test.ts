// Deterministic mode (spec §8.7): one tree archived at two times, from two working directories,
// after reads and metadata writes that change atime/ctime, gives byte-identical archives (tar,
// tar.zst, tar.gz, zip), through the CLI and the library; times clamp to SOURCE_DATE_EPOCH or are
// set by --mtime, and the archive still restores everything else.
import { execFileSync } from 'node:child_process';
import { readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { create, list } from '../src/api/index.js';
import { portarc } from './helpers/cli.js';
import { buildTree, sh, snapshot, tempDir } from './helpers/tree.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Change what reading and metadata writes change (atime, ctime), keeping the tree's content, modes and mtimes. */
function disturb(src: string): void {
  sh(
    `cat d/hello.txt d/random.bin > /dev/null
     touch -a -d @1234567890 d/ns d/empty
     chmod 0640 d/hello.txt
     setfattr -n user.text -v 'plain text' d/xattrs
     touch -a sticky`,
    src,
  );
}

function python(script: string, ...args: string[]): string {
  return execFileSync('python3', ['-c', script, ...args], { encoding: 'utf8' });
}

describe('deterministic archives', () => {
  const dir = tempDir('det');
  const src = buildTree(dir);
  const other = join(dir, 'elsewhere', 'deep');
  mkdirSync(other, { recursive: true });
  const kinds = ['tar', 'tar.zst', 'tar.gz', 'zip'];

  it('CLI: two runs at different times from different directories give the same bytes', async () => {
    for (const k of kinds) expect(portarc(['create', '--deterministic', '-f', join(dir, `a.${k}`), 'src'], { cwd: dir }).status).toBe(0);
    await sleep(1100);
    disturb(src);
    for (const k of kinds) expect(portarc(['create', '--deterministic', '-C', '..', '-f', join(dir, `b.${k}`), 'src'], { cwd: join(dir, 'src') }).status).toBe(0);
    for (const k of kinds) expect(readFileSync(join(dir, `b.${k}`)).equals(readFileSync(join(dir, `a.${k}`))), k).toBe(true);
    // The same two runs without --deterministic differ (atime/ctime are in the archive): the test can fail.
    expect(portarc(['create', '-f', join(dir, 'c.tar'), 'src'], { cwd: dir }).status).toBe(0);
    await sleep(1100);
    disturb(src);
    expect(portarc(['create', '-f', join(dir, 'd.tar'), 'src'], { cwd: dir }).status).toBe(0);
    expect(readFileSync(join(dir, 'c.tar')).equals(readFileSync(join(dir, 'd.tar')))).toBe(false);
  });

  it('library: deterministic: true, from another cwd, equals the CLI archive', async () => {
    for (const k of ['tar', 'zip']) {
      await create(['src'], join(other, `lib.${k}`), { cwd: dir, deterministic: true });
      expect(readFileSync(join(other, `lib.${k}`)).equals(readFileSync(join(dir, `a.${k}`))), k).toBe(true);
    }
  });

  it('no atime, ctime, user or group names; ids, modes, mtimes, xattrs and ACLs kept (Python tarfile reads it)', async () => {
    const out = python(
      `import tarfile,sys,json
t=tarfile.open(sys.argv[1])
r={m.name:[m.uname,m.gname,m.uid,m.mode,m.mtime,sorted(k for k in m.pax_headers)] for m in t}
print(json.dumps(r))`,
      join(dir, 'a.tar'),
    );
    const members = JSON.parse(out) as Record<string, [string, string, number, number, number, string[]]>;
    for (const [name, [uname, gname, , , , keys]] of Object.entries(members)) {
      expect(uname, name).toBe('');
      expect(gname, name).toBe('');
      expect(keys.filter((k) => k === 'atime' || k === 'ctime'), name).toEqual([]);
    }
    expect(members['src/d/ns']![4]).toBeCloseTo(1700000000.123456789, 5);
    expect(members['src/d/hello.txt']![3]).toBe(0o640);
    expect(members['src/d/xattrs']![5]).toContain('SCHILY.xattr.user.binary');
    expect(members['src/acl-dir']![5]).toContain('SCHILY.acl.default');
    // The restore gets the same tree back but for atime/ctime and owner names.
    const x = join(dir, 'x');
    expect(portarc(['extract', '-f', join(dir, 'a.zip'), '-C', x]).status).toBe(0);
    const a = snapshot(src);
    const b = snapshot(join(x, 'src'));
    expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort());
    expect(b['d/xattrs']).toEqual(a['d/xattrs']);
    expect(b['d/ns']).toEqual(a['d/ns']);
  });

  it('SOURCE_DATE_EPOCH clamps later mtimes (manifest included); earlier ones stay', async () => {
    const env = { SOURCE_DATE_EPOCH: '1550000000' };
    expect(portarc(['create', '--deterministic', '-f', join(dir, 'e.tar'), 'src'], { cwd: dir, env }).status).toBe(0);
    const times = new Map<string, bigint>();
    for await (const e of list(join(dir, 'e.tar'), { all: true })) times.set(e.name, e.mtimeNs);
    expect(times.get('src/d/ns')).toBe(1550000000n * 1_000_000_000n); // was 1700000000.123456789
    expect(times.get('src/d')).toBe(1500000000_500000000n); // earlier: kept, to the ns
    expect(times.get('src/d/old')).toBe(-86400123_500000000n);
    expect(times.get('.portarc/manifest.xml')).toBe(1550000000n * 1_000_000_000n);
    for (const t of times.values()) expect(t <= 1550000000n * 1_000_000_000n).toBe(true);
    // GNU tar agrees.
    expect(execFileSync('tar', ['tvf', join(dir, 'e.tar'), '--full-time', 'src/d/ns'], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC' } })).toContain('2019-02-12 19:33:20');
    const bad = portarc(['create', '--deterministic', '-f', join(dir, 'f.tar'), 'src'], { cwd: dir, env: { SOURCE_DATE_EPOCH: 'yesterday' } });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('SOURCE_DATE_EPOCH');
  });

  it('--mtime sets every mtime (zip as unzip shows it); a bad date is a usage error', () => {
    expect(portarc(['create', '--mtime', '2020-02-03T04:05:06Z', '-f', join(dir, 'm.zip'), 'src'], { cwd: dir }).status).toBe(0);
    const z = execFileSync('unzip', ['-Z', '-T', join(dir, 'm.zip')], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC' } });
    const stamps = new Set([...z.matchAll(/ (\d{8}\.\d{6}) /g)].map((m) => m[1]));
    expect([...stamps]).toEqual(['20200203.040506']);
    expect(portarc(['create', '--mtime', '@0', '-f', join(dir, 'm.tar'), 'src'], { cwd: dir }).status).toBe(0);
    expect(execFileSync('tar', ['tvf', join(dir, 'm.tar'), '--full-time'], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC' } }).split('\n').filter(Boolean).every((l) => l.includes('1970-01-01 00:00:00'))).toBe(true);
    const bad = portarc(['create', '--mtime', 'soon', '-f', join(dir, 'n.tar'), 'src'], { cwd: dir });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--mtime');
  });

  it('ownerNames: true keeps user and group names', async () => {
    await create(['src'], join(dir, 'o.tar'), { cwd: dir, deterministic: true, ownerNames: true });
    const names = new Set<string>();
    for await (const e of list(join(dir, 'o.tar'))) names.add(e.uname);
    expect(names.has('root')).toBe(true);
  });
});
