// Never lose data silently (issue #8, part A): closed pipes, odd destinations, full and read-only
// disks, things that are not archives, bad options. Every operation either completes exactly
// (exit 0) or fails loudly (exit 2, one line naming what and where), and leaves no temporary file.
// Spec: spec/portarc-1.md §8.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { create, extract, list, makeEntry, openArchive, PortarcError, type Entry } from '../src/api/index.js';
import { reportError } from '../src/cli/main.js';
import { parseLimit } from '../src/model/limits.js';
import { partialName } from '../src/io/sink.js';
import { BIN, portarc } from './helpers/cli.js';
import { isRoot, listing, partialsOf, tempDir } from './helpers/tree.js';

const FILES = 2000;

/** Can this machine mount a tmpfs (root with CAP_SYS_ADMIN)? The ro and disk-full cases need one. */
const canMount = (() => {
  if (!isRoot) return false;
  const dir = tempDir('mount-probe');
  const ok = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir]).status === 0;
  if (ok) spawnSync('umount', [dir]);
  spawnSync('rmdir', [dir]);
  return ok;
})();
let work: string;
/** A tree of FILES small files (each holding its own name) and a subdirectory, and its tar. */
let src: string;
let archive: string;

/** Run a bash pipeline; `rc` is portarc's own exit status (PIPESTATUS[0]), not the pipe's. */
function pipeline(script: string, cwd: string): { rc: number; stderr: string; stdout: string } {
  const r = spawnSync('bash', ['-c', `${script}; echo "\${PIPESTATUS[0]}" > .rc`], { cwd, encoding: 'utf8', env: { ...process.env, P: `${process.execPath} ${BIN}` }, maxBuffer: 1 << 26 });
  return { rc: Number(readFileSync(join(cwd, '.rc'), 'utf8')), stderr: r.stderr, stdout: r.stdout };
}

