// Hardlinks whose target is not extracted (audit of the eighteenth session): a selected link to a
// target not selected gets a copy of what the target is (a symlink stays a symlink, a fifo a fifo,
// a device a device), the other selected links of that target link to the copy, and `verify -C`
// with the same PATHs compares clean. A link to a target whose content was damaged (not put in
// place) is not made: it would join whatever file held that name before.
import { describe, expect, it } from 'vitest';
import { lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { portarc } from './helpers/cli.js';
import { isRoot, sh, tempDir } from './helpers/tree.js';

describe('selected hardlinks whose target is not selected', () => {
  const dir = tempDir('hl-select');
  const src = join(dir, 'src');
  mkdirSync(join(src, 'd1'), { recursive: true });
  mkdirSync(join(src, 'd2'));
  sh(
    [
      'ln -s target sl && ln sl sl2 && ln sl sl3',
      'mkfifo ff && ln ff ff2',
      isRoot ? 'mknod dev c 1 3 && ln dev dev2' : 'true',
      'echo hello > d1/a && ln d1/a c && ln d1/a d2/b && ln d1/a e',
    ].join(' && '),
    src,
  );
  const picked = ['src/sl2', 'src/sl3', 'src/ff2', 'src/d2/b', 'src/e', ...(isRoot ? ['src/dev2'] : [])];
  const archives: Array<[string, string[]]> = [
    ['a.tar', []], // a manifest: read at random
    ['a.tar.gz', []], // read in passes
    ['a.zip', []],
    ['gnu.tar', ['tar']], // no manifest: extract's second pass
  ];

  for (const [name, how] of archives) {
    it(`${name}: each gets a copy of what its target is, links of one target share an inode, verify -C agrees`, () => {
      const a = join(dir, name);
      if (how[0] === 'tar') sh(`tar --sort=name -cf ${a} src`, dir);
      else expect(portarc(['create', '-f', a, 'src'], { cwd: dir }).status).toBe(0);
      const out = join(dir, `x-${name}`);
      const r = portarc(['extract', '-f', a, '-C', out, '--strict', ...picked]);
      expect(r.status, r.stderr).toBe(0);
      // Sorted by name, the first name of each inode is the target (sl, ff, dev, c).
      expect(r.stderr).toMatch(/src\/sl2: hardlink to "src\/sl", which was not selected: extracted as a copy of it \(a symlink\)/);
      // (GNU tar stores each name of a fifo as a fifo of its own, not as a hardlink.)
      if (how[0] !== 'tar') expect(r.stderr).toMatch(/src\/ff2: hardlink to "src\/ff", which was not selected: extracted as a copy of it \(a fifo\)/);
      const at = (p: string) => lstatSync(join(out, p));
      expect(at('src/sl2').isSymbolicLink()).toBe(true);
      expect(readlinkSync(join(out, 'src/sl2'))).toBe('target');
      expect(at('src/sl3').ino).toBe(at('src/sl2').ino);
      expect(at('src/ff2').isFIFO()).toBe(true);
      if (isRoot) {
        expect(at('src/dev2').isCharacterDevice()).toBe(true);
        expect(at('src/dev2').rdev).toBe(lstatSync(join(src, 'dev')).rdev);
      }
      expect(readFileSync(join(out, 'src/d2/b'), 'utf8')).toBe('hello\n');
      expect(at('src/e').ino).toBe(at('src/d2/b').ino);
      expect(at('src/e').nlink).toBe(2);
      const v = portarc(['verify', '-f', a, '-C', out, ...picked]);
      expect(v.stdout + v.stderr).toMatch(/OK/);
      expect(v.status, v.stdout + v.stderr).toBe(0);
    });
  }

  it('a copy changed on disk is a difference for verify -C', () => {
    const a = join(dir, 'a.tar');
    const out = join(dir, 'x-changed');
    expect(portarc(['extract', '-f', a, '-C', out, 'src/d2/b']).status).toBe(0);
    writeFileSync(join(out, 'src/d2/b'), 'other\n');
    const v = portarc(['verify', '-f', a, '-C', out, 'src/d2/b']);
    expect(v.stdout).toMatch(/src\/d2\/b: content/);
    expect(v.status).toBe(2);
  });
});

describe('a hardlink to a member that was not extracted', () => {
  it('is not made over an old file of the target name: each link is named, exit 2', () => {
    const dir = tempDir('hl-damaged');
    const src = join(dir, 'src');
    mkdirSync(join(src, 'd'), { recursive: true });
    // `c` sorts first: it holds the content, the others link to it.
    sh('echo hello > c && ln c d/a && ln c e', src);
    const a = join(dir, 'a.tar');
    expect(portarc(['create', '-f', a, 'src'], { cwd: dir }).status).toBe(0);
    const bytes = readFileSync(a);
    bytes[bytes.indexOf('hello\n')] = 0x4a; // "Jello": the content no longer matches the manifest
    writeFileSync(a, bytes);
    const out = join(dir, 'x');
    mkdirSync(join(out, 'src'), { recursive: true });
    writeFileSync(join(out, 'src/c'), 'OLD\n');
    const r = portarc(['extract', '-f', a, '-C', out]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/entry "src\/c".*content does not match the manifest/);
    expect(r.stderr).toContain('not restored: src/d/a: entry: not extracted: hardlink to "src/c", which was not extracted');
    expect(r.stderr).toContain('not restored: src/e: entry: not extracted: hardlink to "src/c", which was not extracted');
    expect(readFileSync(join(out, 'src/c'), 'utf8')).toBe('OLD\n');
    expect(() => lstatSync(join(out, 'src/d/a'))).toThrow(/ENOENT/);
    expect(() => lstatSync(join(out, 'src/e'))).toThrow(/ENOENT/);
  });
});

describe('a hardlink whose target is not there', () => {
  it('fails, named, without making directories for the target (an absolute target, a symlink left out)', () => {
    const dir = tempDir('hl-missing');
    const a = join(dir, 'abs.tar');
    sh(`python3 -c "
import tarfile
with tarfile.open('${a}', 'w', format=tarfile.PAX_FORMAT) as t:
    i = tarfile.TarInfo('l1'); i.type = tarfile.LNKTYPE; i.linkname = '/nowhere/deep/outside'; t.addfile(i)
"`);
    const out = join(dir, 'x');
    const r = portarc(['extract', '-f', a, '-C', out]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/not restored: l1: entry: not extracted: cannot hard link to "\/nowhere\/deep\/outside": no such file or directory \(ENOENT\)/);
    expect(readdirSync(out)).toEqual([]); // it left out/nowhere/deep behind
    // A symlink left out by --exclude: its links say so (they said ENOENT).
    const src = join(dir, 'src');
    mkdirSync(src);
    sh('ln -s target sl && ln sl sl2', src);
    const b = join(dir, 'b.tar');
    expect(portarc(['create', '-f', b, '-C', dir, 'src']).status).toBe(0);
    const e = portarc(['extract', '-f', b, '-C', join(dir, 'y'), '--exclude', 'src/sl']);
    expect(e.status).toBe(2);
    expect(e.stderr).toContain('not restored: src/sl2: entry: not extracted: hardlink to "src/sl", which the filter left out');
  });
});
