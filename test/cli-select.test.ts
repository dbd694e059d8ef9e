// tar's habits on the command line (issue #12), checked against GNU tar on the same trees and
// archives: --wildcards, --exclude/--exclude-from, --strip-components (hardlink targets too), -O,
// -T with --null, -k/--skip-old-files/--keep-newer-files, create --newer, --one-file-system,
// --no-fsync, and the c/x/t aliases. Plus the library options the CLI maps to.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { portarc, BIN } from './helpers/cli.js';
import { sh, tempDir } from './helpers/tree.js';
import { create, extract, excludeFilter, list, makeEntry } from '../src/api/index.js';

/** Every path under root (files, dirs, links), relative, sorted; directories end in "/". */
function tree(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      const st = lstatSync(p);
      out.push(relative(root, p) + (st.isDirectory() ? '/' : ''));
      if (st.isDirectory()) walk(p);
    }
  };
  if (existsSync(root)) walk(root);
  return out.sort();
}

/** Member names without "./" and trailing "/", sorted (portarc and GNU tar spell "." differently). */
function names(text: string): string[] {
  return text.split('\n').filter((l) => l !== '').map((l) => l.replace(/^\.\//, '').replace(/\/$/, '')).filter((l) => l !== '.' && l !== '').sort();
}

function tar(args: string[], cwd?: string): { status: number; stdout: string; stderr: string } {
  const r = spawnSync('tar', args, { cwd, encoding: 'utf8' });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('member selection and exclusion, as GNU tar does it', () => {
  const dir = tempDir('select');
  const src = join(dir, 'src');
  mkdirSync(src);
  sh(
    `mkdir -p a/b c d/e
     echo f > a/b/f.c; echo g > a/g.c; echo h > a/g.h; echo t > c/h.txt; echo top > top.c; echo s > 'sp ace.c'
     echo deep > d/e/deep.txt; ln a/g.c c/hl; ln d/e/deep.txt d/e/deep-link; ln -s ../top.c c/sym`,
    src,
  );
  const p = join(dir, 'p.tar');
  const g = join(dir, 'g.tar');
  expect(portarc(['create', '-f', p, '-C', src, '.']).status).toBe(0);
  // Sorted as portarc writes, so that the same member is the file and the other the hardlink.
  sh(`tar --sort=name -cf ${g} -C ${src} .`);

  it('list --wildcards selects what GNU tar selects ("*" matches "/")', () => {
    for (const pattern of ['*.c', './a/*.c', '*/g.?', './[ac]/*', './?/h*', './a/*[!c]']) {
      const want = tar(['tf', g, '--wildcards', pattern]);
      expect(want.status, pattern).toBe(0);
      for (const archive of [p, g]) {
        const got = portarc(['list', '-f', archive, '--wildcards', pattern]);
        expect(got.status, `${pattern}: ${got.stderr}`).toBe(0);
        expect(names(got.stdout), pattern).toEqual(names(want.stdout));
      }
    }
    // A pattern that matches nothing fails, naming it, as in tar.
    const none = portarc(['list', '-f', p, '--wildcards', '*.nothing']);
    expect(none.status).toBe(2);
    expect(none.stderr).toContain('"*.nothing"');
    expect(tar(['tf', g, '--wildcards', '*.nothing']).status).toBe(2);
    // Without --wildcards, a pattern is a literal name.
    expect(portarc(['list', '-f', p, '*.c']).status).toBe(2);
  });

  it('extract --wildcards restores what GNU tar restores', () => {
    const want = join(dir, 'wild-tar');
    const got = join(dir, 'wild-portarc');
    mkdirSync(want);
    expect(tar(['xf', g, '-C', want, '--wildcards', '*.c']).status).toBe(0);
    const r = portarc(['extract', '-f', p, '-C', got, '--wildcards', '*.c']);
    expect(r.status, r.stderr).toBe(0);
    expect(tree(got)).toEqual(tree(want));
  });

  it('--exclude on extract and list matches GNU tar (unanchored, wildcards, a directory takes its contents)', () => {
    const cases = [['a/*.c'], ['b'], ['./a'], ['*.c', 'c'], ['sp ace.c'], ['d/e/deep.txt'], ['*/e']];
    for (const [i, patterns] of cases.entries()) {
      const flags = patterns.flatMap((x) => ['--exclude', x]);
      const want = join(dir, `ex-tar-${i}`);
      const got = join(dir, `ex-portarc-${i}`);
      mkdirSync(want);
      // A hardlink whose target is excluded fails in both (GNU tar: "Cannot hard link"), exit 2.
      const t = tar(['xf', g, '-C', want, ...flags]);
      const r = portarc(['extract', '-f', p, '-C', got, ...flags]);
      expect(r.status, r.stderr).toBe(t.status);
      if (t.status) expect(r.stderr).toMatch(/c\/hl.*hardlink to "\.\/a\/g\.c", which the filter left out/);
      expect(tree(got), patterns.join(' ')).toEqual(tree(want));
      const l = portarc(['list', '-f', p, ...flags]);
      expect(names(l.stdout), patterns.join(' ')).toEqual(names(tar(['tf', g, ...flags]).stdout));
    }
  });

  it('--exclude and --exclude-from on create match GNU tar; a left-out directory is not descended', () => {
    writeFileSync(join(dir, 'ex.lst'), 'a/*.c\n\nd/e\n');
    const out = join(dir, 'ex-create.tar');
    const r = portarc(['create', '-f', out, '-C', src, '--exclude', 'sp*', '--exclude-from', join(dir, 'ex.lst'), '.']);
    expect(r.status, r.stderr).toBe(0);
    const want = tar(['cf', '-', '-C', src, '--exclude', 'sp*', '--exclude-from', join(dir, 'ex.lst'), '.']);
    void want;
    const gnu = spawnSync('bash', ['-c', `tar cf - -C ${src} --exclude 'sp*' --exclude-from ${join(dir, 'ex.lst')} . | tar tf -`], { encoding: 'utf8' });
    expect(names(portarc(['list', '-f', out]).stdout)).toEqual(names(gnu.stdout));
    expect(names(portarc(['list', '-f', out]).stdout)).not.toContain('d/e/deep.txt');
    // The hardlink c/hl to the left-out a/g.c is stored with its content, not as a link to nothing.
    const hl = JSON.parse(portarc(['list', '-f', out, '--json', 'c/hl']).stdout).entries[0];
    expect(hl.type).toBe('file');
    expect(hl.size).toBe(2);
  });

  it('--strip-components: the same tree as GNU tar, hardlink targets stripped too, short names skipped', () => {
    for (const n of [1, 2, 3]) {
      const want = join(dir, `strip-tar-${n}`);
      const got = join(dir, `strip-portarc-${n}`);
      mkdirSync(want);
      expect(tar(['xf', g, '-C', want, '--strip-components', String(n)]).status).toBe(0);
      const r = portarc(['extract', '-f', p, '-C', got, '--strip-components', String(n)]);
      expect(r.status, r.stderr).toBe(0);
      expect(tree(got), `strip ${n}`).toEqual(tree(want));
    }
    // ./d/e/deep-link -> ./d/e/deep.txt, stripped by 2: e/deep-link is a hardlink of e/deep.txt.
    const two = join(dir, 'strip-portarc-2');
    expect(lstatSync(join(two, 'e/deep-link')).ino).toBe(lstatSync(join(two, 'e/deep.txt')).ino);
    expect(readFileSync(join(two, 'e/deep-link'), 'utf8')).toBe('deep\n');
  });

  it('--strip-components: a hardlink whose target strips away is named (exit 2), never dropped; a copy goes to the first link that survives', () => {
    // Once both were passed over without a word, exit 0: `h` (its own content) was simply missing.
    const s = join(dir, 'strip-links');
    mkdirSync(join(s, 'd'), { recursive: true });
    writeFileSync(join(s, 'f'), 'precious\n');
    sh(`ln ${join(s, 'f')} ${join(s, 'd/h')}`);
    writeFileSync(join(s, 'd/g'), 'g\n');
    const a = join(dir, 'strip-links.tar');
    expect(tar(['cf', a, '-C', s, 'f', 'd']).status).toBe(0);
    const out = join(dir, 'strip-links-x');
    const r = portarc(['extract', '-f', a, '-C', out, '--strip-components', '1']);
    expect(r.stderr).toMatch(/not restored: d\/h: entry: not extracted: hardlink to "f", which --strip-components 1 leaves out/);
    expect(r.status).toBe(2);
    expect(tree(out)).toEqual(['g']);
    // Selected links to a target not selected, the first stripped away: the copy goes to the next.
    const t = join(dir, 'strip-links2');
    mkdirSync(join(t, 't'), { recursive: true });
    mkdirSync(join(t, 'b'));
    writeFileSync(join(t, 't/file'), 'precious\n');
    sh(`ln ${join(t, 't/file')} ${join(t, 'a')} && ln ${join(t, 't/file')} ${join(t, 'b/c')}`);
    const b = join(dir, 'strip-links2.tar');
    expect(tar(['cf', b, '-C', t, 't/file', 'a', 'b/c']).status).toBe(0);
    const out2 = join(dir, 'strip-links2-x');
    const r2 = portarc(['extract', '-f', b, '-C', out2, '--strip-components', '1', 'a', 'b/c']);
    expect(r2.status, r2.stderr).toBe(0);
    expect(r2.stderr).toMatch(/b\/c: hardlink to "t\/file", which was not selected: extracted as a copy/);
    expect(readFileSync(join(out2, 'c'), 'utf8')).toBe('precious\n');
  });

  it('create --no-recursion archives the names given, a directory without what it holds: a list from find gives each name once', () => {
    const w = join(dir, 'norec');
    mkdirSync(join(w, 'd/e'), { recursive: true });
    writeFileSync(join(w, 'd/a'), 'a\n');
    writeFileSync(join(w, 'd/e/b'), 'b\n');
    const found = spawnSync('find', ['.', '-print0'], { cwd: w }).stdout;
    const once = join(dir, 'norec-once.tar');
    const r = portarc(['create', '-f', once, '--null', '--no-recursion', '-T', '-'], { cwd: w, input: found });
    expect(r.status, r.stderr).toBe(0);
    const lines = portarc(['list', '-f', once]).stdout.split('\n').filter(Boolean);
    expect(lines.sort()).toEqual(['.', './d', './d/a', './d/e', './d/e/b']);
    const listed = names(lines.join('\n'));
    // Without it, each directory brings its contents again (GNU tar does the same): every name twice or more.
    const twice = join(dir, 'norec-twice.tar');
    expect(portarc(['create', '-f', twice, '--null', '-T', '-'], { cwd: w, input: found }).status).toBe(0);
    expect(names(portarc(['list', '-f', twice]).stdout).length).toBeGreaterThan(listed.length);
    // A directory named alone: itself, nothing under it; restored with its own metadata.
    const alone = join(dir, 'norec-alone.tar');
    chmodSync(join(w, 'd'), 0o750);
    expect(portarc(['create', '-f', alone, '--no-recursion', '-C', w, 'd']).status).toBe(0);
    expect(names(portarc(['list', '-f', alone]).stdout)).toEqual(['d']);
    const out = join(dir, 'norec-x');
    expect(portarc(['extract', '-f', alone, '-C', out]).status).toBe(0);
    expect(readdirSync(join(out, 'd'))).toEqual([]);
    expect(statSync(join(out, 'd')).mode & 0o7777).toBe(0o750);
  });

  it('create with ".." in a path argument stores what follows the last "..", as GNU tar (a notice, exit 0)', () => {
    // Stored verbatim, every member was refused on extraction by portarc and GNU tar alike, exit 0.
    const w = join(dir, 'dotdot/w');
    mkdirSync(join(w, 'a'), { recursive: true });
    mkdirSync(join(dir, 'dotdot/other'));
    writeFileSync(join(w, 'a/f'), 'f\n');
    writeFileSync(join(dir, 'dotdot/other/g'), 'g\n');
    const a = join(dir, 'dotdot/p.tar');
    const r = portarc(['create', '-f', a, '../other', 'a/../a'], { cwd: w });
    expect(r.stderr).toContain('portarc: note: removing leading "../" from member names');
    expect(r.stderr).toContain('portarc: note: removing leading "a/../" from member names');
    // The names are all that changes: GNU tar exits 0 too ("Removing leading `../' from member names").
    expect(r.status, r.stderr).toBe(0);
    const abs = portarc(['create', '--json', '-f', join(dir, 'dotdot/abs.tar'), join(w, 'a')]);
    expect(abs.status, abs.stderr).toBe(0);
    expect(JSON.parse(abs.stdout)).toMatchObject({ warnings: [], notices: ['removing leading "/" from member names'], exitCode: 0 });
    expect(names(portarc(['list', '-f', a]).stdout)).toEqual(['a', 'a/f', 'other', 'other/g']);
    const out = join(dir, 'dotdot/x');
    mkdirSync(out);
    expect(tar(['xf', a, '-C', out]).status).toBe(0);
    expect(readFileSync(join(out, 'other/g'), 'utf8')).toBe('g\n');
    expect(readFileSync(join(out, 'a/f'), 'utf8')).toBe('f\n');
  });

  it('create -C twice is a usage error (exit 2, nothing written), not the last directory for every path', () => {
    // GNU tar's -C applies to the paths after it; here the last one applied to all: `a` was d2/a.
    const base = join(dir, 'twoC');
    mkdirSync(join(base, 'd1'), { recursive: true });
    mkdirSync(join(base, 'd2'));
    writeFileSync(join(base, 'd1/a'), 'd1-a\n');
    writeFileSync(join(base, 'd2/a'), 'd2-a\n');
    const a = join(base, 't.tar');
    const r = portarc(['create', '-f', a, '-C', join(base, 'd1'), 'a', '-C', join(base, 'd2'), 'a']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/given twice .*create takes one -C for every path/);
    expect(existsSync(a)).toBe(false);
  });

  it('--exclude ./a leaves out the top-level a only, as GNU tar (not x/a)', () => {
    const base = join(dir, 'ex-dot');
    mkdirSync(join(base, 'x'), { recursive: true });
    writeFileSync(join(base, 'a'), '1');
    writeFileSync(join(base, 'x/a'), '2');
    const p = join(base, 'p.tar');
    const g = join(base, 'g.tar');
    expect(portarc(['create', '-f', p, '--exclude', './a', '-C', base, '.']).status).toBe(0);
    expect(tar(['cf', g, '--exclude', './a', '-C', base, '.']).status).toBe(0);
    expect(names(portarc(['list', '-f', p]).stdout).filter((n) => !n.startsWith('.portarc') && !n.endsWith('.tar'))).toEqual(names(tar(['tf', g]).stdout).filter((n) => !n.endsWith('.tar')));
    expect(names(portarc(['list', '-f', p]).stdout)).toContain('x/a');
  });

  it('create -f - with standard output redirected into the tree leaves that file out (it is the archive)', () => {
    // It was archived as it was being written (0 bytes or part of itself), exit 0.
    const base = join(dir, 'selfout');
    mkdirSync(base);
    writeFileSync(join(base, 'a'), 'a\n');
    const r = spawnSync('bash', ['-c', `"${process.execPath}" "${BIN}" create -f - . > self.tar`], { cwd: base, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(names(portarc(['list', '-f', join(base, 'self.tar')]).stdout)).toEqual(['a']);
  });

  it('-O writes the selected files\' content to stdout, as tar -xO does', () => {
    for (const sel of [['./a/g.c', './top.c'], ['./c'], ['./d']]) {
      // c/hl is a hardlink to a/g.c, which is not selected: GNU tar prints nothing for it (the
      // content asked for is silently missing); portarc prints its target's content (random access).
      const want = Buffer.concat([spawnSync('tar', ['xOf', g, ...sel]).stdout, Buffer.from(sel[0] === './c' ? 'g\n' : '')]);
      const got = spawnSync(process.execPath, [BIN, 'extract', '-O', '-f', p, ...sel]);
      expect(got.status, got.stderr.toString()).toBe(0);
      expect(got.stdout.toString(), sel.join(' ')).toBe(want.toString());
    }
    const wild = spawnSync(process.execPath, [BIN, '-xOf', p, '--wildcards', '*.h']);
    expect(wild.stdout.toString()).toBe('h\n');
    const missing = portarc(['extract', '-O', '-f', p, 'nothere']);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('"nothere"');
  });

  it('-O into a reader that stops before the content ends: exit 2 naming stdout (it was exit 0: content lost in silence)', () => {
    const d = join(dir, 'o-pipe');
    mkdirSync(d);
    sh('head -c 4000000 /dev/urandom > big.bin', d);
    expect(portarc(['create', '-f', join(d, 'a.tar'), '-C', d, 'big.bin']).status).toBe(0);
    const r = spawnSync('bash', ['-c', `node ${BIN} extract -O -f a.tar big.bin | head -c 1000 > /dev/null; echo "status \${PIPESTATUS[0]}" >&2`], { cwd: d, encoding: 'utf8' });
    expect(r.stderr).toContain('(stdout): cannot write the content: the reader closed the pipe (EPIPE)');
    expect(r.stderr).toContain('status 2');
    // A listing cut by its reader is not: the reader chose to stop.
    const l = spawnSync('bash', ['-c', `node ${BIN} list -f a.tar | head -c 1 > /dev/null; echo "status \${PIPESTATUS[0]}" >&2`], { cwd: d, encoding: 'utf8' });
    expect(l.stderr).toContain('status 0');
  });

  it('-T: a name that is not UTF-8 is refused (exit 2), never another file of the decoded name; a name may end in \\r', () => {
    // Decoded as UTF-8, bad\xff was bad\ufffd: that file was archived instead, exit 0. And "cr\r"
    // lost its \r: the file "cr" was archived.
    const base = join(dir, 'T-bytes');
    mkdirSync(base);
    const bad = Buffer.from('bad\xff', 'latin1');
    writeFileSync(Buffer.concat([Buffer.from(base + '/'), bad]), 'x');
    writeFileSync(join(base, 'bad\ufffd'), 'y');
    writeFileSync(join(base, 'cr\r'), 'with cr');
    writeFileSync(join(base, 'cr'), 'without');
    const out = join(base, 'a.tar');
    const r = portarc(['create', '-f', out, '-C', base, '--null', '-T', '-'], { input: Buffer.concat([bad, Buffer.from([0])]) });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/name 1 .* is not UTF-8/);
    expect(existsSync(out)).toBe(false);
    const c = portarc(['create', '-f', out, '-C', base, '-T', '-'], { input: Buffer.from('cr\r\n') });
    expect(c.status, c.stderr).toBe(0);
    const got = spawnSync('tar', ['-xOf', out, 'cr\r'], { encoding: 'utf8' });
    expect(got.stdout).toBe('with cr');
  });

  it('a command-line argument that is not UTF-8 is refused (exit 2), never taken for the decoded name', () => {
    // Node hands `bad\xff` over as `bad\ufffd`: create archived that other file, extract -C wrote
    // into that other directory, exit 0. The bytes are read back from /proc/self/cmdline.
    const base = join(dir, 'argv-bytes');
    mkdirSync(base);
    writeFileSync(Buffer.concat([Buffer.from(base + '/'), Buffer.from('bad\xff', 'latin1')]), 'mine');
    writeFileSync(join(base, 'bad\ufffd'), 'another file');
    const out = join(base, 'a.tar');
    // Through a shell: spawn() itself would encode the argument as UTF-8.
    const run = (args: string) => spawnSync('sh', ['-c', `exec "$0" "$1" ${args}`, process.execPath, BIN], { cwd: base, encoding: 'utf8' });
    const c = run(`create -f a.tar "$(printf 'bad\\377')"`);
    expect(c.status).toBe(2);
    expect(c.stderr).toMatch(/argument 4 .* is not UTF-8/);
    expect(existsSync(out)).toBe(false);
    // The same through tar-style options, and extract's -C.
    expect(run(`-cf a.tar "$(printf 'bad\\377')"`).status).toBe(2);
    expect(portarc(['create', '-f', out, '-C', base, 'bad\ufffd']).status).toBe(0);
    mkdirSync(join(base, 'd\ufffd'));
    const x = run(`extract -f a.tar -C "$(printf 'd\\377')"`);
    expect(x.status).toBe(2);
    expect(x.stderr).toMatch(/argument 5 .* is not UTF-8/);
    expect(readdirSync(join(base, 'd\ufffd'))).toEqual([]);
    // UTF-8 arguments, after Node's own options, are untouched.
    const ok = spawnSync('sh', ['-c', `exec "$0" --no-warnings "$1" list -f a.tar`, process.execPath, BIN], { cwd: base, encoding: 'utf8' });
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toBe('bad\ufffd\n');
  });

  it('-T with --null reads names with newlines; -T - reads stdin; extract -T selects members', () => {
    const odd = join(src, 'new\nline');
    writeFileSync(odd, 'odd');
    try {
      const list0 = Buffer.from('top.c\0new\nline\0a/b\0');
      const out = join(dir, 'T.tar');
      const r = portarc(['create', '-f', out, '-C', src, '--null', '-T', '-'], { input: list0 });
      expect(r.status, r.stderr).toBe(0);
      const gnu = spawnSync('bash', ['-c', `printf 'top.c\\0new\\nline\\0a/b\\0' | tar cf - -C ${src} --null -T - | tar tf -`], { encoding: 'utf8' });
      // portarc shows a newline in a name as \x0a, GNU tar as \n.
      expect(names(portarc(['list', '-f', out]).stdout.replace(/\\x0a/g, '\\n'))).toEqual(names(gnu.stdout));
      writeFileSync(join(dir, 'sel.lst'), 'top.c\na/b\n');
      const x = portarc(['extract', '-f', out, '-C', join(dir, 'T-out'), '-T', join(dir, 'sel.lst')]);
      expect(x.status, x.stderr).toBe(0);
      expect(tree(join(dir, 'T-out'))).toEqual(['a/', 'a/b/', 'a/b/f.c', 'top.c']);
    } finally {
      sh(`rm -f 'new\nline'`, src);
    }
  });

  it('-k fails loudly naming each file (exit 2); --skip-old-files skips silently; --keep-newer-files keeps newer ones', () => {
    const out = join(dir, 'old');
    expect(portarc(['extract', '-f', p, '-C', out]).status).toBe(0);
    writeFileSync(join(out, 'top.c'), 'mine\n');
    const k = portarc(['extract', '-k', '-f', p, '-C', out]);
    expect(k.status).toBe(2);
    expect(k.stderr).toMatch(/top\.c.*already exists/);
    expect(readFileSync(join(out, 'top.c'), 'utf8')).toBe('mine\n');
    // The destination keeps its own times: nothing was made in it (a probe file for how the
    // filesystem folds names used to change its mtime).
    utimesSync(out, new Date('2001-02-03T04:05:06Z'), new Date('2001-02-03T04:05:06Z'));
    const s = portarc(['extract', '--skip-old-files', '-f', p, '-C', out, '--json']);
    expect(s.status, s.stderr).toBe(0);
    expect(s.stderr).toBe('');
    expect(JSON.parse(s.stdout).skipped).toContain('./top.c');
    expect(statSync(out).mtime.toISOString()).toBe('2001-02-03T04:05:06.000Z');
    expect(readFileSync(join(out, 'top.c'), 'utf8')).toBe('mine\n');
    // Newer on disk: kept, with a note (exit 0, as tar); older on disk: replaced.
    utimesSync(join(out, 'top.c'), new Date('2099-01-01'), new Date('2099-01-01'));
    writeFileSync(join(out, 'a/g.h'), 'old\n');
    utimesSync(join(out, 'a/g.h'), new Date('2000-01-01'), new Date('2000-01-01'));
    const n = portarc(['extract', '--keep-newer-files', '-f', p, '-C', out]);
    expect(n.status, n.stderr).toBe(0);
    expect(n.stderr).toMatch(/top\.c: kept the file on disk/);
    expect(readFileSync(join(out, 'top.c'), 'utf8')).toBe('mine\n');
    expect(readFileSync(join(out, 'a/g.h'), 'utf8')).toBe('h\n');
    expect(portarc(['extract', '-k', '--skip-old-files', '-f', p, '-C', out]).status).toBe(2);
  });

  it('-k, --skip-old-files, --keep-newer-files keep a file where the archive has a directory (its members fail, exit 2), and an existing directory as it is', () => {
    // The directory member replaced the file (or symlink) on disk, exit 0; and rewrote an existing
    // directory's owner and mode (the destination's too). GNU tar and bsdtar keep both.
    const a = join(dir, 'k-dir');
    mkdirSync(a);
    sh(`mkdir -p src/d dst; echo x > src/d/x`, a);
    expect(portarc(['create', '-f', join(a, 'a.tar'), '-C', join(a, 'src'), '.']).status).toBe(0);
    for (const opt of ['-k', '--skip-old-files', '--keep-newer-files']) {
      sh(`rm -rf dst && mkdir dst && echo PRECIOUS > dst/d && touch -d 2030-01-01 dst/d && ln -s elsewhere dst/e`, a);
      const r = portarc(['extract', opt, '-f', join(a, 'a.tar'), '-C', join(a, 'dst')]);
      expect(r.status, `${opt}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(/\.\/d\/x: entry: not extracted: "d" is not a directory/);
      expect(readFileSync(join(a, 'dst/d'), 'utf8'), opt).toBe('PRECIOUS\n');
    }
    sh(`rm -rf dst && mkdir -p dst/d && chmod 700 dst dst/d && chown 5000:5000 dst dst/d`, a);
    const k = portarc(['extract', '-k', '-f', join(a, 'a.tar'), '-C', join(a, 'dst')]);
    expect(k.status, k.stderr).toBe(0);
    for (const d of ['dst', 'dst/d']) {
      const st = lstatSync(join(a, d));
      expect([st.mode & 0o7777, st.uid, st.gid], d).toEqual([0o700, 5000, 5000]);
    }
    expect(readFileSync(join(a, 'dst/d/x'), 'utf8')).toBe('x\n');
  });

  it('-k and kin: a hardlink to a kept name is not made (it would join the file on disk); a kept file whose content is damaged is reported (exit 2)', () => {
    const a = join(dir, 'k-link');
    mkdirSync(a);
    sh(`mkdir src && echo NEW > src/a && ln src/a src/b && echo GOODDATA-BBBB > src/c`, a);
    expect(portarc(['create', '-f', join(a, 'a.tar'), '-C', join(a, 'src'), 'a', 'b', 'c']).status).toBe(0);
    for (const opt of ['-k', '--skip-old-files', '--keep-newer-files']) {
      sh(`rm -rf dst && mkdir dst && echo OLD > dst/a && touch -d 2030-01-01 dst/a`, a);
      const r = portarc(['extract', opt, '-f', join(a, 'a.tar'), '-C', join(a, 'dst')]);
      expect(r.status, `${opt}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(/not restored: b: entry: not extracted: hardlink to "a", which was not extracted/);
      // Counted as what was put in place: c only ("1 entry; not restored: 2 entries" counted the refused ones too).
      expect(r.stderr).toContain(opt === '-k' ? 'summary: 1 entry extracted; not restored: 2 entries' : 'summary: 1 entry extracted; not restored: 1 entry');
      expect(existsSync(join(a, 'dst/b')), opt).toBe(false);
      expect(readFileSync(join(a, 'dst/a'), 'utf8')).toBe('OLD\n');
      expect(readFileSync(join(a, 'dst/c'), 'utf8')).toBe('GOODDATA-BBBB\n');
    }
    // Damage in the content of a member whose name is kept: reported from a file and from a stream.
    const bytes = readFileSync(join(a, 'a.tar'));
    const at = bytes.indexOf('GOODDATA-BBBB');
    bytes[at] ^= 1;
    writeFileSync(join(a, 'd.tar'), bytes);
    for (const opt of ['-k', '--skip-old-files', '--keep-newer-files']) {
      for (const stdin of [false, true]) {
        sh(`rm -rf dst && mkdir dst && echo OLD > dst/c && touch -d 2030-01-01 dst/c`, a);
        const args = ['extract', opt, '-f', stdin ? '-' : join(a, 'd.tar'), '-C', join(a, 'dst')];
        const r = stdin ? spawnSync('node', [BIN, ...args], { input: bytes, encoding: 'utf8' }) : portarc(args);
        expect(r.status, `${opt} ${stdin}: ${r.stderr}`).toBe(2);
        expect(r.stderr).toMatch(/entry "c", bytes \d+-\d+: content does not match the manifest .*; not extracted \(the name was kept as it is on disk\)/);
        expect(r.stderr).toMatch(/damaged: 1 damaged place; 2 entries extracted/);
        expect(readFileSync(join(a, 'dst/c'), 'utf8')).toBe('OLD\n');
      }
    }
    // --keep-newer-files keeps a newer file of the same kind only: a newer empty directory where the
    // archive has a file is replaced, as GNU tar does.
    sh(`rm -rf dst && mkdir -p dst/c && touch -d 2030-01-01 dst/c`, a);
    const n = portarc(['extract', '--keep-newer-files', '-f', join(a, 'a.tar'), '-C', join(a, 'dst')]);
    expect(n.status, n.stderr).toBe(0);
    expect(readFileSync(join(a, 'dst/c'), 'utf8')).toBe('GOODDATA-BBBB\n');
  });

  it('--strip-components that gives two members one name: the later replaces the earlier with a warning; a hardlink to the earlier is not made (it would join the later content, exit 0 in GNU tar)', () => {
    const a = join(dir, 'strip-clash');
    mkdirSync(a);
    sh('mkdir -p s/t1 s/t3 s/t4/sub && echo ONE > s/t1/x && echo THREE > s/t3/x && ln s/t1/x s/t3/y && echo FOUR > s/t4/sub/f && ln s/t4/sub/f s/t4/g', a);
    expect(portarc(['create', '-f', join(a, 's.tar'), '-C', join(a, 's'), 't1/x', 't3/x', 't3/y', 't4']).status).toBe(0);
    const r = portarc(['extract', '-f', join(a, 's.tar'), '-C', join(a, 'out'), '--strip-components', '1']);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toContain('warning: x: --strip-components 1 gives "t3/x" the name of an earlier member, which it replaces on disk');
    expect(r.stderr).toContain('not restored: y: entry: not extracted: hardlink to "t1/x", whose name after --strip-components 1 ("x") a later member took');
    expect(existsSync(join(a, 'out/y'))).toBe(false);
    expect(readFileSync(join(a, 'out/x'), 'utf8')).toBe('THREE\n');
    // A hardlink whose target kept its own name is made; directories meeting under one name are no clash.
    expect(readFileSync(join(a, 'out/g'), 'utf8')).toBe('FOUR\n');
    expect(statSync(join(a, 'out/g')).ino).toBe(statSync(join(a, 'out/sub/f')).ino);
    expect(r.stderr).not.toMatch(/sub/);
  });

  it('create --newer DATE: what changed after it, directories always, as GNU tar', () => {
    const t = join(dir, 'newer');
    mkdirSync(t);
    sh(`mkdir -p old new; echo a > old/a; echo b > new/b; echo c > old/c; touch -d 2001-01-01 old/a old/c old; touch -d 2030-01-01 new/b`, t);
    // ctime is now for all: only data (mtime) can be older; GNU tar -N compares ctime too, so use a future date.
    const date = '2029-06-01';
    const r = portarc(['create', '-f', join(dir, 'newer.tar'), '-C', t, '--newer', date, '.']);
    expect(r.status, r.stderr).toBe(0);
    const gnu = spawnSync('bash', ['-c', `tar cf - -C ${t} --newer ${date} . 2>/dev/null | tar tf -`], { encoding: 'utf8' });
    const got = names(portarc(['list', '-f', join(dir, 'newer.tar')]).stdout);
    expect(got).toEqual(names(gnu.stdout));
    expect(got).toEqual(['new', 'new/b', 'old']);
    // A file of the stamp's very time (a clock tick is milliseconds) is in, as in GNU tar: it was
    // left out of the incremental backup that used the stamp, exit 0.
    sh(`touch -d '2030-01-01 00:00:00.5' ../stamp && echo s > old/same && touch -r ../stamp old/same`, t);
    const same = portarc(['create', '-f', join(dir, 'same.tar'), '-C', t, '--newer', join(dir, 'stamp'), 'old']);
    expect(same.status, same.stderr).toBe(0);
    const gnuSame = spawnSync('bash', ['-c', `tar cf - -C ${t} --newer ${join(dir, 'stamp')} old 2>/dev/null | tar tf -`], { encoding: 'utf8' });
    expect(names(portarc(['list', '-f', join(dir, 'same.tar')]).stdout)).toEqual(['old', 'old/same']);
    expect(names(gnuSame.stdout)).toEqual(['old', 'old/same']);
    const bad = portarc(['create', '-f', join(dir, 'x.tar'), '--newer', 'yesterday-ish', '-C', t, '.']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/not a date/);
  });

  it('--one-file-system keeps the mount point, not what is mounted there', () => {
    const t = join(dir, 'ofs');
    mkdirSync(join(t, 'mnt'), { recursive: true });
    writeFileSync(join(t, 'here'), 'x');
    if (spawnSync('mount', ['-t', 'tmpfs', 'none', join(t, 'mnt')]).status !== 0) return; // needs root and mount rights
    try {
      writeFileSync(join(t, 'mnt', 'inside'), 'y');
      const r = portarc(['create', '-f', join(dir, 'ofs.tar'), '-C', t, '--one-file-system', '.']);
      expect(r.status, r.stderr).toBe(0);
      const gnu = spawnSync('bash', ['-c', `tar cf - -C ${t} --one-file-system . 2>/dev/null | tar tf -`], { encoding: 'utf8' });
      const got = names(portarc(['list', '-f', join(dir, 'ofs.tar')]).stdout);
      expect(got).toEqual(names(gnu.stdout));
      expect(got).toEqual(['here', 'mnt']);
      expect(names(portarc(['list', '-f', join(dir, 'ofs-all.tar')]).stdout)).toEqual([]);
      expect(portarc(['create', '-f', join(dir, 'ofs-all.tar'), '-C', t, '.']).status).toBe(0);
      expect(names(portarc(['list', '-f', join(dir, 'ofs-all.tar')]).stdout)).toContain('mnt/inside');
    } finally {
      spawnSync('umount', [join(t, 'mnt')]);
    }
  });

  it('create --no-fsync makes no fsync call (strace), and the archive is whole', () => {
    if (spawnSync('strace', ['-V']).status !== 0) throw new Error('strace is needed (apt-get install strace)');
    const count = (extra: string[], out: string) => {
      const log = join(dir, `${out}.strace`);
      const r = spawnSync('strace', ['-f', '-qq', '-e', 'trace=fsync,fdatasync,syncfs', '-o', log, process.execPath, BIN, 'create', ...extra, '-f', join(dir, out), '-C', src, '.'], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      return readFileSync(log, 'utf8').split('\n').filter((l) => /\b(fsync|fdatasync|syncfs)\(/.test(l)).length;
    };
    expect(count([], 'sync.tar')).toBeGreaterThan(0);
    expect(count(['--no-fsync'], 'nosync.tar')).toBe(0);
    expect(portarc(['verify', '-f', join(dir, 'nosync.tar')]).status).toBe(0);
  });

  it('stdin is read once: -f - with -T - is a usage error', () => {
    const r = portarc(['extract', '-f', '-', '-T', '-', '-C', join(dir, 'stdin-twice')], { input: readFileSync(p) });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/standard input can be read once/);
    expect(existsSync(join(dir, 'stdin-twice'))).toBe(false);
  });

  it('aliases c/x/t and tar-style -cf/-xvf/-tf', () => {
    const a = join(dir, 'alias.tar');
    expect(portarc(['-cf', a, '-C', src, 'a']).status).toBe(0);
    expect(portarc(['c', '-f', join(dir, 'alias2.tar'), '-C', src, 'a']).status).toBe(0);
    expect(names(portarc(['-tf', a]).stdout)).toEqual(['a', 'a/b', 'a/b/f.c', 'a/g.c', 'a/g.h']);
    expect(names(portarc(['t', '-f', join(dir, 'alias2.tar')]).stdout)).toEqual(['a', 'a/b', 'a/b/f.c', 'a/g.c', 'a/g.h']);
    const x = portarc(['-xvf', a, '-C', join(dir, 'alias-out')]);
    expect(x.status, x.stderr).toBe(0);
    expect(names(x.stdout)).toEqual(['a', 'a/b', 'a/b/f.c', 'a/g.c', 'a/g.h']);
    expect(portarc(['x', '-f', a, '-C', join(dir, 'alias-out2')]).status).toBe(0);
    expect(tree(join(dir, 'alias-out2'))).toEqual(tree(join(dir, 'alias-out')));
  });
});

describe('library options behind the flags', () => {
  const dir = tempDir('select-lib');
  const src = join(dir, 'src');
  mkdirSync(join(src, 'keep'), { recursive: true });
  mkdirSync(join(src, 'skip'));
  writeFileSync(join(src, 'keep', 'k.txt'), 'k');
  writeFileSync(join(src, 'skip', 's.txt'), 's');

  it('create filter: a directory left out is not descended; entries input is filtered too', async () => {
    const seen: string[] = [];
    await create(['keep', 'skip'], join(dir, 'f.tar'), { cwd: src, filter: (e) => (seen.push(e.name), e.name !== 'skip') });
    expect(seen).not.toContain('skip/s.txt');
    const got: string[] = [];
    for await (const e of list(join(dir, 'f.tar'))) got.push(e.name);
    expect(got).toEqual(['keep', 'keep/k.txt']);
    const entries = [{ entry: makeEntry({ path: Buffer.from('a'), type: 'file', size: 1 }), body: Buffer.from('a') }, { entry: makeEntry({ path: Buffer.from('b'), type: 'file', size: 1 }), body: Buffer.from('b') }];
    await create(entries as never, join(dir, 'e.tar'), { filter: (e) => e.name === 'b' });
    const got2: string[] = [];
    for await (const e of list(join(dir, 'e.tar'))) got2.push(e.name);
    expect(got2).toEqual(['b']);
  });

  it('extract filter, stripComponents and existing', async () => {
    await create(['keep', 'skip'], join(dir, 'all.tar'), { cwd: src });
    const out = join(dir, 'out');
    const r = await extract(join(dir, 'all.tar'), out, { filter: excludeFilter(['skip']), stripComponents: 1 });
    expect(tree(out)).toEqual(['k.txt']);
    expect(r.entries).toBe(1);
    writeFileSync(join(out, 'k.txt'), 'mine');
    const k = await extract(join(dir, 'all.tar'), out, { stripComponents: 1, existing: 'keep-old' });
    expect(k.losses.map((l) => [l.path, l.what])).toEqual([['k.txt', 'entry']]);
    expect(readFileSync(join(out, 'k.txt'), 'utf8')).toBe('mine');
    await expect(extract(join(dir, 'all.tar'), out, { stripComponents: -1 })).rejects.toThrow(/stripComponents/);
  });
});
