// A tree deeper than PATH_MAX (4096 bytes on Linux) is backed up whole, as GNU tar backs it up:
// the scan names a deep directory's children through its descriptor (/proc/self/fd/N, platform
// dirAlias). Before, one such path failed the whole `create` (ENAMETOOLONG, exit 2, no archive).
// Member names keep their full length (pax `path`); GNU tar and Python's tarfile read them.
// extract and verify -C reach such paths the same way (fs/deep-paths.ts), where GNU tar's
// extract stops at PATH_MAX.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { portarc } from './helpers/cli.js';
import { removeTempDirs, tempDir } from './helpers/tree.js';

let work: string;
const LEVELS = 24;
const SEG = 'd'.repeat(200);
/** The deepest directory's member name: 4 + 24 × 201 = 4828 bytes, past PATH_MAX. */
const DEEPEST = ['deep', ...Array<string>(LEVELS).fill(SEG)].join('/');

function py(script: string, ...args: string[]): string {
  const r = spawnSync('python3', ['-c', script, ...args], { encoding: 'utf8', cwd: work });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

beforeAll(() => {
  work = tempDir('deep-paths');
  // Made by descending with chdir: no path the system is given is longer than one name.
  py(`
import os, sys
os.mkdir('deep'); os.chdir('deep')
open('top', 'w').write('at the top\\n')
for i in range(${LEVELS}):
    os.mkdir('${SEG}'); os.chdir('${SEG}')
open('leaf', 'w').write('deep leaf\\n')
open('big', 'wb').write(bytes(range(256)) * 1200)  # 300 KiB: past what the batched scan reads whole
os.link('leaf', 'hl')
os.symlink('leaf', 'sl')
os.mkfifo('ff')
os.setxattr('leaf', 'user.k', b'v\\x00\\xff')
`);
});

afterAll(() => {
  // Node's rmSync passes whole paths, too long here; GNU rm walks by descriptors.
  spawnSync('rm', ['-rf', work]);
  removeTempDirs();
});

/** Each member as Python's tarfile reads it: name length, type, size, link, content digest, xattrs. */
const READ = `
import tarfile, hashlib, json, sys
out = {}
with tarfile.open(sys.argv[1]) as t:
    for m in t:
        if m.name.startswith('.portarc/'): continue
        d = hashlib.sha256(t.extractfile(m).read()).hexdigest() if m.isreg() else None
        out[m.name] = [m.type.decode(), m.size, m.linkname, d, {k: v for k, v in m.pax_headers.items() if 'xattr' in k}]
print(json.dumps(out))
`;

describe('paths longer than PATH_MAX', () => {
  it('create archives the whole tree (exit 0): every member as GNU tar archives it, xattrs too; verify OK', () => {
    const c = portarc(['create', '-f', join(work, 'deep.tar'), '-C', work, 'deep']);
    expect(c.status, c.stderr).toBe(0);
    expect(c.stderr).toBe('');
    const ours = JSON.parse(py(READ, 'deep.tar')) as Record<string, [string, number, string, string | null, Record<string, string>]>;
    const gnu = spawnSync('tar', ['-cf', 'gnu.tar', 'deep'], { cwd: work, encoding: 'utf8' });
    expect(gnu.status, gnu.stderr).toBe(0);
    const theirs = JSON.parse(py(READ, 'gnu.tar')) as typeof ours;
    // The same members with the same names, types, sizes and contents (a hardlink is either name).
    const shape = (m: typeof ours) => Object.entries(m).map(([n, [type, size, , digest]]) => [n, type === '1' ? 'link' : type, type === '1' ? 0 : size, digest]).sort();
    expect(shape(ours)).toEqual(shape(theirs));
    expect(Object.keys(ours)).toHaveLength(LEVELS + 7);
    const leaf = ours[`${DEEPEST}/leaf`] ?? ours[`${DEEPEST}/hl`]!;
    expect(Object.values(leaf[4])).toContain('dgD/'); // user.k = v\0\xff, base64 (LIBARCHIVE.xattr)
    expect(ours[`${DEEPEST}/sl`]![2]).toBe('leaf');
    expect(ours[`${DEEPEST}/ff`]![0]).toBe('6');
    const v = portarc(['verify', '-f', join(work, 'deep.tar')]);
    expect(v.status, v.stdout + v.stderr).toBe(0);
  });

  it('extract restores the whole tree (exit 0), as it was: contents, modes, times, xattrs, links; verify -C agrees, and sees a change', () => {
    mkdirSync(join(work, 'whole'));
    const x = portarc(['extract', '-f', join(work, 'deep.tar'), '-C', join(work, 'whole')]);
    expect(x.status, x.stderr).toBe(0);
    expect(x.stderr).toBe('');
    // Both trees walked by descriptors (os.fwalk): no path given to the system is long.
    const WALK = `
import os, sys, hashlib, json, stat
def walk(top):
    out = {}
    for root, dirs, files, fd in os.fwalk(top):
        rel = os.path.relpath(root, top)
        for n in dirs + files:
            st = os.stat(n, dir_fd=fd, follow_symlinks=False)
            item = [stat.filemode(st.st_mode), st.st_size, st.st_mtime_ns, st.st_nlink]
            if stat.S_ISREG(st.st_mode):
                f = os.open(n, os.O_RDONLY, dir_fd=fd)
                item.append(hashlib.sha256(os.read(f, 1 << 20)).hexdigest()); os.close(f)
                f = os.open(n, os.O_RDONLY, dir_fd=fd)
                item.append({k: os.getxattr(f, k).hex() for k in sorted(os.listxattr(f)) if k.startswith('user.')}); os.close(f)
            if stat.S_ISLNK(st.st_mode): item.append(os.readlink(n, dir_fd=fd))
            out[os.path.join(rel, n)] = item
    return out
print(json.dumps([walk(sys.argv[1]), walk(sys.argv[2])]))
`;
    const [src, got] = JSON.parse(py(WALK, 'deep', join('whole', 'deep'))) as [Record<string, unknown[]>, Record<string, unknown[]>];
    expect(Object.keys(src)).toHaveLength(LEVELS + 6);
    // Directories' mtimes are restored too; the source's were set by making their contents.
    expect(got).toEqual(src);
    const v = portarc(['verify', '-f', join(work, 'deep.tar'), '-C', join(work, 'whole')]);
    expect(v.status, v.stdout + v.stderr).toBe(0);
    py(`
import os
for d in ['whole', 'deep', *['${SEG}'] * ${LEVELS}]: os.chdir(d)
os.setxattr('leaf', 'user.k', b'changed')
`);
    const d = portarc(['verify', '-f', join(work, 'deep.tar'), '-C', join(work, 'whole')]);
    expect(d.status).toBe(2);
    expect(d.stdout).toContain(`${DEEPEST}/hl: xattr user.k`); // hl is the file, leaf its link (names in byte order)
    expect(d.stdout).toContain('user.k');
  });

  it('a damaged deep file: from a file it never gets its name; from stdin it is set aside as NAME.damaged (exit 2)', () => {
    const off = Number(py(`
import tarfile, sys
with tarfile.open('deep.tar') as t:
    print([m.offset_data for m in t if m.name.endswith('/big')][0])
`));
    const b = readFileSync(join(work, 'deep.tar'));
    b[off + 1000] ^= 0x01;
    writeFileSync(join(work, 'bad.tar'), b);
    const list = (dir: string) => py(`
import os
for d in ['${dir}', 'deep', *['${SEG}'] * ${LEVELS}]: os.chdir(d)
print(' '.join(sorted(os.listdir('.'))))
`).trim();
    mkdirSync(join(work, 'bad-file'));
    const f = portarc(['extract', '-f', join(work, 'bad.tar'), '-C', join(work, 'bad-file')]);
    expect(f.status).toBe(2);
    expect(f.stderr).toContain(`${DEEPEST}/big`);
    expect(list('bad-file')).toBe('ff hl leaf sl');
    mkdirSync(join(work, 'bad-stdin'));
    const s = portarc(['extract', '-f', '-', '-C', join(work, 'bad-stdin')], { input: b });
    expect(s.status).toBe(2);
    expect(s.stderr).toContain(`${DEEPEST}/big`);
    expect(list('bad-stdin')).toBe('big.damaged ff hl leaf sl');
  });

  it('an archive of many deep directories cannot take every descriptor: past MAX_ANCHORS (256) a deep entry fails, named; the rest is restored', () => {
    // 300 files of 4.2 KiB paths, each under its own directory where the path passes 3 KiB (one anchor each).
    py(`
import tarfile, io
with tarfile.open('many.tar', 'w', format=tarfile.PAX_FORMAT) as t:
    for i in range(300):
        ti = tarfile.TarInfo('x/' + '/'.join(['d' * 200] * 14) + '/%03d' % i + 'e' * 197 + ('/' + 'f' * 200) * 6 + '/file')
        ti.size = 3
        t.addfile(ti, io.BytesIO(b'%03d' % i))
    ti = tarfile.TarInfo('z-normal.txt'); ti.size = 6
    t.addfile(ti, io.BytesIO(b'normal'))
`);
    mkdirSync(join(work, 'many'));
    const x = portarc(['extract', '-f', join(work, 'many.tar'), '-C', join(work, 'many')]);
    expect(x.status).toBe(2);
    expect(readFileSync(join(work, 'many', 'z-normal.txt'), 'utf8')).toBe('normal');
    const lost = x.stderr.split('\n').filter((l) => l.startsWith('portarc: not restored: x/'));
    expect(lost).toHaveLength(300 - 256);
    expect(lost.every((l) => l.includes('ENAMETOOLONG'))).toBe(true);
    const restored = py(`
import os
n = 0
for root, dirs, files, fd in os.fwalk('many/x'):
    n += files.count('file')
print(n)
`);
    expect(Number(restored)).toBe(256);
  });

  it('the deep members restore with --strip-components (content and xattr)', () => {
    mkdirSync(join(work, 'x'));
    const x = portarc(['extract', '-f', join(work, 'deep.tar'), '-C', join(work, 'x'), '--strip-components', '21']);
    expect(x.status, x.stderr).toBe(0);
    const got = py(`
import os
os.chdir(os.path.join('x', *['${SEG}'] * 4))
print(open('leaf').read().strip(), os.getxattr('leaf', 'user.k').hex(), os.readlink('sl'), os.stat('big').st_size, os.stat('hl').st_ino == os.stat('leaf').st_ino)
`);
    expect(got.trim()).toBe('deep leaf 7600ff leaf 307200 True');
  });

  it.runIf(process.getuid?.() === 0)('as a user: a 0600 directory just short of 3072 bytes, its child past them: every directory gets its mode and time', () => {
    // Directories were dressed "deepest first" by the length of the path used for them, and a deep
    // one's is a short /proc/self/fd alias: the parent lost its search bit first, the child's
    // lstat failed (EACCES), and the error ("internal error") left every directory after it undressed.
    const base = join(work, 'user-deep');
    mkdirSync(base);
    py(`
import os, sys
os.chdir(sys.argv[1]); os.mkdir('src'); os.chdir('src')
for i in range(11):
    os.mkdir('c' * 250); os.chdir('c' * 250)
os.mkdir('a' * 200); os.chdir('a' * 200); os.mkdir('b' * 200)
os.utime('b' * 200, ns=(10**18, 10**18))
os.chmod('.', 0o600)
`, base);
    const archive = join(base, 'd.tar');
    expect(portarc(['create', '-f', archive, '-C', join(base, 'src'), '.']).status).toBe(0);
    spawnSync('chmod', ['644', archive]);
    const out = join(base, 'out');
    mkdirSync(out);
    spawnSync('chown', ['65534', out]);
    spawnSync('chmod', ['755', work, base]);
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, fileURLToPath(new URL('../bin/portarc.js', import.meta.url)), 'extract', '-f', archive, '-C', out], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const got = py(`
import os, sys
os.chdir(sys.argv[1])
for i in range(11): os.chdir('c' * 250)
a = os.stat('a' * 200); os.chmod('a' * 200, 0o700)
b = os.stat(os.path.join('a' * 200, 'b' * 200))
print(oct(a.st_mode & 0o777), b.st_mtime_ns)
`, out);
    expect(got.trim()).toBe(`0o600 ${10n ** 18n}`);
  });
});

