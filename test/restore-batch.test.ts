// The addon's batched restore of small files (native/restore.c, sys.restoreFiles) against the JS
// path it replaces: the same trees in every piece of metadata, the same losses and messages, in
// the same order, and the JS fallback (PORTARC_NO_NATIVE=1) giving the same tree through the CLI.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { openArchive } from '../src/api/open.js';
import { Restorer, type RestoreOptions } from '../src/fs/restore.js';
import { loadSys, type Sys } from '../src/fs/sys.js';
import { makeEntry, type Entry } from '../src/model/entry.js';
import { tarOf } from './helpers/archive.js';
import { asIfNative, portarc } from './helpers/cli.js';
import { buildTree, isRoot, sh, snapshot, tempDir } from './helpers/tree.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function scratch(tag: string): string {
  const d = tempDir(tag);
  dirs.push(d);
  return d;
}

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const native = loadSys();
/**
 * Run `body` as uid 65534 (setpriv) after the imports it needs, with `archive` (BASE/a.tar), `dest`
 * and `outside` set; BASE is given to 65534 first. What it prints, parsed.
 */
function asNobody(base: string, dest: string, outside: string, body: string): unknown {
  writeFileSync(join(base, 'run.mjs'), `
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Restorer } from ${JSON.stringify(join(ROOT, 'dist/fs/restore.js'))};
import { openArchive } from ${JSON.stringify(join(ROOT, 'dist/api/open.js'))};
import { loadSys } from ${JSON.stringify(join(ROOT, 'dist/fs/sys.js'))};
const [archive, dest, outside] = process.argv.slice(-3);
${body}`);
  execFileSync('chown', ['-R', '65534:65534', base]);
  const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, join(base, 'run.mjs'), join(base, 'a.tar'), dest, outside], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout);
}

/** The same addon without its batches: every file by the JS path, as before them. */
const unbatched: Sys = { ...native, restoreFiles: undefined };

/** Restore an archive through a Restorer with this system layer; its losses and the counts it made. */
async function restoreWith(archive: Buffer, dest: string, sys: Sys, opts: RestoreOptions = {}) {
  mkdirSync(dest, { recursive: true });
  const r = new Restorer(dest, { ...opts, sys });
  const batches: number[] = [];
  const counted: Sys = sys.restoreFiles
    ? { ...sys, restoreFiles: (batch, fsync, syncPath) => (batches.push(batch.count), sys.restoreFiles!(batch, fsync, syncPath)) }
    : sys;
  (r as unknown as { sys: Sys }).sys = counted;
  const a = await openArchive(archive);
  const written: string[] = [];
  for await (const { entry, body } of a.members) {
    await r.restore(entry, body, { written: (abs, ino) => written.push(`${abs.toString()} ${ino > 0}`) });
  }
  await r.finish();
  await a.close();
  return { losses: r.losses, warnings: r.warnings, notes: r.notes, batches, written: written.sort() };
}

const file = (path: string, content: string | Buffer, extra: Partial<Entry> = {}): [Entry, Buffer] => {
  const body = Buffer.from(content);
  return [makeEntry({ path, type: 'file', size: body.length, mode: 0o644, mtimeNs: 1_600_000_000_123_456_789n, ...extra }), body];
};
const dir = (path: string, extra: Partial<Entry> = {}): [Entry] => [makeEntry({ path, type: 'directory', mode: 0o755, mtimeNs: 1_500_000_000_000_000_000n, ...extra })];

