// `portarc verify -f ARCHIVE -C DIR` (issue #10, spec/manifest.md §8.4): a restored tree compared
// with its archive. A fresh restore (portarc's, GNU tar's) compares clean for tar, tar.zst and zip,
// with and without a manifest; then each single change to the tree is found and named with both
// values; the CLI's text, --json and exit codes; the extract options that decide what is expected.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { extract, verifyTree, type TreeDifference } from '../src/api/index.js';
import { portarc } from './helpers/cli.js';
import { BAD_NAME, buildTree, isRoot, sh, snapshot, tempDir } from './helpers/tree.js';

const dir = tempDir('verify-tree');
let src = '';
const archives: Record<string, string> = {};
const KINDS = ['a.tar', 'a.tar.zst', 'a.zip', 'plain.tar', 'plain.tar.zst', 'plain.zip'];

beforeAll(() => {
  src = buildTree(dir, { root: isRoot });
  // A sparse file (a hole of 8 MiB between two runs) and an empty directory, then the parents' times again.
  sh(`truncate -s 12M sparse.bin && printf head | dd of=sparse.bin conv=notrunc status=none && printf tail | dd of=sparse.bin bs=1 seek=10000000 conv=notrunc status=none && mkdir empty-dir && touch -h -d @1500000000.5 d`, src);
  for (const k of KINDS) {
    archives[k] = join(dir, k);
    const r = portarc(['create', '-S', ...(k.startsWith('plain') ? ['--no-manifest'] : []), '-f', archives[k]!, '-C', src, '.']);
    expect(r.status, r.stderr).toBe(0);
  }
});

let n = 0;
/** A fresh portarc restore of `archive` (library extract, defaults). */
async function restored(archive = archives['a.tar']!, options: Parameters<typeof extract>[2] = {}): Promise<string> {
  const out = join(dir, `x${n++}`);
  mkdirSync(out);
  await extract(archive, out, { fsync: false, ...options });
  return out;
}

const brief = (ds: TreeDifference[]) => ds.map((d) => ({ path: d.path, property: d.property, ...(d.name ? { name: d.name } : {}), archive: d.archive, disk: d.disk }));