/** Temporary files an extraction or a create may leave behind. */
function leftovers(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (/^\.portarc-.*\.tmp$|\.partial$/.test(n)) out.push(p);
      if (lstatSync(p).isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

/** The entries GNU tar lists in an archive (an independent reader), less the manifest and trailer. */
function gnuTarCount(file: string): number {
  const names = spawnSync('tar', ['-tf', file], { encoding: 'utf8', maxBuffer: 1 << 26 }).stdout.split('\n').filter(Boolean);
  return names.filter((n) => !n.startsWith('.portarc/')).length;
}

function expectOneLineError(stderr: string, ...parts: Array<string | RegExp>): void {
  const lines = stderr.trim().split('\n');
  expect(lines, stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^portarc: error: /);
  for (const p of parts) expect(lines[0]).toMatch(p);
  expect(stderr).not.toMatch(/\n\s+at |node:internal/);
}

beforeAll(() => {
  work = tempDir('failures');
  src = join(work, 'src');
  mkdirSync(join(src, 'sub'), { recursive: true });
  for (let i = 0; i < FILES; i++) writeFileSync(join(src, `f${String(i).padStart(4, '0')}`), `file ${i}\n`);
  writeFileSync(join(src, 'sub', 'last'), 'the end\n');
  archive = join(work, 'src.tar');
  expect(portarc(['create', '-f', archive, '-C', work, 'src']).status).toBe(0);
});

afterAll(() => {
  spawnSync('rm', ['-rf', work]);
});

describe('a closed pipe never ends the work silently', () => {
  it('extract -v | head -1: the extraction completes, exit 0, the cut listing is said once on stderr', () => {
    const dir = tempDir('pipe-x');
    const r = pipeline(`$P extract -v -f ${archive} -C out 2>err | head -1`, dir);
    expect(r.stdout).toMatch(/^src\/?\n$/);
    expect(r.rc).toBe(0);
    expect(listing(join(dir, 'out', 'src'))).toEqual(listing(src));
    expect(leftovers(join(dir, 'out'))).toEqual([]);
    const err = readFileSync(join(dir, 'err'), 'utf8');
    expect(err).toMatch(/listing was cut/);
    expect(err.trim().split('\n')).toHaveLength(1);
  });

  it('create -v with stdout and stderr into head -1: the archive is complete, exit 0, no .partial', () => {
    const dir = tempDir('pipe-c');
    const r = pipeline(`$P create -v -f x.tar -C ${work} src 2>&1 | head -1`, dir);
    expect(r.rc).toBe(0);
    expect(partialsOf(join(dir, 'x.tar'))).toEqual([]);
    expect(gnuTarCount(join(dir, 'x.tar'))).toBe(FILES + 3);
  });

  it('create -v with only stderr closed early: complete archive, exit 0', () => {
    const dir = tempDir('pipe-c2');
    const r = pipeline(`$P create -v -f x.tar -C ${work} src 2>&1 >/dev/null | head -1`, dir);
    expect(r.rc).toBe(0);
    expect(gnuTarCount(join(dir, 'x.tar'))).toBe(FILES + 3);
  });

  it('list | head -1 stops quietly with the exit code unchanged', () => {
    const dir = tempDir('pipe-l');
    const r = pipeline(`$P list -f ${archive} 2>err | head -1`, dir);
    expect(r.stdout).toBe('src\n');
    expect(r.rc).toBe(0);
    expect(readFileSync(join(dir, 'err'), 'utf8')).toBe('');
  });

  it('a listing that cannot be written (stdout on a full disk) is never silent: list exit 2, extract -v exit 1 with the tree complete', () => {
    const dir = tempDir('full-out');
    const r = pipeline(`$P list -f ${archive} > /dev/full 2>err`, dir);
    expect(r.rc).toBe(2);
    expectOneLineError(readFileSync(join(dir, 'err'), 'utf8'), /\(stdout\): cannot write the listing: no space left on device \(ENOSPC\)/);
    const r2 = pipeline(`$P extract -v -f ${archive} -C out > /dev/full 2>err`, dir);
    expect(r2.rc).toBe(1);
    expect(readFileSync(join(dir, 'err'), 'utf8')).toMatch(/^portarc: warning: the listing could not be written to standard output: no space left on device \(ENOSPC\); the extraction was completed\n$/);
    expect(listing(join(dir, 'out', 'src'))).toEqual(listing(src));
  });

  it('create -f - | head -c 1000: the archive itself was cut, so exit 2 naming EPIPE', () => {
    const dir = tempDir('pipe-a');
    const r = pipeline(`$P create -f - -C ${work} src 2>err | head -c 1000 >/dev/null`, dir);
    expect(r.rc).toBe(2);
    expectOneLineError(readFileSync(join(dir, 'err'), 'utf8'), /\(stdout\)/, /EPIPE/);
  });
});

describe('the archive name decides how it is written (never replaced unless a regular file)', () => {
  it('-f /dev/stdout writes through the link, into a pipe and into a redirected file', () => {
    const before = lstatSync('/dev/stdout');
    const dir = tempDir('devstdout');
    const r = pipeline(`$P create -f /dev/stdout -C ${work} src | cat > piped.tar`, dir);
    expect(r.rc).toBe(0);
    expect(lstatSync('/dev/stdout').isSymbolicLink()).toBe(true);
    expect(lstatSync('/dev/stdout').ino).toBe(before.ino);
    expect(gnuTarCount(join(dir, 'piped.tar'))).toBe(FILES + 3);
    const r2 = pipeline(`$P create -f /dev/stdout -C ${work} src > redirected.tar`, dir);
    expect(r2.rc).toBe(0);
    expect(gnuTarCount(join(dir, 'redirected.tar'))).toBe(FILES + 3);
    expect(readdirSync(dir).filter((n) => n.endsWith('.partial'))).toEqual([]);
    // Redirected into the very tree it archives: the archive does not take itself in.
    writeFileSync(join(dir, 'inside.txt'), 'x');
    const r3 = pipeline(`$P create -f /dev/stdout . > self.tar`, dir);
    expect(r3.rc).toBe(0);
    const names = spawnSync('tar', ['-tf', join(dir, 'self.tar')], { encoding: 'utf8' }).stdout;
    expect(names).toMatch(/inside\.txt/);
    expect(names).not.toMatch(/self\.tar/);
  });

  it('a FIFO is written to, not replaced', () => {
    const dir = tempDir('fifo');
    const r = pipeline(`mkfifo p; cat p > out.tar & $P create -f p -C ${work} src; rc=$?; wait; (exit $rc)`, dir);
    expect(r.rc).toBe(0);
    expect(lstatSync(join(dir, 'p')).isFIFO()).toBe(true);
    expect(gnuTarCount(join(dir, 'out.tar'))).toBe(FILES + 3);
    expect(partialsOf(join(dir, 'p'))).toEqual([]);
  });

  it('a symlink is followed: its target is replaced, the link stays, no .partial beside either', () => {
    const dir = tempDir('symlink');
    mkdirSync(join(dir, 'real'));
    writeFileSync(join(dir, 'real', 'backup.tar'), 'old contents');
    symlinkSync('real/backup.tar', join(dir, 'link.tar'));
    symlinkSync('real/new.tar', join(dir, 'dangling.tar'));
    expect(portarc(['create', '-f', join(dir, 'link.tar'), '-C', work, 'src']).status).toBe(0);
    expect(portarc(['create', '-f', join(dir, 'dangling.tar'), '-C', work, 'src']).status).toBe(0);
    for (const [link, target] of [['link.tar', 'backup.tar'], ['dangling.tar', 'new.tar']]) {
      expect(lstatSync(join(dir, link!)).isSymbolicLink()).toBe(true);
      expect(gnuTarCount(join(dir, 'real', target!))).toBe(FILES + 3);
    }
    expect(leftovers(dir)).toEqual([]);
  });

  it.skipIf(!isRoot)('a character device is written to, not replaced, and not fsynced', () => {
    const dir = tempDir('chardev');
    expect(spawnSync('mknod', [join(dir, 'null'), 'c', '1', '3']).status).toBe(0);
    const r = portarc(['create', '-f', join(dir, 'null'), '-C', work, 'src']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(lstatSync(join(dir, 'null')).isCharacterDevice()).toBe(true);
    expect(partialsOf(join(dir, 'null'))).toEqual([]);
  });

  it('a symlink planted at the name of the partial file is not written through', async () => {
    // The library in this process: its partial file is NAME.HOST.PID.partial (then ...PID-1.partial).
    const dir = tempDir('partial-link');
    const planted = partialName(join(dir, 'x.tar'));
    symlinkSync(join(dir, 'victim'), planted);
    await create(['src/sub'], join(dir, 'x.tar'), { cwd: work });
    expect(existsSync(join(dir, 'victim'))).toBe(false);
    expect(lstatSync(planted).isSymbolicLink()).toBe(true);
    expect(gnuTarCount(join(dir, 'x.tar'))).toBeGreaterThan(0);
    expect(partialsOf(join(dir, 'x.tar'))).toEqual([planted]);
  });

  it('a partial file a killed create left on this host is removed by the next create of that name; a running one\'s is not', () => {
    const dir = tempDir('stale-partial');
    const a = join(dir, 's.tar');
    // Process ids above Linux's pid_max (2^22) never run; this process does.
    const dead = partialName(a).replace(`.${process.pid}.partial`, '.4194305.partial');
    const dead2 = partialName(a).replace(`.${process.pid}.partial`, '.4194306-2.partial');
    const live = partialName(a);
    const otherHost = join(dir, `s.tar.elsewhere.4194305.partial`);
    for (const f of [dead, dead2, live, otherHost]) writeFileSync(f, 'half an archive');
    const r = portarc(['create', '-f', a, '-C', work, 'src/sub']);
    expect(r.status, r.stderr).toBe(0);
    expect(partialsOf(a).sort()).toEqual([live, otherHost].sort());
  });

  it('two creates of one archive name at once each write their own partial file: the archive published is whole', async () => {
    // They shared NAME.partial: the first published a file the second was still writing into
    // (exit 0, an archive that never verified), and the second failed with ENOENT.
    const dir = tempDir('two-creates');
    const big = join(dir, 'big');
    mkdirSync(big);
    writeFileSync(join(big, 'data'), Buffer.alloc(64 << 20, 7));
    const a = join(dir, 'same.tar');
    const slow = spawn(process.execPath, [BIN, 'create', '-f', a, '-C', dir, 'big']);
    const slowDone = new Promise<number>((res) => slow.on('close', (code) => res(code ?? -1)));
    while (partialsOf(a).length === 0) await new Promise((r) => setTimeout(r, 5));
    const quick = portarc(['create', '-f', a, '-C', work, 'src/sub']);
    expect(quick.status, quick.stderr).toBe(0);
    expect(await slowDone).toBe(0);
    // The last to finish published its archive, whole; no partial file is left.
    const v = portarc(['verify', '-f', a]);
    expect(v.status, v.stdout + v.stderr).toBe(0);
    expect(partialsOf(a)).toEqual([]);
  });

  it('a directory as the archive name is a clear error, exit 2', () => {
    const r = portarc(['create', '-f', work, '-C', work, 'src/sub']);
    expect(r.status).toBe(2);
    expectOneLineError(r.stderr, /is a directory/);
  });
});

describe('messages: one line, the right code, never a stack trace', () => {
  it('create -f - > /dev/full: exit 2, "no space left on device"', () => {
    const r = pipeline(`$P create -f - -C ${work} src > /dev/full 2>err`, work);
    expect(r.rc).toBe(2);
    expectOneLineError(readFileSync(join(work, 'err'), 'utf8'), /\(stdout\): cannot write the archive: no space left on device \(ENOSPC\)/);
  });

  it('--level out of range is a usage error before anything is written', () => {
    const dir = tempDir('level');
    for (const [name, re] of [['x.tar.gz', /level 99 .*gzip takes 1-9/], ['x.tar.zst', /level 99 .*zstd takes 1-22/], ['x.zip', /level 99 .*deflate takes 0-9/]] as const) {
      const r = portarc(['create', '--level', '99', '-f', join(dir, name), '-C', work, 'src/sub']);
      expect(r.status).toBe(2);
      expectOneLineError(r.stderr, re);
    }
    // A level for what is not compressed would read as honoured: refused too.
    for (const [args, re] of [[['-f', join(dir, 'x.tar')], /level 5: this tar is not compressed/], [['--no-compress', '-f', join(dir, 'y.tar.gz')], /level 5: this tar is not compressed/], [['--zip-method', 'store', '-f', join(dir, 'x.zip')], /zip method "store" does not compress/]] as const) {
      const r = portarc(['create', '--level', '5', ...args, '-C', work, 'src/sub']);
      expect(r.status, args.join(' ')).toBe(2);
      expectOneLineError(r.stderr, re);
    }
    expect(portarc(['create', '--level', '19', '-f', join(dir, 'ok.tar.zst'), '-C', work, 'src/sub']).status).toBe(0);
    expect(readdirSync(dir)).toEqual(['ok.tar.zst']);
  });

  it('zstd where no compressor exists (no zstd-napi, a Node without built-in zstd): exit 2, and no .partial left (tar and zip)', () => {
    const dir = tempDir('nozstd');
    // zstd-napi hidden from this process, as where it could not be built (no compiler).
    const preload = join(dir, 'no-napi.cjs');
    writeFileSync(preload, `const M = require('module'); const r = M._resolveFilename; M._resolveFilename = function (q, ...a) { if (String(q).startsWith('zstd-napi')) throw new Error('hidden by the test'); return r.call(this, q, ...a); };`);
    const version = spawnSync(process.execPath, ['-r', preload, BIN, '--version'], { encoding: 'utf8' }).stdout;
    const canCompress = /zstd: builtin (?!\(unavailable\))/.test(version);
    for (const args of [['-f', join(dir, 'a.tar.zst')], ['--zstd', '-f', join(dir, 'b.tar')], ['--zip-method', 'zstd', '-f', join(dir, 'c.zip')]]) {
      const r = spawnSync(process.execPath, ['-r', preload, BIN, 'create', ...args, '-C', work, 'src/sub'], { encoding: 'utf8' });
      if (canCompress) expect(r.status, r.stderr).toBe(0); // Node's own zstd (>= 22.15)
      else {
        expect(r.status).toBe(2);
        expectOneLineError(r.stderr, /zstd/);
      }
    }
    // Never a .partial: the file was opened before the compressor was found missing.
    expect(readdirSync(dir).filter((n) => n.endsWith('.partial'))).toEqual([]);
  });

  it('without the addon and without xargs or getfattr (a slim container): each entry named, and what to install', () => {
    const dir = tempDir('notools');
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    symlinkSync(process.execPath, join(bin, 'node'));
    const env = { ...process.env, PATH: bin, PORTARC_NO_NATIVE: '1' };
    const run = () => spawnSync(process.execPath, [BIN, 'create', '-f', join(dir, 'a.tar'), '-C', work, 'src/sub'], { encoding: 'utf8', env });
    const noXargs = run();
    expect(noXargs.status).toBe(2);
    expect(noXargs.stderr).toContain('xargs is not installed (the findutils package): without portarc\'s native addon, xattrs and ACLs are read and set through it');
    symlinkSync(spawnSync('sh', ['-c', 'command -v xargs'], { encoding: 'utf8' }).stdout.trim(), join(bin, 'xargs'));
    const noGetfattr = run();
    expect(noGetfattr.status).toBe(2);
    expect(noGetfattr.stderr).toContain('getfattr is not installed (the attr package)');
    expect(noGetfattr.stderr).not.toContain('ENOENT');
  });

  it('library options are checked up front: UsageError with code PORTARC_USAGE', async () => {
    const dir = tempDir('opts');
    const bad: Array<[object, RegExp]> = [
      [{ level: 99, compression: 'gzip' }, /gzip takes 1-9/],
      [{ level: 0, compression: 'zstd' }, /zstd takes 1-22/],
      [{ threads: -1, compression: 'zstd' }, /threads -1/],
      [{ threads: 1.5 }, /threads 1.5/],
      [{ frameSize: 0, compression: 'zstd' }, /frameSize 0 is out of range: zstd frame size \(bytes\) takes 1-1073741824/],
      [{ format: 'rar' }, /format "rar" is not one of tar, zip, auto/],
      [{ zipMethod: 'lzma', format: 'zip' }, /zipMethod "lzma"/],
      [{ format: 'zip', compression: 'gzip' }, /zip archive compresses each member itself/],
      [{ level: 3, compression: 'none' }, /level 3: this tar is not compressed/],
      [{ level: 3 }, /level 3: this tar is not compressed/],
    ];
    for (const [options, re] of bad) {
      const err = await create([join(work, 'src', 'sub')], join(dir, 'x.tar'), options).catch((e: unknown) => e);
      expect(err, JSON.stringify(options)).toBeInstanceOf(PortarcError);
      expect((err as PortarcError).code).toBe('PORTARC_USAGE');
      expect((err as Error).message).toMatch(re);
    }
    expect(readdirSync(dir)).toEqual([]);
  });

  it('create() takes an array of { entry, body } as entries (a Buffer body too), and refuses other arrays', async () => {
    const dir = tempDir('entries');
    const dest = join(dir, 'e.tar');
    const body = Buffer.from('hello\n');
    await create([{ entry: makeEntry({ path: 'a.txt', type: 'file', size: body.length }), body: () => body as never }, { entry: makeEntry({ path: 'b.txt', type: 'file', size: body.length }), body: body as never }], dest);
    const r = spawnSync('tar', ['-xOf', dest, 'a.txt', 'b.txt'], { encoding: 'utf8' });
    expect(r.stdout).toBe('hello\nhello\n');
    const err = await create([42] as never, join(dir, 'f.tar')).catch((e: unknown) => e);
    expect((err as PortarcError).code).toBe('PORTARC_USAGE');
    expect((err as Error).message).toMatch(/array of paths \(strings\) or an array or \(async\) iterable of \{ entry, body\? \}/);
    expect(partialsOf(join(dir, 'f.tar'))).toEqual([]);
  });

  it('list(), extract() and openArchive() accept a Buffer or Uint8Array, and refuse anything else with a UsageError', async () => {
    const bytes = readFileSync(archive);
    const names: string[] = [];
    for await (const e of list(bytes)) names.push(e.name);
    expect(names).toHaveLength(FILES + 3);
    const u8 = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const dir = tempDir('buf');
    const res = await extract(u8, dir);
    expect(res.entries).toBe(FILES + 3);
    expect(listing(join(dir, 'src'))).toEqual(listing(src));
    const a = await openArchive(Readable.from([bytes]));
    expect(a.format).toBe('tar');
    await a.close();
    for (const bad of [42, null, { path: archive }]) {
      const err = await (async () => {
        for await (const _ of list(bad as never));
      })().catch((e: unknown) => e);
      expect((err as PortarcError).code).toBe('PORTARC_USAGE');
      expect((err as Error).message).toMatch(/a file path, "-" for stdin, a Buffer or Uint8Array, a Readable/);
    }
  });

  it('a file that is not an archive says so, with its first bytes', () => {
    const r = portarc(['list', '-f', process.execPath]);
    expect(r.status).toBe(2);
    expectOneLineError(r.stderr, /not a tar or zip archive/, /starts with 7f 45 4c 46/, /"\.ELF/);
    const text = join(work, 'notes.txt');
    writeFileSync(text, 'just some notes\n');
    const r2 = portarc(['extract', '-f', text, '-C', join(work, 'notes-out')]);
    expect(r2.status).toBe(2);
    expectOneLineError(r2.stderr, /notes\.txt, offset 0: not a tar or zip archive/, /"just some notes\."/);
  });

  it('a 0-byte archive is "empty file: not an archive", exit 2, as GNU tar fails too', () => {
    const empty = join(work, 'empty.tar');
    writeFileSync(empty, '');
    expect(spawnSync('tar', ['-tf', empty]).status).toBe(2);
    for (const args of [['list', '-f', empty], ['extract', '-f', empty, '-C', join(work, 'empty-out')]]) {
      const r = portarc(args);
      expect(r.status).toBe(2);
      expectOneLineError(r.stderr, /empty\.tar: empty file: not an archive/);
    }
    const r = portarc(['list', '-f', '-'], { input: Buffer.alloc(0) });
    expect(r.status).toBe(2);
    expectOneLineError(r.stderr, /\(stdin\): empty input: not an archive/);
  });

  it('an archive that is a directory, or missing, is a clear message', () => {
    const r = portarc(['list', '-f', src]);
    expect(r.status).toBe(2);
    expectOneLineError(r.stderr, /src: is a directory, not an archive/);
    const r2 = portarc(['extract', '-f', join(work, 'missing.tar'), '-C', join(work, 'm-out')]);
    expect(r2.status).toBe(2);
    expectOneLineError(r2.stderr, /missing\.tar: cannot open the archive: no such file or directory \(ENOENT\)/);
  });

  it('the CLI prints a PortarcError as its message and anything else as an internal error', () => {
    const lines: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((s) => (lines.push(String(s)), true));
    try {
      reportError(new TypeError('Cannot read properties of undefined'));
      reportError(parseLimitError());
    } finally {
      spy.mockRestore();
    }
    expect(lines[0]).toBe('portarc: internal error: Cannot read properties of undefined (please report; PORTARC_DEBUG=1 shows the stack)\n');
    expect(lines[1]).toMatch(/^portarc: error: bad limit "nope"/);
  });

  it('an entry name longer than a path can be is cut in the message line, kept whole in details', async () => {
    // A damaged zip read from its local headers can take 64 KiB of garbage for a name.
    const { ArchiveError } = await import('../src/model/errors.js');
    const e = new ArchiveError('local header damaged', { archive: 'a.zip', entry: 'x'.repeat(70_000), offset: 5 });
    expect(e.message).toBe(`a.zip, entry "${'x'.repeat(4096)}... (70000 characters)", offset 5: local header damaged`);
    expect(e.details.entry).toHaveLength(70_000);
    expect(new ArchiveError('bad', { entry: 'y'.repeat(4096) }).message).toBe(`entry "${'y'.repeat(4096)}": bad`);
  });
});

function parseLimitError(): unknown {
  try {
    parseLimit('nope');
  } catch (e) {
    return e;
  }
  return undefined;
}

describe('errors the library throws on purpose carry a stable code', () => {
  it('a bad --limit is PORTARC_USAGE', () => {
    const e = parseLimitError() as PortarcError;
    expect(e).toBeInstanceOf(PortarcError);
    expect(e.code).toBe('PORTARC_USAGE');
  });

  it('garbage is PORTARC_BAD_ARCHIVE; a truncated archive is too', async () => {
    const err = await openArchive(Buffer.from('hello world, this is not an archive')).catch((e: unknown) => e);
    expect((err as PortarcError).code).toBe('PORTARC_BAD_ARCHIVE');
  });

  it('a zip member whose content does not match its CRC-32 is PORTARC_DAMAGED, from a file and from a stream', async () => {
    const dir = tempDir('crc');
    const body = Buffer.from('content that will be damaged on purpose');
    const zip = join(dir, 'c.zip');
    await create([{ entry: makeEntry({ path: 'c.txt', type: 'file', size: body.length }), body: () => body as never }], zip, { zipMethod: 'store' });
    const bytes = readFileSync(zip);
    bytes[bytes.indexOf(body) + 3] ^= 0xff;
    writeFileSync(zip, bytes);
    for (const source of [zip, Readable.from([bytes])]) {
      const err = await extract(source, join(dir, 'out')).catch((e: unknown) => e);
      expect((err as PortarcError).code).toBe('PORTARC_DAMAGED');
      expect((err as Error).message).toMatch(/entry "c.txt".*CRC-32 mismatch/);
    }
    expect(leftovers(join(dir, 'out'))).toEqual([]);
  });

  it('zip writer refusals are typed: a NUL in a name, a size that is not a byte count', async () => {
    const dir = tempDir('zipcodes');
    const e1 = await create([{ entry: makeEntry({ path: Buffer.from('a\0b'), type: 'file', size: 0 }) }], join(dir, 'a.zip')).catch((e: unknown) => e);
    expect((e1 as PortarcError).code).toBe('PORTARC_ENTRY_FAILED');
    expect((e1 as Error).message).toMatch(/NUL/);
    const e2 = await create([{ entry: makeEntry({ path: 'x', type: 'file', size: -1 }) }], join(dir, 'b.zip')).catch((e: unknown) => e);
    expect((e2 as PortarcError).code).toBe('PORTARC_ENTRY_FAILED');
    expect((e2 as Error).message).toMatch(/entry "x": .*size -1 is not a whole number of bytes/);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('create() from caller-made entries: what no reader could restore is refused, naming the entry', () => {
  // Each was written, `verify` said OK, and the entry was lost at restore time (or a string chunk
  // counted in UTF-16 units cut the content short).
  const dir = tempDir('caller-entries');
  const body = (s: string | Uint8Array) => () => (async function* () { yield s as Buffer; })();
  const cases: Array<[string, () => Array<{ entry: Entry; body?: () => AsyncIterable<Buffer> }>, RegExp]> = [
    ['negative uid', () => [{ entry: makeEntry({ path: 'a', type: 'file', size: 1, uid: -1 }), body: body('x') }], /uid -1 is not a whole number/],
    ['negative device number', () => [{ entry: makeEntry({ path: 'a', type: 'chardev', devMajor: -1 }) }], /device number -1/],
    ['a file path ending in /', () => [{ entry: makeEntry({ path: 'f/', type: 'file', size: 1 }), body: body('x') }], /ends in "\/"/],
    ['a NUL in the path', () => [{ entry: makeEntry({ path: Buffer.from('a\0b'), type: 'file', size: 0 }) }], /NUL byte/],
    ['a .. component', () => [{ entry: makeEntry({ path: 'a/../../b', type: 'file', size: 0 }) }], /"\.\." component/],
    ['an absolute path', () => [{ entry: makeEntry({ path: '/etc/x', type: 'file', size: 0 }) }], /absolute/],
    ['a size of 2.5', () => [{ entry: makeEntry({ path: 'a', type: 'file', size: 2.5 }), body: body('ab') }], /size 2\.5 is not a whole number/],
    ['mtimeNs as a number', () => [{ entry: makeEntry({ path: 'a', type: 'file', size: 0, mtimeNs: 5 as unknown as bigint }) }], /mtimeNs must be a bigint/],
    ['sparse runs past the size', () => [{ entry: makeEntry({ path: 'a', type: 'file', size: 100, sparse: [{ offset: 80, length: 50 }] }), body: body('x'.repeat(50)) }], /sparse runs end at 130, past the size 100/],
    ['a string chunk', () => [{ entry: makeEntry({ path: 'a', type: 'file', size: undefined as unknown as number }), body: body('h\u00e9llo') }], /yielded a string/],
    ['a hardlink to a name never given', () => [{ entry: makeEntry({ path: 'b', type: 'hardlink', linkTarget: Buffer.from('a') }) }], /hardlink to "a", which is not an entry written before it/],
  ];
  for (const [what, entries, message] of cases) {
    it(what, async () => {
      const dest = join(dir, `${what.replace(/\W+/g, '-')}.tar`);
      const err = await create(entries(), dest).catch((e: unknown) => e);
      expect(err, what).toBeInstanceOf(PortarcError);
      expect((err as PortarcError).code).toBe('PORTARC_ENTRY_FAILED');
      expect((err as Error).message).toMatch(message);
      expect(existsSync(dest)).toBe(false);
    });
  }
  it('a hardlink whose target the filter left out is refused; a Uint8Array chunk and a directory path with a slash are taken', async () => {
    const two = () => [
      { entry: makeEntry({ path: 'a', type: 'file', size: 5 }), body: body(new Uint8Array([104, 101, 108, 108, 111])) },
      { entry: makeEntry({ path: 'b', type: 'hardlink', linkTarget: Buffer.from('a') }) },
      { entry: makeEntry({ path: 'd/', type: 'directory' }) },
    ];
    const err = await create(two(), join(dir, 'filtered.tar'), { filter: (e) => e.name !== 'a' }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/entry "b": hardlink to "a", which is not an entry written before it/);
    const ok = join(dir, 'ok.tar');
    await create(two(), ok);
    expect(spawnSync('tar', ['-tf', ok], { encoding: 'utf8' }).stdout.split('\n').filter((l) => !l.startsWith('.portarc'))).toEqual(['a', 'b', 'd/', '']);
    const out = join(dir, 'ok-x');
    await extract(ok, out);
    expect(readFileSync(join(out, 'b'), 'utf8')).toBe('hello');
  });
});

describe('destinations and inputs that fail', () => {
  it('extracting into a path that is a file: exit 2, "not a directory"', () => {
    const file = join(work, 'a-file');
    writeFileSync(file, 'x');
    const r = portarc(['extract', '-f', archive, '-C', file]);
    expect(r.status).toBe(2);
    expectOneLineError(r.stderr, /a-file: destination is not a directory/);
    expect(readFileSync(file, 'utf8')).toBe('x');
  });

  it.skipIf(!canMount)('a read-only destination (ro mount): exit 2 with EROFS, not a loss per entry', () => {
    const dir = tempDir('ro');
    const mnt = join(dir, 'mnt');
    mkdirSync(mnt);
    expect(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,ro', 'tmpfs', mnt]).status).toBe(0);
    try {
      for (const dest of [mnt, join(mnt, 'sub', 'dir')]) {
        const r = portarc(['extract', '-f', archive, '-C', dest]);
        expect(r.status).toBe(2);
        expectOneLineError(r.stderr, /read-only file system \(EROFS\)/);
      }
    } finally {
      spawnSync('umount', [mnt]);
    }
  });

  it('an archive named by a pipe (-f <(...), -f /dev/stdin) is read as a stream, tar and zip alike', () => {
    const dir = tempDir('named-pipe');
    expect(portarc(['create', '-f', join(dir, 'z.zip'), '-C', work, 'src/sub']).status).toBe(0);
    for (const a of [archive, join(dir, 'z.zip')]) {
      const r = pipeline(`$P list -f <(cat ${a}) > l1 2>err1; cat ${a} | $P list -f /dev/stdin > l2 2>err2; echo "\${PIPESTATUS[1]}" > .rc2`, dir);
      expect(r.rc).toBe(0);
      expect(readFileSync(join(dir, '.rc2'), 'utf8').trim()).toBe('0');
      expect(readFileSync(join(dir, 'err1'), 'utf8') + readFileSync(join(dir, 'err2'), 'utf8')).toBe('');
      const n = a === archive ? FILES + 3 : 2;
      expect(readFileSync(join(dir, 'l1'), 'utf8').trim().split('\n')).toHaveLength(n);
      expect(readFileSync(join(dir, 'l2'), 'utf8').trim().split('\n')).toHaveLength(n);
    }
  });

  it('truncated stdin (head -c N): exit 2 naming the entry and offset, nothing half-written, no temp file', async () => {
    const dir = tempDir('trunc');
    const big = Buffer.alloc(3 << 20, 7);
    const small = (n: number) => ({ entry: makeEntry({ path: `s${n}`, type: 'file', size: 6 }), body: () => Buffer.from(`small${n}`) as never });
    await create([small(1), small(2), { entry: makeEntry({ path: 'big', type: 'file', size: big.length }), body: () => big as never }, small(3)], join(dir, 't.tar'));
    const r = pipeline(`head -c 1500000 t.tar | $P extract -f - -C out 2>err; echo "\${PIPESTATUS[1]}" > .rc2`, dir);
    expect(r.rc).toBe(0); // head's own status
    expect(readFileSync(join(dir, '.rc2'), 'utf8').trim()).toBe('2');
    expectOneLineError(readFileSync(join(dir, 'err'), 'utf8'), /\(stdin\), entry "big", offset 1500000: archive is truncated/);
    expect(listing(join(dir, 'out'))).toEqual({ s1: 'small1', s2: 'small2' });
    expect(leftovers(join(dir, 'out'))).toEqual([]);
  });

  it.skipIf(!canMount)('disk full during extract (2 MiB tmpfs): exit 2 naming the entry, complete files kept, no temp file, nothing half-written', async () => {
    const dir = tempDir('full');
    const mnt = join(dir, 'mnt');
    mkdirSync(mnt);
    const big = Buffer.alloc(3 << 20, 1);
    const small = (n: number) => ({ entry: makeEntry({ path: `d/s${n}`, type: 'file', size: 6 }), body: () => Buffer.from(`small${n}`) as never });
    await create([small(1), small(2), { entry: makeEntry({ path: 'd/big', type: 'file', size: big.length }), body: () => big as never }, small(3)], join(dir, 'f.tar'));
    expect(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mnt]).status).toBe(0);
    try {
      const r = portarc(['extract', '-f', join(dir, 'f.tar'), '-C', mnt]);
      expect(r.status).toBe(2);
      expectOneLineError(r.stderr, /f\.tar, entry "d\/big": cannot write into .*: no space left on device \(ENOSPC\); the extraction stopped: this entry and the ones after it were not extracted/);
      expect(listing(mnt)).toEqual({ 'd/': '', 'd/s1': 'small1', 'd/s2': 'small2' });
      expect(leftovers(mnt)).toEqual([]);
      // The library says the same with a typed error.
      const err = await extract(join(dir, 'f.tar'), mnt).catch((e: unknown) => e);
      expect((err as PortarcError).code).toBe('PORTARC_IO');
      expect(leftovers(mnt)).toEqual([]);
    } finally {
      spawnSync('umount', [mnt]);
    }
  });

  it.skipIf(!canMount)('out of inodes at a directory: the small files still held in a batch are each named, and the directories finished', () => {
    const dir = tempDir('inodes');
    const mnt = join(dir, 'mnt');
    mkdirSync(mnt);
    const archive = join(dir, 'ino.tar');
    const made = spawnSync('python3', ['-c', `
import tarfile, io
t = tarfile.open(${JSON.stringify(archive)}, 'w', format=tarfile.PAX_FORMAT)
def add(name, kind=tarfile.REGTYPE, data=b'', mode=0o644):
    i = tarfile.TarInfo(name); i.type = kind; i.mode = mode; i.mtime = 1000000000; i.size = len(data) if kind == tarfile.REGTYPE else 0
    t.addfile(i, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
add('d', tarfile.DIRTYPE, mode=0o755); add('d/a', data=b'a'); add('d/b', data=b'b'); add('d/fifo', tarfile.FIFOTYPE); add('d/c', tarfile.DIRTYPE, mode=0o755)
t.close()`]);
    expect(made.status, made.stderr?.toString()).toBe(0);
    // Three inodes: the root, d and the fifo; d/a and d/b wait in a batch when d/c's mkdir fails.
    expect(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=10m,nr_inodes=3', 'tmpfs', mnt]).status).toBe(0);
    try {
      const r = portarc(['extract', '-f', archive, '-C', mnt]);
      expect(r.status).toBe(2);
      expect(r.stderr.split('\n').filter(Boolean)).toEqual([
        'portarc: not restored: d/a: entry: not extracted: cannot open: no space left on device (ENOSPC)',
        'portarc: not restored: d/b: entry: not extracted: cannot open: no space left on device (ENOSPC)',
        expect.stringMatching(/^portarc: error: .*ino\.tar, entry "d\/c": cannot write into .*: no space left on device \(ENOSPC\); the extraction stopped: this entry and the ones after it were not extracted$/),
      ]);
      // d is finished: its mode and mtime, not the 0700 it was made with.
      const st = statSync(join(mnt, 'd'));
      expect([st.mode & 0o7777, st.mtimeMs]).toEqual([0o755, 1e12]);
      expect(leftovers(mnt)).toEqual([]);
    } finally {
      spawnSync('umount', [mnt]);
    }
  });

  it('8 concurrent extracts into 8 destinations and into one: all exit 0, every tree right', async () => {
    const dir = tempDir('conc');
    // Hardlinks and symlinks too: the names most likely to race.
    const tree = join(dir, 'tree');
    spawnSync('bash', ['-c', `mkdir -p ${tree}/a/b && cd ${tree} && for i in $(seq 1 200); do echo $i > a/b/f$i; done && ln a/b/f1 hard && ln -s a/b/f2 soft`]);
    expect(portarc(['create', '-f', join(dir, 't.tar'), '-C', tree, '.']).status).toBe(0);
    const run = (dest: string) =>
      new Promise<{ code: number; stderr: string }>((resolve) => {
        const p = spawn(process.execPath, [BIN, 'extract', '-f', join(dir, 't.tar'), '-C', dest]);
        let stderr = '';
        p.stderr.on('data', (d) => (stderr += d));
        p.on('close', (code) => resolve({ code: code ?? -1, stderr }));
      });
    for (const dests of [Array.from({ length: 8 }, (_, i) => join(dir, `d${i}`)), Array(8).fill(join(dir, 'one'))]) {
      const results = await Promise.all(dests.map(run));
      for (const r of results) expect(r, r.stderr).toEqual({ code: 0, stderr: '' });
      for (const d of new Set(dests)) {
        expect(listing(d)).toEqual(listing(tree));
        expect(lstatSync(join(d, 'hard')).ino).toBe(lstatSync(join(d, 'a/b/f1')).ino);
        expect(leftovers(d)).toEqual([]);
      }
    }
  });
});