describe('a tree thousands of levels deep', () => {
  it('is archived whole: the walk keeps a stack of its own (2,000 levels overflowed the call stack: a crash)', () => {
    const dir = tempDir('deep-levels');
    const r0 = spawnSync('python3', ['-c', `
import os
fd = os.open('.', os.O_RDONLY)
os.mkdir('levels', dir_fd=fd); cur = os.open('levels', os.O_RDONLY, dir_fd=fd)
for i in range(2500):
    os.mkdir('d', dir_fd=cur); n = os.open('d', os.O_RDONLY, dir_fd=cur); os.close(cur); cur = n
f = os.open('leaf', os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=cur); os.write(f, b'leaf'); os.close(f)
`], { cwd: dir, encoding: 'utf8' });
    expect(r0.status, r0.stderr).toBe(0);
    const r = portarc(['create', '-f', join(dir, 'levels.tar'), '-C', dir, 'levels']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    // GNU tar reads every member, the leaf last, under its 5,000-byte name.
    const names = spawnSync('tar', ['-tf', join(dir, 'levels.tar')], { encoding: 'utf8', maxBuffer: 1 << 26 }).stdout.split('\n').filter((n) => n.startsWith('levels'));
    expect(names).toHaveLength(2502);
    expect(names.at(-1)).toBe(['levels', ...Array<string>(2500).fill('d'), 'leaf'].join('/'));
    // rm -rf, not Node's rmSync: its recursion overflows the stack on this tree.
    spawnSync('rm', ['-rf', dir]);
  }, 60_000);
});