describe('verify -C: a fresh restore compares clean', () => {
  it.each(KINDS)('%s extracted by portarc: exit 0, every entry compared', (k) => {
    const out = join(dir, `clean-${k}`);
    mkdirSync(out);
    const x = portarc(['extract', '-f', archives[k]!, '-C', out]);
    expect(x.status, x.stderr).toBe(0);
    const r = portarc(['verify', '-f', archives[k]!, '-C', out]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^${out}: OK: \\d+ entries match `, 'm'));
    // The sparse file came back sparse and equal; the non-UTF-8 name is there.
    expect(readFileSync(join(out, 'sparse.bin')).subarray(10_000_000, 10_000_004).toString()).toBe('tail');
    expect(readFileSync(Buffer.from(`${out}/d/${BAD_NAME.toString('latin1')}`, 'latin1')).toString()).toBe('not utf-8');
  });

  it('uses the manifest\'s digests for a plain tar and zip (no second read of the archive), hashes the bodies otherwise', async () => {
    const out = await restored();
    const withManifest = await verifyTree(archives['a.tar']!, out);
    expect(withManifest.ok, JSON.stringify(withManifest.differences)).toBe(true);
    expect(withManifest.content.manifest).toBeGreaterThan(5);
    expect(withManifest.content.archive).toBe(0);
    const zip = await verifyTree(archives['a.zip']!, out);
    expect(zip.content).toEqual({ manifest: withManifest.content.manifest, archive: 0 });
    for (const k of ['a.tar.zst', 'plain.tar']) {
      const r = await verifyTree(archives[k]!, out);
      expect(r.ok, JSON.stringify(r.differences)).toBe(true);
      expect(r.content).toEqual({ manifest: 0, archive: withManifest.content.manifest });
    }
    // Every entry was compared (the manifest members, not on disk, are not counted).
    const listed = portarc(['list', '-f', archives['a.tar']!]).stdout.split('\n').filter(Boolean);
    expect(withManifest.entries).toBe(listed.length);
  });

  it('writes nothing, and leaves even atimes alone (--atime compares them)', async () => {
    const out = await restored();
    // (A snapshot reads the files, which moves atimes: taken only after the --atime checks. Any
    // listing of a directory or reading of a symlink moves its atime, find's own included.)
    const times = () => sh(`find . ! -type d ! -type l -printf '%p %A@\\n'; find . -printf '%p %T@ %C@ %m %U %G\\n' | sort`, out);
    const before = times();
    // (Each archive holds the atimes its own scan saw: --atime only against the one restored.)
    for (const args of [['-f', archives['a.tar']!, '--atime'], ['-f', archives['plain.tar.zst']!]]) {
      const r = portarc(['verify', ...args, '-C', out]);
      expect(r.status, r.stdout).toBe(0);
    }
    // Not even a ctime moved: nothing was written, chmod-ed or touched.
    expect(times()).toBe(before);
    sh(`touch -a -h -d @1000000000.25 d/hello.txt`, out);
    const r = await verifyTree(archives['a.tar']!, out, { atime: true });
    expect(brief(r.differences)).toEqual([{ path: 'd/hello.txt', property: 'atime', archive: expect.any(String), disk: '2001-09-09T01:46:40.250000000Z' }]);
    expect((await verifyTree(archives['a.tar']!, out)).ok).toBe(true);
    const snap = snapshot(out);
    expect(portarc(['verify', '-f', archives['a.zip']!, '-C', out]).status).toBe(0);
    expect(snapshot(out)).toEqual(snap);
  });

  it.each(['a.tar', 'a.tar.zst', 'plain.tar', 'plain.tar.zst'])('%s extracted by GNU tar (--xattrs --acls --selinux -p): exit 0, GNU tar loses nothing here', (k) => {
    const out = join(dir, `gnu-${k}`);
    mkdirSync(out);
    const x = spawnSync('tar', ['--xattrs', "--xattrs-include=*", '--acls', '--selinux', '-xpf', archives[k]!, '-C', out], { encoding: 'utf8' });
    expect(x.status, x.stderr).toBe(0);
    const r = portarc(['verify', '-f', archives[k]!, '-C', out]);
    // GNU tar also extracts the manifest and trailer (two more files): compared, as members.
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });
});

describe('verify -C: each single change is found and named', () => {
  // Each case: a fresh restore, one change (times put back from the source tree, `../src`, where
  // the change moved them), and exactly the difference expected.
  const dirTime = `touch -h -r ../src/d d`;
  const cases: Array<[string, string, Partial<TreeDifference>[]]> = [
    ['one content byte (same size and mtime)', `printf 'H' | dd of=d/hello.txt conv=notrunc status=none && touch -h -r ../src/d/hello.txt d/hello.txt`, [{ path: 'd/hello.txt', property: 'content' }]],
    ['size', `printf x >> d/empty && touch -h -r ../src/d/empty d/empty`, [{ path: 'd/empty', property: 'size', archive: '0', disk: '1' }]],
    ['a mode bit', `chmod g+w d/random.bin`, [{ path: 'd/random.bin', property: 'mode', archive: '4755', disk: '4775' }]],
    ['uid', `chown -h 1 d/dangling`, [{ path: 'd/dangling', property: 'uid', archive: '0', disk: '1' }]],
    ['gid', `chgrp -h 1 d/dangling`, [{ path: 'd/dangling', property: 'gid', archive: '0', disk: '1' }]],
    ['mtime by one nanosecond', `touch -h -d @1700000000.123456788 d/ns`, [{ path: 'd/ns', property: 'mtime', archive: '2023-11-14T22:13:20.123456789Z', disk: '2023-11-14T22:13:20.123456788Z' }]],
    ['symlink target', `rm d/dangling && ln -s ../elsewhere d/dangling && touch -h -r ../src/d/dangling d/dangling && ${dirTime}`, [{ path: 'd/dangling', property: 'target', archive: '"../nowhere"', disk: '"../elsewhere"' }]],
    ['hardlink broken into a copy', `cp -a d/hard1 d/hard2.new && mv d/hard2.new d/hard2 && ${dirTime}`, [{ path: 'd/hard2', property: 'hardlink' }]],
    ['one xattr value byte', `setfattr -n user.binary -v 0x00ff0a3d0002 d/xattrs`, [{ path: 'd/xattrs', property: 'xattr', name: 'user.binary', archive: '0x00ff0a3d0001', disk: '0x00ff0a3d0002' }]],
    ['an xattr removed', `setfattr -x user.text d/xattrs`, [{ path: 'd/xattrs', property: 'xattr', name: 'user.text', archive: '"plain text"', disk: 'none' }]],
    ['an extra xattr', `setfattr -n user.more -v 1 d/hello.txt`, [{ path: 'd/hello.txt', property: 'xattr', name: 'user.more', archive: 'none', disk: '"1"' }]],
    ['SELinux label', `setfattr -n security.selinux -v 'system_u:object_r:tmp_t:s0' d/hello.txt`, [{ path: 'd/hello.txt', property: 'selinux', archive: '"system_u:object_r:etc_t:s0"', disk: '"system_u:object_r:tmp_t:s0"' }]],
    ['an ACL entry', `setfacl -n -m u:4321:r-- d/ns`, [{ path: 'd/ns', property: 'acl', archive: 'user::rw-,user:4321:rw-,group::r--,mask::rw-,other::r--', disk: 'user::rw-,user:4321:r--,group::r--,mask::rw-,other::r--' }]],
    ['the default ACL', `setfacl -d -n -m u:1234:rwx acl-dir`, [{ path: 'acl-dir', property: 'default-acl', archive: 'user::rwx,user:1234:r-x,group::r-x,mask::r-x,other::---', disk: 'user::rwx,user:1234:rwx,group::r-x,mask::r-x,other::---' }]],
    ['a missing file', `rm d/hello.txt && ${dirTime}`, [{ path: 'd/hello.txt', property: 'missing', archive: 'file', disk: 'none' }]],
    ['an extra file', `: > d/new && ${dirTime}`, [{ path: 'd/new', property: 'extra', archive: 'none', disk: 'file' }]],
    ['an extra file in an empty directory', `: > empty-dir/new && touch -h -r ../src/empty-dir empty-dir`, [{ path: 'empty-dir/new', property: 'extra', archive: 'none', disk: 'file' }]],
    ['a file replaced by a directory', `rm d/empty && mkdir d/empty && ${dirTime}`, [{ path: 'd/empty', property: 'type', archive: 'file', disk: 'directory' }]],
    ['a fifo replaced by a file', `rm d/fifo && : > d/fifo && ${dirTime}`, [{ path: 'd/fifo', property: 'type', archive: 'fifo', disk: 'file' }]],
    ['a sparse file\'s hole written', `printf x | dd of=sparse.bin bs=1 seek=5000000 conv=notrunc status=none && touch -h -r ../src/sparse.bin sparse.bin`, [{ path: 'sparse.bin', property: 'content' }]],
  ];
  if (isRoot) {
    cases.push(['device numbers', `rm d/null && mknod d/null c 1 5 && chmod --reference=../src/d/null d/null && chown --reference=../src/d/null d/null && touch -h -r ../src/d/null d/null && ${dirTime}`, [{ path: 'd/null', property: 'device', archive: '1,3', disk: '1,5' }]]);
  }

  it.each(cases)('%s', async (_, change, expected) => {
    const out = await restored();
    sh(change, out);
    // By the manifest's digests, and by the archive's bodies.
    for (const k of ['a.tar', 'plain.tar.zst']) {
      const r = await verifyTree(archives[k]!, out);
      expect(r.ok).toBe(false);
      expect(brief(r.differences), k).toEqual(expected.map((e) => expect.objectContaining(e)));
    }
  });
});