describe.skipIf(native.kind !== 'native')('native batches of small files', () => {
  it('restore the same tree as the JS path, every piece of metadata, many batches', async () => {
    const base = scratch('batch-tree');
    const src = buildTree(base);
    // 1,300 more small files (more than two batches) with owners, modes, xattrs and labels.
    sh(
      `mkdir -p many && for i in $(seq 1 1300); do printf "file $i %0$((i % 700))d" 0 > many/f$i; done
       chown 1234:2345 many/f7 && chmod 0600 many/f8 && chmod 2755 many/f9
       setfattr -n user.k -v 0x00ff many/f10 && setfattr -n security.selinux -v 'system_u:object_r:etc_t:s0' many/f11
       setfacl -m u:4321:r-- many/f12 && touch -h -d @1234567890.123456789 many/f13`,
      src,
    );
    execFileSync('tar', ['--xattrs', '--xattrs-include=*', '--selinux', '--acls', '-cf', join(base, 'a.tar'), '-C', src, '.']);
    const archive = readFileSync(join(base, 'a.tar'));
    const a = await restoreWith(archive, join(base, 'batched'), native);
    const b = await restoreWith(archive, join(base, 'js'), unbatched);
    expect(a.batches.length).toBeGreaterThan(2);
    expect(a.batches.reduce((n, k) => n + k, 0)).toBeGreaterThan(1300);
    expect(b.batches).toEqual([]);
    expect(a.losses).toEqual([]);
    expect(b.losses).toEqual([]);
    expect(a.written.map((w) => w.replace('/batched/', '/'))).toEqual(b.written.map((w) => w.replace('/js/', '/')));
    const snapA = snapshot(join(base, 'batched'));
    expect(snapA).toEqual(snapshot(join(base, 'js')));
    expect(snapA).toEqual(snapshot(src));
    expect(snapA['many/f9']!.mode).toBe('2755');
    expect(snapA['many/f7']).toMatchObject({ uid: isRoot ? 1234 : process.getuid!(), mode: '644' });
    expect(snapA['many/f12']!.xattrs?.['system.posix_acl_access']).toBeDefined();
  }, 120_000);

  it('report the same losses, with the same messages and in the same order, as the JS path', async () => {
    const base = scratch('batch-losses');
    const long = 'n'.repeat(300);
    const archive = await tarOf([
      dir('d'),
      // A directory member that a later file member replaces, as tar lets it: no loss (its
      // metadata once failed the extraction, "directory was replaced by a later entry", exit 2).
      dir('d/wasdir'),
      file('d/ok1', 'one'),
      // An xattr namespace the kernel does not know: EOPNOTSUPP for this one, the others are set.
      file('d/badx', 'x', { xattrs: new Map([['user.good', Buffer.from('g')], ['bogus.ns', Buffer.from('v')], ['user.after', Buffer.from('a')]]) }),
      file('../up', 'refused by the JS path while the file before it waits in a batch'),
      file(`d/${long}`, 'too long a name'),
      file('d/acl', 'acl', { aclAccess: [{ tag: 'user', name: 'no-such-user-here', perms: 4 }] }),
      file('d/ok2', 'two'),
      file('d/in-way', 'replaces an empty directory'),
      file('d/full', 'cannot replace a non-empty directory'),
      file('d/twice', 'first'),
      file('d/twice', 'second'),
      [makeEntry({ path: 'd/hard', type: 'hardlink', linkTarget: Buffer.from('d/ok2'), mode: 0o644, mtimeNs: 0n })],
      file('d/ok3', 'three'),
      file('d/wasdir', 'a file now'),
    ]);
    const setup = (dest: string) => {
      mkdirSync(join(dest, 'd/in-way'), { recursive: true });
      mkdirSync(join(dest, 'd/full/inside'), { recursive: true });
    };
    setup(join(base, 'batched'));
    setup(join(base, 'js'));
    const a = await restoreWith(archive, join(base, 'batched'), native, { numericOwner: true });
    const b = await restoreWith(archive, join(base, 'js'), unbatched, { numericOwner: true });
    expect(a.batches.length).toBeGreaterThan(0);
    const norm = (l: typeof a.losses, tag: string) => l.map((x) => ({ ...x, reason: x.reason.replaceAll(`/${tag}/`, '/').replace(/\.portarc-\d+-\d+\.tmp/g, 'TMP') }));
    expect(norm(a.losses, 'batched')).toEqual(norm(b.losses, 'js'));
    expect(a.losses.map((l) => [l.path, l.what])).toEqual([
      ['d/badx', 'xattr'],
      ['../up', 'entry'],
      [`d/${long}`, 'entry'],
      ['d/acl', 'acl'],
      ['d/full', 'entry'],
    ]);
    expect(a.losses[0]!.reason).toBe('bogus.ns: not supported (ENOTSUP)'); // the xattr's name and why, never the (temporary) path
    expect(a.losses[2]!.reason).toBe('not extracted: cannot lstat: file name too long (ENAMETOOLONG)');
    expect(a.losses[4]!.reason).toBe('not extracted: a non-empty directory is in the way');
    // The destination and the directories set up in it are no entries: their mtimes are the runs'.
    const inside = (d: string) => Object.fromEntries(Object.entries(snapshot(join(base, d))).filter(([k]) => k !== '.' && !k.startsWith('d/full')));
    expect(inside('batched')).toEqual(inside('js'));
    expect(readFileSync(join(base, 'batched/d/twice'), 'utf8')).toBe('second');
    expect(readFileSync(join(base, 'batched/d/in-way'), 'utf8')).toBe('replaces an empty directory');
    expect(readFileSync(join(base, 'batched/d/wasdir'), 'utf8')).toBe('a file now');
    expect(snapshot(join(base, 'batched'))['d/badx']!.xattrs).toEqual({ 'user.good': '0x67', 'user.after': '0x61' });
    expect(snapshot(join(base, 'batched'))['d/hard']!.links).toEqual(['d/hard', 'd/ok2']);
  }, 60_000);

  it('skip fchown and fchmod only where they change nothing: a setgid directory, the umask, write bits', async () => {
    // The addon creates a file with its mode when the umask takes none of its bits and it has no
    // setuid/setgid/sticky or group/other write bit, and leaves out fchown to the owner the file
    // is created with (the process's; a setgid directory's group). Each case against the JS path.
    const base = scratch('batch-exact');
    const entries = [
      dir('sg', { mode: 0o2775, uid: 0, gid: 0 }),
      file('sg/root-group', 'gid 0 in a directory of group 2345', { uid: 0, gid: 0, mode: 0o644 }),
      file('sg/dir-group', 'the directory\'s group', { uid: 0, gid: 2345, mode: 0o640 }),
      file('plain', 'created with its mode', { uid: process.getuid!(), gid: process.getgid!(), mode: 0o644 }),
      file('gw', 'group write: set after', { mode: 0o664 }),
      file('ow', 'other write: set after', { mode: 0o606 }),
      file('private', 'no bits for others', { mode: 0o600 }),
      file('exec', 'executable', { mode: 0o755 }),
      file('setuid', 'set last', { mode: 0o4755 }),
      file('none', 'no bits at all', { mode: 0o000 }),
    ];
    const archive = await tarOf(entries);
    const made: Record<string, Record<string, unknown>> = {};
    for (const [tag, sys] of [['batched', native], ['js', unbatched]] as const) {
      const dest = join(base, tag);
      mkdirSync(join(dest, 'sg'), { recursive: true });
      // The directory is there before, setgid, of group 2345: new files take that group.
      if (isRoot) sh('chown 0:2345 sg && chmod 2775 sg', dest);
      const r = await restoreWith(archive, dest, sys, { existing: 'keep' });
      expect(r.losses).toEqual([]);
      made[tag] = snapshot(dest);
      // The directories were there before (kept): their times are when this test made them.
      for (const d of ['.', 'sg']) delete (made[tag]![d] as { mtimeNs?: string }).mtimeNs;
    }
    expect(made.batched).toEqual(made.js);
    const snap = made.batched as Record<string, { mode: string; uid: number; gid: number }>;
    expect(Object.fromEntries(['plain', 'gw', 'ow', 'private', 'exec', 'setuid', 'none'].map((n) => [n, snap[n]!.mode]))).toEqual({
      plain: '644', gw: '664', ow: '606', private: '600', exec: '755', setuid: isRoot ? '4755' : '755', none: '0',
    });
    if (isRoot) {
      expect(snap['sg/root-group']!.gid).toBe(0);
      expect(snap['sg/dir-group']!.gid).toBe(2345);
    }
  });

  it('hash contents as they write them: a file that differs from its digest is set aside, the rest named, each digest told (the JS path alike)', async () => {
    const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
    const members = [file('ok', 'right content'), file('bad', 'damaged content'), file('told', 'a stream check learns this'), file('after', 'rest')];
    const archive = await tarOf(members);
    const wants: Record<string, string | undefined> = { ok: sha('right content'), bad: sha('what the manifest says'), after: sha('rest') };
    const run = async (sys: Sys, keepDamaged: boolean) => {
      const dest = scratch('batch-digest');
      const r = new Restorer(dest, { sys, keepDamaged });
      const told: string[] = [];
      const a = await openArchive(archive);
      for await (const { entry, body } of a.members) {
        const name = entry.path.toString();
        const want = wants[name];
        const judge = (got: string) => (told.push(`${name} ${got}`), want === undefined || got === want ? undefined : `differs (${got})`);
        // The JS path's form of the same check, as ContentCheck gives it.
        const inline = (b: AsyncIterable<Buffer> | undefined) => {
          const parts: Buffer[] = [];
          const pass = async function* () {
            for await (const p of b ?? []) parts.push(Buffer.from(p)), yield p;
          };
          return { body: pass(), check: { verdict: () => judge(sha(Buffer.concat(parts))) } };
        };
        await r.restore(entry, body, { deferred: { want, judge, inline } });
      }
      await r.finish();
      await a.close();
      const tree = snapshot(dest);
      delete tree['.']; // the destination, not in the archive
      // A damaged copy is written and set aside undressed (0600, the time of writing), as the JS path does it.
      if (tree['bad.damaged']) delete (tree['bad.damaged'] as { mtimeNs?: unknown }).mtimeNs;
      return { dest, damaged: r.damaged, told: told.sort(), tree };
    };
    for (const keep of [false, true]) {
      const n = await run(native, keep);
      const j = await run(unbatched, keep);
      expect(n.damaged).toEqual([{ path: 'bad', what: `differs (${sha('damaged content')})`, ...(keep ? { keptAs: 'bad.damaged' } : {}) }]);
      expect(j.damaged).toEqual(n.damaged);
      expect(readFileSync(join(n.dest, 'ok'), 'utf8')).toBe('right content');
      expect(readFileSync(join(n.dest, 'told'), 'utf8')).toBe('a stream check learns this');
      if (keep) expect(readFileSync(join(n.dest, 'bad.damaged'), 'utf8')).toBe('damaged content');
      if (keep) expect(statSync(join(n.dest, 'bad.damaged')).mode & 0o7777).toBe(0o600);
      expect(n.tree).toEqual(j.tree);
      expect(readdirSync(n.dest).sort()).toEqual(['after', ...(keep ? ['bad.damaged'] : []), 'ok', 'told']);
      // The batch tells only what the restorer needs: a digest without one to match, and a file that differs.
      expect(n.told).toEqual([`bad ${sha('damaged content')}`, `told ${sha('a stream check learns this')}`]);
      expect(j.told).toEqual([`after ${sha('rest')}`, `bad ${sha('damaged content')}`, `ok ${sha('right content')}`, `told ${sha('a stream check learns this')}`]);
    }
  });

  it('never write through a directory another process swaps for a symlink after it was checked (spec §9.2 rule 2)', async () => {
    // An audit's race (another process renaming inside the destination while it is extracted):
    // the batch opened its files' directory by path, and a directory swapped for a symlink since
    // restore.ts checked it was followed out of the destination: files written there, exit 0.
    // Here the swap is made deterministic, just before the batch runs.
    const base = scratch('batch-race');
    const outside = join(base, 'outside');
    mkdirSync(join(outside, 'sub'), { recursive: true, mode: 0o700 });
    writeFileSync(join(outside, 'sub/canary'), 'untouched');
    const before = statSync(join(outside, 'sub'));
    const dest = join(base, 'dest');
    mkdirSync(dest);
    const archive = await tarOf([dir('top'), dir('top/a'), dir('top/a/sub'), file('top/a/sub/canary', 'overwritten'), file('top/a/sub/new', 'planted')]);
    const r = new Restorer(dest, { sys: native, fsync: false });
    let swapped = false;
    (r as unknown as { sys: Sys }).sys = {
      ...native,
      restoreFiles: (batch, fsync, syncPath) => {
        if (!swapped) {
          swapped = true;
          execFileSync('sh', ['-c', 'mv top/a .evil && ln -s "$1" top/a', 'sh', outside], { cwd: dest });
        }
        return native.restoreFiles!(batch, fsync, syncPath);
      },
    };
    const a = await openArchive(archive);
    for await (const { entry, body } of a.members) await r.restore(entry, body);
    await r.finish().catch(() => undefined);
    await a.close();
    expect(swapped).toBe(true);
    expect(readdirSync(join(outside, 'sub'))).toEqual(['canary']);
    expect(readFileSync(join(outside, 'sub/canary'), 'utf8')).toBe('untouched');
    const after = statSync(join(outside, 'sub'));
    expect([after.mode, after.uid, after.mtimeMs]).toEqual([before.mode, before.uid, before.mtimeMs]);
    // Refused, each file named: not extracted (exit 2).
    expect(r.losses.filter((l) => l.what === 'entry').map((l) => l.path).sort()).toEqual(['top/a', 'top/a/sub', 'top/a/sub/canary', 'top/a/sub/new']);
    expect(r.losses.find((l) => l.path === 'top/a/sub/canary')!.reason).toMatch(/ELOOP|ENOTDIR|symbolic link|not a directory/i);
  });

  it.runIf(isRoot)('as root, directory metadata at the end goes only to the directories made, whatever is renamed meanwhile', async () => {
    // The same race at finish(): the directories' owner, mode, times and xattrs were applied by
    // path, through a parent swapped for a symlink, to directories outside the destination.
    const base = scratch('finish-race');
    const outside = join(base, 'outside');
    mkdirSync(join(outside, 'a/sub'), { recursive: true, mode: 0o700 });
    const snap = () => ['a', 'a/sub'].map((p) => {
      const st = statSync(join(outside, p));
      return [p, st.mode, st.uid, st.mtimeMs];
    });
    const before = snap();
    const dest = join(base, 'dest');
    mkdirSync(dest);
    const archive = await tarOf([dir('top', { mode: 0o777, uid: 4242 }), dir('top/a', { mode: 0o777, uid: 4242, xattrs: new Map([['user.pwn', Buffer.from('yes')]]) }), dir('top/a/sub', { mode: 0o777, uid: 4242 })]);
    const r = new Restorer(dest, { sys: native, fsync: false });
    const a = await openArchive(archive);
    for await (const { entry, body } of a.members) await r.restore(entry, body);
    await a.close();
    // The swap lands between the check of the first directory dressed (top/a/sub) and its use:
    // when its xattrs are read, after its inode was found to be the one made.
    let swapped = false;
    (r as unknown as { sys: Sys }).sys = {
      ...native,
      getXattrs: async (paths) => {
        if (!swapped) {
          swapped = true;
          execFileSync('sh', ['-c', 'mv top .evil && ln -s "$1" top', 'sh', outside], { cwd: dest });
        }
        return native.getXattrs(paths);
      },
    };
    await r.finish();
    expect(swapped).toBe(true);
    expect(snap()).toEqual(before);
    expect(spawnSync('getfattr', ['-d', '--absolute-names', join(outside, 'a')], { encoding: 'utf8' }).stdout).not.toContain('user.pwn');
    // The directory checked is the one dressed (now at .evil, inside the destination); the ones
    // after the swap are named, their metadata not applied (exit 2).
    expect(statSync(join(dest, '.evil/a/sub')).mode & 0o7777).toBe(0o777);
    expect(r.losses.map((l) => [l.path, l.reason])).toEqual(expect.arrayContaining([['top/a', 'directory was replaced while extracting; its metadata is not applied']]));
  });

  it.runIf(isRoot)('as a user too (setpriv to 65534): directory metadata at the end goes only to the directories made', async () => {
    const base = scratch('user-finish-race');
    chmodSync(base, 0o755);
    const outside = join(base, 'outside');
    mkdirSync(join(outside, 'a/sub'), { recursive: true, mode: 0o700 });
    const dest = join(base, 'dest');
    mkdirSync(dest);
    // The user's own directories outside: their mode, times and xattrs must not change.
    const snap = () => ['a', 'a/sub'].map((p) => {
      const st = statSync(join(outside, p));
      return [p, st.mode, st.mtimeMs];
    });
    const before = snap(); // chown to 65534 (asNobody) changes neither mode nor mtime
    writeFileSync(join(base, 'a.tar'), await tarOf([dir('top', { mode: 0o777 }), dir('top/a', { mode: 0o555, xattrs: new Map([['user.pwn', Buffer.from('yes')]]) }), dir('top/a/sub', { mode: 0o555 })]));
    const out = asNobody(base, dest, outside, `
const native = loadSys();
const r = new Restorer(dest, { sys: native, fsync: false });
const a = await openArchive(readFileSync(archive));
for await (const { entry, body } of a.members) await r.restore(entry, body);
await a.close();
let swapped = false;
r.sys = { ...native, getXattrs: async (paths) => {
  if (!swapped) {
    swapped = true;
    execFileSync('sh', ['-c', 'mv top .evil && ln -s "$1" top', 'sh', outside], { cwd: dest });
  }
  return native.getXattrs(paths);
} };
await r.finish();
console.log(JSON.stringify({ swapped, uid: process.getuid(), losses: r.losses }));
`) as { swapped: boolean; uid: number; losses: { path: string; reason: string }[] };
    expect([out.swapped, out.uid]).toEqual([true, 65534]);
    expect(snap()).toEqual(before);
    expect(spawnSync('getfattr', ['-d', '--absolute-names', join(outside, 'a')], { encoding: 'utf8' }).stdout).not.toContain('user.pwn');
    // The directory checked is the one dressed (now at .evil, inside the destination), its mode
    // set last, after its times; the ones after the swap are named (exit 2).
    expect(statSync(join(dest, '.evil/a/sub')).mode & 0o7777).toBe(0o555);
    expect(out.losses.map((l) => [l.path, l.reason])).toEqual(expect.arrayContaining([['top/a', 'directory was replaced while extracting; its metadata is not applied']]));
  });

  it.runIf(isRoot)('as root, a hardlink never links a file from outside that a swapped directory leads to', async () => {
    // The audit's race D: the target's directory, checked once, swapped for a symlink before the
    // link was made: link() by path linked an outside secret into the destination, exit 0.
    const base = scratch('link-race');
    const outside = join(base, 'outside');
    mkdirSync(join(outside, 'hl'), { recursive: true });
    writeFileSync(join(outside, 'hl/target'), 'secret', { mode: 0o600 });
    const dest = join(base, 'dest');
    mkdirSync(dest);
    const link = makeEntry({ path: 'links/L', type: 'hardlink', linkTarget: Buffer.from('h/target'), mode: 0o644, mtimeNs: 1_600_000_000_000_000_000n });
    const archive = await tarOf([dir('h'), file('h/target', 'inside'), dir('links'), [link]]);
    const r = new Restorer(dest, { sys: native, fsync: false });
    const a = await openArchive(archive);
    for await (const { entry, body } of a.members) {
      if (entry.type === 'hardlink') {
        const self = r as unknown as { flushRenames: () => Promise<void> };
        const flush = self.flushRenames.bind(r);
        self.flushRenames = async () => {
          await flush();
          execFileSync('sh', ['-c', 'mv h .evil && ln -s "$1" h', 'sh', join(outside, 'hl')], { cwd: dest });
        };
      }
      await r.restore(entry, body);
    }
    await r.finish().catch(() => undefined);
    await a.close();
    expect(statSync(join(outside, 'hl/target')).nlink).toBe(1);
    expect(existsSync(join(dest, 'links/L'))).toBe(false);
    expect(r.losses.map((l) => [l.path, l.what])).toEqual(expect.arrayContaining([['links/L', 'entry']]));
  });

  it.runIf(isRoot)('as root, a directory member never deletes or makes anything outside through a parent swapped meanwhile', async () => {
    // The audit's race C2: the parent checked, then swapped for a symlink; the member's name was
    // looked up, unlinked (a file in the way) and made by path: outside files deleted.
    const base = scratch('mkdir-race');
    const outside = join(base, 'files');
    mkdirSync(outside);
    writeFileSync(join(outside, 'd0'), 'keep me');
    const dest = join(base, 'dest');
    mkdirSync(dest);
    const archive = await tarOf([dir('top'), dir('top/d0')]);
    const r = new Restorer(dest, { sys: native, fsync: false });
    const self = r as unknown as { existingDirectory: (abs: Buffer, e: Entry) => unknown };
    const existing = self.existingDirectory.bind(r);
    self.existingDirectory = (abs, e) => {
      if (e.name === 'top/d0') execFileSync('sh', ['-c', 'mv top .evil && ln -s "$1" top', 'sh', outside], { cwd: dest });
      return existing(abs, e);
    };
    const a = await openArchive(archive);
    for await (const { entry, body } of a.members) await r.restore(entry, body);
    await r.finish().catch(() => undefined);
    await a.close();
    expect(readFileSync(join(outside, 'd0'), 'utf8')).toBe('keep me');
    expect(r.losses.map((l) => [l.path, l.what])).toEqual(expect.arrayContaining([['top/d0', 'entry']]));
  });

  // The audit's race B and its kin: the JS path (files over 256 KiB, symlinks, nodes, missing
  // parents) named its objects by path, so a parent checked and then swapped for a symlink led
  // the write, the link, the node and their owner, mode and times outside the destination.
  const swapped = (kind: string): [Entry, Buffer?] => {
    const mtimeNs = 1_600_000_000_000_000_000n;
    if (kind === 'file over 256 KiB') return file('top/a/victim', Buffer.alloc(300 * 1024, 0x41), { mode: 0o4755, uid: 4242 });
    if (kind === 'symlink') return [makeEntry({ path: 'top/a/victim', type: 'symlink', linkTarget: Buffer.from('/etc/passwd'), mode: 0o777, uid: 4242, mtimeNs })];
    return [makeEntry({ path: 'top/a/victim', type: 'fifo', mode: 0o666, uid: 4242, mtimeNs })];
  };
  for (const kind of ['file over 256 KiB', 'symlink', 'fifo']) {
    it.runIf(isRoot)(`as root, a ${kind} is never made outside through a parent swapped after it was checked`, async () => {
      const base = scratch('js-race');
      const outside = join(base, 'outside');
      mkdirSync(outside, { mode: 0o700 });
      writeFileSync(join(outside, 'victim'), 'untouched', { mode: 0o600 });
      const before = statSync(join(outside, 'victim'));
      const dest = join(base, 'dest');
      mkdirSync(dest);
      const archive = await tarOf([dir('top'), dir('top/a'), swapped(kind), file('top/after', 'rest')]);
      const r = new Restorer(dest, { sys: native });
      const self = r as unknown as { ensureParents: (parts: Buffer[], make?: boolean) => string };
      const check = self.ensureParents.bind(r);
      let done = false;
      self.ensureParents = (parts, make) => {
        const key = check(parts, make);
        if (!done && parts.join('/') === 'top/a/victim') {
          done = true;
          execFileSync('sh', ['-c', 'mv top/a .evil && ln -s "$1" top/a', 'sh', outside], { cwd: dest });
        }
        return key;
      };
      const a = await openArchive(archive);
      for await (const { entry, body } of a.members) await r.restore(entry, body);
      await r.finish().catch(() => undefined);
      await a.close();
      expect(done).toBe(true);
      expect(readdirSync(outside)).toEqual(['victim']);
      const after = statSync(join(outside, 'victim'));
      expect(after.isFile()).toBe(true); // not replaced by a fifo (which reading would wait on)
      expect(readFileSync(join(outside, 'victim'), 'utf8')).toBe('untouched');
      expect([after.mode, after.uid, after.mtimeMs]).toEqual([before.mode, before.uid, before.mtimeMs]);
      expect(r.losses.map((l) => [l.path, l.what, l.reason])).toEqual(expect.arrayContaining([['top/a/victim', 'entry', expect.stringMatching(/replaced while extracting/)]]));
      expect(readFileSync(join(dest, 'top/after'), 'utf8')).toBe('rest');
    });
  }

  it.runIf(isRoot)('as a user too (setpriv to 65534): a file over 256 KiB, a symlink, a fifo are never made outside through a parent swapped after it was checked', async () => {
    // The victim's own files outside the destination: a user's extraction redirected there.
    const script = `
const r = new Restorer(dest, { sys: loadSys() });
const check = r.ensureParents.bind(r);
let done = false;
r.ensureParents = (parts, make) => {
  const key = check(parts, make);
  if (!done && parts.join('/') === 'top/a/victim') {
    done = true;
    execFileSync('sh', ['-c', 'mv top/a .evil && ln -s "$1" top/a', 'sh', outside], { cwd: dest });
  }
  return key;
};
const a = await openArchive(readFileSync(archive));
for await (const { entry, body } of a.members) await r.restore(entry, body);
await r.finish().catch(() => undefined);
await a.close();
console.log(JSON.stringify({ done, uid: process.getuid(), losses: r.losses }));
`;
    for (const kind of ['file over 256 KiB', 'symlink', 'fifo']) {
      const base = scratch('user-race');
      chmodSync(base, 0o755);
      const outside = join(base, 'outside');
      mkdirSync(outside, { mode: 0o700 });
      writeFileSync(join(outside, 'victim'), 'untouched', { mode: 0o600 });
      const dest = join(base, 'dest');
      mkdirSync(dest);
      writeFileSync(join(base, 'a.tar'), await tarOf([dir('top'), dir('top/a'), swapped(kind), file('top/after', 'rest')]));
      const before = statSync(join(outside, 'victim'));
      const out = asNobody(base, dest, outside, script) as { done: boolean; uid: number; losses: { path: string; what: string; reason: string }[] };
      expect([kind, out.done, out.uid]).toEqual([kind, true, 65534]);
      expect(readdirSync(outside)).toEqual(['victim']);
      const after = statSync(join(outside, 'victim'));
      expect(after.isFile()).toBe(true);
      expect(readFileSync(join(outside, 'victim'), 'utf8')).toBe('untouched');
      expect([after.mode, after.mtimeMs]).toEqual([before.mode, before.mtimeMs]);
      expect(out.losses.map((l) => [l.path, l.what, l.reason])).toEqual(expect.arrayContaining([['top/a/victim', 'entry', expect.stringMatching(/replaced while extracting/)]]));
      expect(readFileSync(join(dest, 'top/after'), 'utf8')).toBe('rest');
    }
  });

  it.runIf(isRoot)('as root, a missing parent is never made outside through a directory swapped after it was checked', async () => {
    const base = scratch('mkdir-parent-race');
    const outside = join(base, 'outside');
    mkdirSync(outside);
    const dest = join(base, 'dest');
    mkdirSync(dest);
    // top/a/new has no entry of its own: made as a parent, after top/a is checked.
    const archive = await tarOf([dir('top'), dir('top/a'), file('top/a/new/f', Buffer.alloc(300 * 1024))]);
    const r = new Restorer(dest, { sys: native });
    const self = r as unknown as { verified: Map<string, number> };
    const verified = self.verified;
    self.verified = new (class extends Map<string, number> {
      override set(key: string, ino: number) {
        super.set(key, ino);
        if (key === 'top/a' && !existsSync(join(dest, '.evil'))) execFileSync('sh', ['-c', 'mv top/a .evil && ln -s "$1" top/a', 'sh', outside], { cwd: dest });
        return this;
      }
    })(verified);
    const a = await openArchive(archive);
    for await (const { entry, body } of a.members) await r.restore(entry, body);
    await r.finish().catch(() => undefined);
    await a.close();
    expect(existsSync(join(dest, '.evil'))).toBe(true);
    expect(readdirSync(outside)).toEqual([]);
    expect(r.losses.map((l) => [l.path, l.what])).toEqual(expect.arrayContaining([['top/a/new/f', 'entry']]));
  });

  it.runIf(isRoot)('as root, a directory the archive removes and makes again is never written through its old descriptor', async () => {
    // The parent held for one object is kept for the next in it (Restorer.holdParent): once the
    // archive removes that directory (replaced by a file, then by a new directory), the old
    // descriptor names a deleted directory, and a file written through it would be lost without a
    // word. (Today the removal itself holds the parent's parent, which lets the old one go; this
    // guards any cache of more than the last directory.)
    const base = scratch('held-replaced');
    const dest = join(base, 'dest');
    mkdirSync(dest);
    const big = Buffer.alloc(300 * 1024, 0x42);
    const members: [Entry, Buffer?][] = [dir('a'), file('a/f', big), file('a', 'a file now'), dir('a'), file('a/g', big)];
    const r = new Restorer(dest, { sys: native, fsync: false });
    const a = await openArchive(await tarOf(members));
    // a/f is found damaged: its temporary is dropped and `a` is empty again, so it can be replaced.
    for await (const { entry, body } of a.members) await r.restore(entry, body, entry.name === 'a/f' ? { verdict: () => 'damaged' } : {});
    await r.finish();
    await a.close();
    r.close();
    expect(r.losses).toEqual([]);
    expect(readFileSync(join(dest, 'a/g')).equals(big)).toBe(true);
  });

  it('a node\'s mode never goes to what another process puts in its place before it is dressed', async () => {
    // chmod(2) follows symlinks: a fifo swapped for a symlink to an outside file between mknod and
    // chmod gave that file the fifo's mode. The mode is set through an O_PATH descriptor now.
    const base = scratch('chmod-race');
    const outside = join(base, 'secret');
    writeFileSync(outside, 'secret', { mode: 0o600 });
    const dest = join(base, 'dest');
    mkdirSync(dest);
    const archive = await tarOf([[makeEntry({ path: 'p', type: 'fifo', mode: 0o666, mtimeNs: 1_600_000_000_000_000_000n })], file('after', 'rest')]);
    const r = new Restorer(dest, { sys: native, fsync: false });
    let done = false;
    (r as unknown as { sys: Sys }).sys = {
      ...native,
      mknod: (at, type, mode, major, minor) => {
        native.mknod(at, type, mode, major, minor);
        done = true;
        rmSync(at);
        symlinkSync(outside, at); // in this process: `at` may be named through /proc/self/fd
      },
    };
    const a = await openArchive(archive);
    for await (const { entry, body } of a.members) await r.restore(entry, body);
    await r.finish().catch(() => undefined);
    await a.close();
    expect(done).toBe(true);
    expect(statSync(outside).mode & 0o7777).toBe(0o600);
    expect(r.losses.map((l) => [l.path, l.what])).toEqual(expect.arrayContaining([['p', 'mode']]));
  });

  it('never write through a symlink planted where a batched file goes', async () => {
    const base = scratch('batch-symlink');
    const outside = join(base, 'outside.txt');
    writeFileSync(outside, 'untouched');
    const dest = join(base, 'dest');
    mkdirSync(join(dest, 'd'), { recursive: true });
    execFileSync('ln', ['-s', outside, join(dest, 'd/victim')]);
    execFileSync('ln', ['-s', base, join(dest, 'linkdir')]);
    const archive = await tarOf([file('d/victim', 'replaces the link'), file('linkdir/outside.txt', 'through a link'), file('d/after', 'rest')]);
    const r = await restoreWith(archive, dest, native);
    expect(readFileSync(outside, 'utf8')).toBe('untouched');
    expect(readFileSync(join(dest, 'd/victim'), 'utf8')).toBe('replaces the link'); // the link itself replaced
    expect(r.losses.map((l) => [l.path, l.what])).toEqual([['linkdir/outside.txt', 'entry']]);
    expect(readFileSync(join(dest, 'd/after'), 'utf8')).toBe('rest');
  });
});

it('the CLI restores the same tree with the addon and with the JS fallback (PORTARC_NO_NATIVE=1)', () => {
  const base = scratch('batch-cli');
  const src = buildTree(base);
  sh(`mkdir many && for i in $(seq 1 600); do printf "f$i" > many/f$i; done && setfattr -n user.x -v 1 many/f3`, src);
  execFileSync('tar', ['--xattrs', '--xattrs-include=*', '--selinux', '--acls', '-cf', join(base, 'a.tar'), '-C', src, '.']);
  for (const [out, env] of [['n', {}], ['f', { PORTARC_NO_NATIVE: '1' }]] as const) {
    mkdirSync(join(base, out));
    const r0 = portarc(['extract', '-f', join(base, 'a.tar'), '-C', join(base, out)], { env: { ...process.env, ...env } });
    const r = out === 'f' ? asIfNative(r0) : r0;
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  }
  // The fallback sets times to the microsecond (said once, a warning: asIfNative).
  const snap = (d: string) => snapshot(join(base, d), { mtimeGrain: 1000n });
  expect(snap('n')).toEqual(snap('f'));
  expect(snap('n')).toEqual(snapshot(src, { mtimeGrain: 1000n }));
}, 120_000);
