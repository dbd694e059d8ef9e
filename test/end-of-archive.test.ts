// Where a tar archive ends (spec §4.7), and what is never passed over in silence there: a zero
// block that took a member's header's place (a "lone zero block": every member after it was lost
// with exit 0), data after the end blocks (another archive appended with cat), a portarc archive
// whose end came before its manifest member, and, for verify, an archive cut short. Zip too: what
// follows the end records of a streamed zip, and a zip before the one a file's end records name.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { portarc } from './helpers/cli.js';
import { removeTempDirs, tempDir } from './helpers/tree.js';

let work: string;
const FILES = ['f1', 'f2', 'f3', 'f4', 'f5'];

beforeAll(() => {
  work = tempDir('end-of-archive');
  mkdirSync(join(work, 'm'));
  for (const f of FILES) writeFileSync(join(work, 'm', f), `content of ${f}\n`);
});

afterAll(removeTempDirs);

/** Offsets of each member's first header, by name (Python's tarfile, an independent reader). */
function offsets(tar: string): Record<string, number> {
  const py = 'import tarfile,sys,json\nprint(json.dumps({m.name: m.offset for m in tarfile.open(sys.argv[1])}))';
  const r = spawnSync('python3', ['-c', py, tar], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Record<string, number>;
}

/** A copy of `tar` with `blocks` 512-byte blocks zeroed from `at`. */
function zeroed(tar: string, at: number, blocks: number, name: string): string {
  const b = readFileSync(tar);
  b.fill(0, at, at + blocks * 512);
  const out = join(work, name);
  writeFileSync(out, b);
  return out;
}

function sh(cmd: string): { status: number; stdout: string; stderr: string } {
  const r = spawnSync('sh', ['-c', cmd], { encoding: 'utf8', cwd: work });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const P = `'${process.execPath}' '${join(import.meta.dirname, '..', 'bin', 'portarc.js')}'`;

describe('a lone zero block is damage, not the end of the archive', () => {
  it('GNU tar archive, one member header zeroed: extract and list go on past it, exit 2, the range named; verify exit 2', () => {
    expect(sh('tar --format=gnu -cf gnu.tar m').status).toBe(0);
    const at = offsets(join(work, 'gnu.tar'));
    const bad = zeroed(join(work, 'gnu.tar'), at['m/f3']!, 1, 'gnu-zeroed.tar');
    const dest = join(work, 'x-gnu');
    const x = portarc(['extract', '-f', bad, '-C', dest]);
    expect(x.status).toBe(2);
    expect(x.stderr).toMatch(new RegExp(`bytes ${at['m/f3']}-\\d+: header: an all-zero block where a header was expected`));
    // Every member but the zeroed one is there: the reading went on.
    for (const f of FILES.filter((f) => f !== 'f3')) expect(readFileSync(join(dest, 'm', f), 'utf8')).toBe(`content of ${f}\n`);
    expect(existsSync(join(dest, 'm', 'f3'))).toBe(false);
    const l = portarc(['list', '-f', bad]);
    expect(l.status).toBe(2);
    expect(l.stdout.trim().split('\n').sort()).toEqual(['m', ...FILES.filter((f) => f !== 'f3').map((f) => `m/${f}`)]);
    const v = portarc(['verify', '-f', bad]);
    expect(v.status).toBe(2);
    expect(v.stdout).toContain('a lone zero block');
    // GNU tar itself stops there with exit 0 (only a warning): what portarc must not do.
    expect(sh(`tar -tf ${bad}`).stdout).not.toContain('m/f5');
  });

  it('portarc archive, a member pax header zeroed: exit 2 from a file and from stdin; the rest is restored and checked', () => {
    const tar = join(work, 'p.tar');
    expect(portarc(['create', '-f', tar, '-C', work, 'm']).status).toBe(0);
    const bad = zeroed(tar, offsets(tar)['m/f2']!, 1, 'p-zeroed.tar');
    for (const [how, cmd] of [
      ['file', `${P} extract -f p-zeroed.tar -C x-pf`],
      ['stdin', `cat p-zeroed.tar | ${P} extract -f - -C x-ps`],
    ] as const) {
      mkdirSync(join(work, how === 'file' ? 'x-pf' : 'x-ps'));
      const r = sh(cmd);
      expect(r.status, `${how}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toContain('an all-zero block where a header was expected');
      const dest = join(work, how === 'file' ? 'x-pf' : 'x-ps');
      for (const f of ['f3', 'f4', 'f5']) expect(readFileSync(join(dest, 'm', f), 'utf8')).toBe(`content of ${f}\n`);
      // m/f2 itself was found again by its ustar header, its x header (times, xattrs...) lost: never
      // under its name as if whole (a file is not renamed into place; a stream's is set aside).
      expect(r.stderr).toContain('entry "m/f2"');
      expect(r.stderr).toContain('its first headers were damaged and skipped: only its ustar header was left, without what they said of it');
      expect(r.stderr).not.toContain('not in the manifest');
      expect(existsSync(join(dest, 'm', 'f2'))).toBe(false);
      if (how === 'stdin') expect(readFileSync(join(dest, 'm', 'f2.damaged'), 'utf8')).toBe('content of f2\n');
    }
    expect(bad).toBeTruthy();
  });
});

describe('a member found again after damage that began before it', () => {
  it('f1 headers damaged, f2 x header zeroed: f1 is named lost, f2 is matched to its manifest entry (file and stdin, exit 2)', () => {
    const tar = join(work, 'p.tar');
    if (!existsSync(tar)) expect(portarc(['create', '-f', tar, '-C', work, 'm']).status).toBe(0);
    const at = offsets(tar);
    const b = readFileSync(tar);
    b[at['m/f1']! + 1] ^= 0x20; // f1's x header: checksum mismatch
    b[at['m/f1']! + 1024 + 1] ^= 0x20; // f1's ustar header too
    b.fill(0, at['m/f2']!, at['m/f2']! + 512); // f2's x header zeroed
    writeFileSync(join(work, 'p-span.tar'), b);
    for (const [i, cmd] of [`${P} extract -f p-span.tar -C xs-1`, `cat p-span.tar | ${P} extract -f - -C xs-2`].entries()) {
      mkdirSync(join(work, `xs-${i + 1}`));
      const r = sh(cmd);
      expect(r.status, cmd).toBe(2);
      expect(r.stderr).toMatch(/entry "m\/f2", bytes \d+-\d+: its first headers were damaged and skipped/);
      expect(r.stderr).toMatch(/entry "m\/f1", bytes \d+-\d+: its header was in the bytes skipped \(the manifest lists it there\); not extracted/);
      expect(r.stderr).not.toContain('not in the manifest');
      expect(existsSync(join(work, `xs-${i + 1}`, 'm', 'f2'))).toBe(false);
      expect(existsSync(join(work, `xs-${i + 1}`, 'm', 'f1'))).toBe(false);
      for (const f of ['f3', 'f4', 'f5']) expect(readFileSync(join(work, `xs-${i + 1}`, 'm', f), 'utf8')).toBe(`content of ${f}\n`);
    }
  });
});

describe('an end that comes early in an archive with a manifest', () => {
  it('two zeroed blocks at a member boundary: from a file every missing member is named; from stdin the missing manifest member is damage (exit 2 both)', () => {
    const tar = join(work, 'p.tar');
    if (!existsSync(tar)) expect(portarc(['create', '-f', tar, '-C', work, 'm']).status).toBe(0);
    const at = offsets(tar);
    zeroed(tar, at['m/f2']!, 2, 'p-ended.tar');
    mkdirSync(join(work, 'x-ef'));
    const f = sh(`${P} extract -f p-ended.tar -C x-ef`);
    expect(f.status, f.stderr).toBe(2);
    for (const m of ['m/f2', 'm/f3', 'm/f4', 'm/f5']) expect(f.stderr).toContain(`entry "${m}", bytes ${at[m]}-`);
    expect(f.stderr).toMatch(/the manifest lists it at offset \d+, after the end of the archive as read/);
    mkdirSync(join(work, 'x-es'));
    const s = sh(`cat p-ended.tar | ${P} extract -f - -C x-es`);
    expect(s.status, s.stderr).toBe(2);
    expect(s.stderr).toContain('before its manifest member (it declares one): members after that may be missing');
    // list has no manifest check, but knows the archive declares one that never came.
    for (const cmd of [`${P} list -f p-ended.tar`, `cat p-ended.tar | ${P} list -f -`]) {
      const l = sh(cmd);
      expect(l.status, cmd).toBe(2);
      expect(l.stderr).toContain('before its manifest member (it declares one): members after that may be missing');
    }
    // Before: exit 0 from the file (m/f1 alone, not a word), exit 1 from stdin; list exit 1.
    // convert writes nothing from it (it made a zip of m/f1, exit 1); verify -C calls the archive
    // damaged (it said the tree had four extra files).
    const c = sh(`${P} convert p-ended.tar p-ended.zip`);
    expect(c.status, c.stderr).toBe(2);
    expect(c.stderr).toContain('entry "m/f2"');
    expect(existsSync(join(work, 'p-ended.zip'))).toBe(false);
    expect(portarc(['extract', '-f', tar, '-C', join(work, 'x-whole')]).status).toBe(0);
    const v = sh(`${P} verify -f p-ended.tar -C x-whole`);
    expect(v.status).toBe(2);
    expect(v.stderr).toContain('after the end of the archive as read: the archive is damaged');
  });
});

describe('data after the end of the archive', () => {
  it('cat of two archives: the first is extracted, and a warning names the offset of what was not read (exit 1); verify exit 2', () => {
    expect(sh('tar -cf a1.tar m/f1 && tar -cf a2.tar m/f2 && cat a1.tar a2.tar > both.tar').status).toBe(0);
    const size = readFileSync(join(work, 'a1.tar')).length;
    mkdirSync(join(work, 'x-cat'));
    const x = sh(`${P} extract -f both.tar -C x-cat`);
    expect(x.status, x.stderr).toBe(1);
    expect(x.stderr).toContain(`both.tar: data follows the end of the archive, at offset ${size}, and was not read`);
    expect(existsSync(join(work, 'x-cat', 'm', 'f1'))).toBe(true);
    const s = sh(`cat both.tar | ${P} list -f -`);
    expect(s.status).toBe(1);
    expect(s.stderr).toContain(`data follows the end of the archive, at offset ${size}`);
    const v = portarc(['verify', '-f', join(work, 'both.tar')]);
    expect(v.status).toBe(2);
    expect(v.stdout).toContain('data follows the end of the archive');
  });

  it('embedded recovery data after the end is not data nobody reads: extract exit 0, no warning', () => {
    const tar = join(work, 'rec.tar');
    expect(portarc(['create', '--recovery', '10', '--embed-recovery', '-f', tar, '-C', work, 'm']).status).toBe(0);
    const x = portarc(['extract', '-f', tar, '-C', join(work, 'x-rec')]);
    expect(x.stderr).not.toContain('data follows');
    expect(x.status).toBe(0);
    expect(portarc(['verify', '-f', tar]).status).toBe(0);
  });

  it('an archive appended after embedded recovery data is seen (the locator says where the data ends); -i reads it', () => {
    const rec = join(work, 'rec.tar');
    if (!existsSync(rec)) expect(portarc(['create', '--recovery', '10', '--embed-recovery', '-f', rec, '-C', work, 'm']).status).toBe(0);
    expect(sh('tar -cf other.tar m/f1 && cat rec.tar other.tar > rec-other.tar').status).toBe(0);
    const size = readFileSync(rec).length;
    const l = portarc(['list', '-f', join(work, 'rec-other.tar')]);
    expect(l.status).toBe(1);
    expect(l.stderr).toContain(`data follows the end of the archive, at offset ${size}, and was not read`);
    const i = portarc(['list', '-i', '-f', join(work, 'rec-other.tar')]);
    expect(i.status, i.stderr).toBe(0);
    expect(i.stdout.trim().split('\n').filter((n) => n === 'm/f1')).toHaveLength(2);
    // Read as a stream too: the locator says how far the region goes, and what follows it is
    // looked at (before: exit 0, not a word, the appended archive unread).
    const s = sh(`cat rec-other.tar | ${P} list -f -`);
    expect(s.status, s.stderr).toBe(1);
    expect(s.stderr).toContain(`(stdin): data follows the end of the archive, at offset ${size}, and was not read`);
    for (const cmd of [`cat rec.tar | ${P} list -f -`, `(cat rec.tar; head -c 20000 /dev/zero) | ${P} list -f -`]) {
      const r = sh(cmd);
      expect([r.status, r.stderr], cmd).toEqual([0, '']);
    }
  });

  it('record padding and nothing else after the end: no warning', () => {
    expect(sh('tar -b 64 -cf padded.tar m').status).toBe(0);
    const x = portarc(['list', '-f', join(work, 'padded.tar')]);
    expect(x.status).toBe(0);
    expect(x.stderr).toBe('');
  });
});

describe('verify of an archive cut short', () => {
  it('a GNU tar archive cut at a member boundary (no end blocks) is damaged, not OK', () => {
    expect(sh('tar -cf whole.tar m').status).toBe(0);
    const at = offsets(join(work, 'whole.tar'));
    const cut = readFileSync(join(work, 'whole.tar')).subarray(0, at['m/f4']!);
    writeFileSync(join(work, 'cut.tar'), cut);
    const v = portarc(['verify', '-f', join(work, 'cut.tar')]);
    expect(v.status).toBe(2);
    expect(v.stdout).toContain('the archive ends without its end-of-archive blocks');
  });
});

describe('--ignore-zeros: archives concatenated are read as one (GNU tar -i)', () => {
  beforeAll(() => {
    mkdirSync(join(work, 'a'));
    mkdirSync(join(work, 'b'));
    writeFileSync(join(work, 'a', 'fa'), 'from a\n');
    writeFileSync(join(work, 'b', 'fb'), 'from b\n');
    for (const n of ['a', 'b']) {
      expect(portarc(['create', '-f', join(work, `${n}.tar`), '-C', work, n]).status).toBe(0);
      expect(portarc(['create', '-f', join(work, `${n}.tar.zst`), '-C', work, n]).status).toBe(0);
    }
    expect(sh('cat a.tar b.tar > ab.tar && cat a.tar.zst b.tar.zst > ab.tar.zst').status).toBe(0);
  });

  it('extract -i and list -i read both, file and stdin, plain and .tar.zst: exit 0, every file; without -i, the warning', () => {
    for (const [i, cmd] of [
      `${P} extract -i -f ab.tar -C xi-1`,
      `cat ab.tar | ${P} extract -i -f - -C xi-2`,
      `${P} extract -i -f ab.tar.zst -C xi-3`,
    ].entries()) {
      mkdirSync(join(work, `xi-${i + 1}`));
      const r = sh(cmd);
      expect(r.status, `${cmd}: ${r.stderr}`).toBe(0);
      expect(r.stderr).toBe('');
      expect(readFileSync(join(work, `xi-${i + 1}`, 'a', 'fa'), 'utf8')).toBe('from a\n');
      expect(readFileSync(join(work, `xi-${i + 1}`, 'b', 'fb'), 'utf8')).toBe('from b\n');
    }
    const l = portarc(['list', '-i', '-f', join(work, 'ab.tar')]);
    expect(l.status).toBe(0);
    expect(l.stdout.trim().split('\n')).toEqual(['a', 'a/fa', 'b', 'b/fb']);
    expect(portarc(['list', '-i', '-f', join(work, 'ab.tar'), 'b/fb']).stdout.trim()).toBe('b/fb');
    const one = portarc(['extract', '-i', '-f', join(work, 'ab.tar'), '-C', join(work, 'xi-4'), 'b/fb']);
    expect(one.status, one.stderr).toBe(0);
    expect(readFileSync(join(work, 'xi-4', 'b', 'fb'), 'utf8')).toBe('from b\n');
    expect(existsSync(join(work, 'xi-4', 'a'))).toBe(false);
    // Another tool's archive first, then portarc's: each is judged by what it declares.
    expect(sh('tar -cf plain.tar m/f1 && cat plain.tar a.tar > plain-a.tar').status).toBe(0);
    const pa = portarc(['list', '-i', '-f', join(work, 'plain-a.tar')]);
    expect(pa.status, pa.stderr).toBe(0);
    expect(pa.stdout.trim().split('\n')).toEqual(['m/f1', 'a', 'a/fa']);
    mkdirSync(join(work, 'xi-5'));
    const xa = sh(`${P} extract -i -f plain-a.tar -C xi-5`);
    expect(xa.status, xa.stderr).toBe(0);
    // GNU tar reads the same with its -i.
    expect(sh('tar -itf ab.tar').stdout).toContain('b/fb');
    const without = portarc(['list', '-f', join(work, 'ab.tar')]);
    expect(without.status).toBe(1);
    expect(without.stderr).toContain('--ignore-zeros reads on');
  });

  it('-i: a lone zero block inside one archive is that archive\'s damage, not the start of another: the same report as without -i', () => {
    // Before: the zero block was passed over as an end, and m/f2, found by its ustar header, was
    // restored under its name without its pax records, "not in the manifest", unchecked.
    const tar = join(work, 'pi.tar');
    expect(portarc(['create', '-f', tar, '-C', work, 'm']).status).toBe(0);
    zeroed(tar, offsets(tar)['m/f2']!, 1, 'pi-zeroed.tar');
    for (const [how, cmd] of [
      ['file', `${P} extract -i -f pi-zeroed.tar -C xi-lz-f`],
      ['stdin', `cat pi-zeroed.tar | ${P} extract -i -f - -C xi-lz-s`],
    ] as const) {
      const dest = join(work, how === 'file' ? 'xi-lz-f' : 'xi-lz-s');
      mkdirSync(dest);
      const r = sh(cmd);
      expect(r.status, `${how}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toContain('a lone zero block');
      expect(r.stderr).toContain('its first headers were damaged and skipped: only its ustar header was left, without what they said of it');
      expect(r.stderr).not.toContain('not in the manifest');
      expect(existsSync(join(dest, 'm', 'f2'))).toBe(false);
      for (const f of ['f1', 'f3', 'f4', 'f5']) expect(readFileSync(join(dest, 'm', f), 'utf8')).toBe(`content of ${f}\n`);
    }
    const l = portarc(['list', '-i', '-f', join(work, 'pi-zeroed.tar')]);
    expect(l.status).toBe(2);
    expect(l.stderr).toContain('a lone zero block');
  });

  it('a .tar.zst appended to another on stdin is seen: the stream is read to its end (exit 1, the warning); -i reads it', () => {
    // Before: exit 0 and not a word (b's frames were not decoded yet when a's end was read).
    const l = sh(`cat ab.tar.zst | ${P} list -f -`);
    expect(l.status, l.stderr).toBe(1);
    expect(l.stdout.trim().split('\n')).toEqual(['a', 'a/fa']);
    expect(l.stderr).toContain('(stdin): data follows the end of the archive');
    mkdirSync(join(work, 'xz-1'));
    const x = sh(`cat ab.tar.zst | ${P} extract -f - -C xz-1`);
    expect(x.status, x.stderr).toBe(1);
    expect(x.stderr).toContain('data follows the end of the archive');
    mkdirSync(join(work, 'xz-2'));
    const i = sh(`cat ab.tar.zst | ${P} extract -i -f - -C xz-2`);
    expect(i.status, i.stderr).toBe(0);
    expect(readFileSync(join(work, 'xz-2', 'b', 'fb'), 'utf8')).toBe('from b\n');
    // verify named only the compressed stream's digest frame; now also what it is.
    for (const cmd of [`cat ab.tar.zst | ${P} verify -f -`, `${P} verify -f ab.tar.zst`]) {
      const v = sh(cmd);
      expect(v.status, cmd).toBe(2);
      expect(v.stdout, cmd).toContain('data follows the end of the archive, which tar readers do not read');
    }
    // One archive alone on stdin: read to its end, nothing to say.
    const one = sh(`cat a.tar.zst | ${P} list -f -`);
    expect(one.status, one.stderr).toBe(0);
    expect(one.stderr).toBe('');
  });

  it('each archive is checked against its own manifest: damage in either is found and named at its offset in the input', () => {
    const ab = readFileSync(join(work, 'ab.tar'));
    const aSize = readFileSync(join(work, 'a.tar')).length;
    const inA = offsets(join(work, 'a.tar'));
    const inB = offsets(join(work, 'b.tar'));
    // One byte of each file's content changed.
    const dataA = inA['a/fa']! + 1536; // x header, its data, the ustar header
    const dataB = aSize + inB['b/fb']! + 1536;
    expect(ab.toString('latin1', dataA, dataA + 6)).toBe('from a');
    expect(ab.toString('latin1', dataB, dataB + 6)).toBe('from b');
    ab[dataA] = 0x46;
    ab[dataB] = 0x46;
    writeFileSync(join(work, 'ab-bad.tar'), ab);
    for (const [i, cmd] of [`${P} extract -i -f ab-bad.tar -C xd-1`, `cat ab-bad.tar | ${P} extract -i -f - -C xd-2`].entries()) {
      mkdirSync(join(work, `xd-${i + 1}`));
      const r = sh(cmd);
      expect(r.status, cmd).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`entry "a/fa", bytes ${dataA}-\\d+: content does not match the manifest`));
      expect(r.stderr).toMatch(new RegExp(`entry "b/fb", bytes ${dataB}-\\d+: content does not match the manifest`));
      expect(existsSync(join(work, `xd-${i + 1}`, 'b', 'fb'))).toBe(false);
      expect(readFileSync(join(work, `xd-${i + 1}`, 'b', 'fb.damaged'), 'utf8')).toBe('From b\n');
    }
  });
});

describe('bytes that are no zstd data after a .tar.zst', () => {
  it('are damage (exit 2), from the file and from stdin; embedded recovery data after the stream is not', () => {
    // Before: exit 0 and not a word (zstd -d fails on the same file, and GNU tar with it: exit 2).
    expect(portarc(['create', '-f', join(work, 'g.tar.zst'), '-C', work, 'm/f1']).status).toBe(0);
    const junk = Buffer.alloc(1000, 0x5a);
    writeFileSync(join(work, 'g-junk.tar.zst'), Buffer.concat([readFileSync(join(work, 'g.tar.zst')), junk]));
    for (const cmd of [`${P} list -f g-junk.tar.zst`, `cat g-junk.tar.zst | ${P} list -f -`]) {
      const r = sh(cmd);
      expect(r.status, `${cmd}: ${r.stderr}`).toBe(2);
      expect(r.stdout.trim()).toBe('m/f1');
      expect(r.stderr).toMatch(/compressed bytes \d+-\d+ after the end of the archive are no zstd data or a damaged frame \(not a zstd frame \(magic 5a5a5a5a\)\); not read/);
    }
    expect(sh('zstd -t g-junk.tar.zst').status).not.toBe(0);
    expect(portarc(['create', '--recovery', '10%', '--embed-recovery', '-f', join(work, 'g-rec.tar.zst'), '-C', work, 'm/f1']).status).toBe(0);
    for (const cmd of [`${P} list -f g-rec.tar.zst`, `cat g-rec.tar.zst | ${P} list -f -`, `cat g-rec.tar.zst | ${P} extract -f - -C xg-rec`]) {
      mkdirSync(join(work, 'xg-rec'), { recursive: true });
      const r = sh(cmd);
      expect(r.status, `${cmd}: ${r.stderr}`).toBe(0);
      expect(r.stderr).toBe('');
    }
  });
});

describe('bytes that are no gzip data after a .tar.gz', () => {
  it('everything is listed and extracted, then they are named (exit 2, as gzip -d and GNU tar); zeros are padding; embedded recovery data is not junk', () => {
    // Before: Node's Gunzip failed on the chunk holding them, so a small archive listed and
    // extracted nothing ("incorrect header check in compressed bytes 0-N"); after a zero byte it
    // stopped without a word, whatever followed (gzip -d: "trailing garbage ignored", exit 2).
    expect(portarc(['create', '-f', join(work, 'g.tar.gz'), '-C', work, 'm']).status).toBe(0);
    const gz = readFileSync(join(work, 'g.tar.gz'));
    writeFileSync(join(work, 'g-junk.tar.gz'), Buffer.concat([gz, Buffer.alloc(100, 0x5a)]));
    writeFileSync(join(work, 'g-zjunk.tar.gz'), Buffer.concat([gz, Buffer.alloc(512), Buffer.from('junk\n')]));
    writeFileSync(join(work, 'g-zeros.tar.gz'), Buffer.concat([gz, Buffer.alloc(4096)]));
    const names = ['m', ...FILES.map((f) => `m/${f}`)].join('\n');
    for (const [file, from, zeros] of [['g-junk.tar.gz', gz.length, ''], ['g-zjunk.tar.gz', gz.length, `512 zero bytes and then `]] as const) {
      expect(sh(`tar tzf ${file}`).status).toBe(2); // GNU tar, through gzip
      for (const cmd of [`${P} list -f ${file}`, `cat ${file} | ${P} list -f -`]) {
        const r = sh(cmd);
        expect(r.status, `${cmd}: ${r.stderr}`).toBe(2);
        expect(r.stdout.trim()).toBe(names);
        expect(r.stderr).toContain(`gzip: compressed bytes ${from}–`);
        expect(r.stderr).toContain(`after the last gzip member are not gzip data (${zeros}bytes that start no member, at ${from + (zeros ? 512 : 0)}): not read (gzip -d calls them trailing garbage)`);
      }
      const out = join(work, `x-${file}`);
      const r = portarc(['extract', '-f', join(work, file), '-C', out]);
      expect(r.status, r.stderr).toBe(2);
      for (const f of FILES) expect(readFileSync(join(out, 'm', f), 'utf8')).toBe(`content of ${f}\n`);
      const v = portarc(['verify', '-f', join(work, file)]);
      expect(v.status).toBe(2);
      // Every entry was read and checked: the note says the reading stopped past the archive's end.
      expect(v.stdout).toContain('contents checked against the manifest');
      expect(v.stderr).toMatch(/note: reading stopped after the end of the archive \(offset \d+\): every entry in it was read/);
    }
    // Zeros alone are padding to list and extract (verify misses the digest member at the end).
    const z = sh(`${P} list -f g-zeros.tar.gz`);
    expect([z.status, z.stdout.trim(), z.stderr]).toEqual([0, names, '']);
    expect(portarc(['create', '--recovery', '10%', '--embed-recovery', '-f', join(work, 'g-rec.tar.gz'), '-C', work, 'm']).status).toBe(0);
    for (const cmd of [`${P} list -f g-rec.tar.gz`, `cat g-rec.tar.gz | ${P} list -f -`]) {
      const r = sh(cmd);
      expect(r.status, `${cmd}: ${r.stderr}`).toBe(0);
      expect(r.stdout.trim()).toBe(names);
    }
  });
});

describe('zip: another archive appended (cat a.zip b.zip)', () => {
  it('read as a stream, what follows the end records is said (list/extract exit 1, verify exit 2); embedded recovery data is not', () => {
    // Before: the stream reader stopped at a.zip's end record: exit 0, b's entries unread, not a word.
    expect(portarc(['create', '-f', join(work, 'za.zip'), '-C', work, 'm/f1']).status).toBe(0);
    expect(portarc(['create', '-f', join(work, 'zb.zip'), '-C', work, 'm/f2']).status).toBe(0);
    expect(sh('cat za.zip zb.zip > zab.zip && (cd m && zip -q ../ia.zip f3 && zip -q ../ib.zip f4) && cat ia.zip ib.zip > iab.zip').status).toBe(0);
    const size = readFileSync(join(work, 'za.zip')).length;
    const l = sh(`cat zab.zip | ${P} list -f -`);
    expect(l.status, l.stderr).toBe(1);
    expect(l.stdout.trim()).toBe('m/f1');
    expect(l.stderr).toContain(`(stdin): data follows the end of the archive, at offset ${size}, and was not read`);
    mkdirSync(join(work, 'xz-zip'));
    const x = sh(`cat zab.zip | ${P} extract -f - -C xz-zip`);
    expect(x.status, x.stderr).toBe(1);
    expect(x.stderr).toContain('data follows the end of the archive');
    const v = sh(`cat zab.zip | ${P} verify -f -`);
    expect(v.status).toBe(2);
    expect(v.stdout).toContain('data follows the end of the archive, which zip readers do not read as this archive');
    // Info-ZIP's archives alike.
    const i = sh(`cat iab.zip | ${P} list -f -`);
    expect(i.status).toBe(1);
    expect(i.stderr).toContain('data follows the end of the archive');
    // One archive alone, and one with its recovery data embedded after it: nothing to say.
    expect(portarc(['create', '--recovery', '10%', '--embed-recovery', '-f', join(work, 'zr.zip'), '-C', work, 'm/f1']).status).toBe(0);
    for (const one of ['za.zip', 'zr.zip']) {
      const r = sh(`cat ${one} | ${P} list -f -`);
      expect(r.status, `${one}: ${r.stderr}`).toBe(0);
      expect(r.stderr).toBe('');
      expect(sh(`cat ${one} | ${P} verify -f -`).status).toBe(0);
    }
    // An archive appended after the recovery data and its tail (the central directory again) is
    // seen: the locator says where they end (before: exit 0, not a word).
    const rsize = readFileSync(join(work, 'zr.zip')).length;
    expect(sh('cat zr.zip zb.zip > zrb.zip').status).toBe(0);
    const rb = sh(`cat zrb.zip | ${P} list -f -`);
    expect([rb.status, rb.stdout.trim()], rb.stderr).toEqual([1, 'm/f1']);
    expect(rb.stderr).toContain(`(stdin): data follows the end of the archive, at offset ${rsize}, and was not read`);
    expect(sh(`cat zrb.zip | ${P} verify -f -`).status).toBe(2);
  });

  it('from a file, the end records name the last archive: the zip before it is said to be there', () => {
    const r = portarc(['list', '-f', join(work, 'zab.zip')]);
    expect(r.status).toBe(1);
    expect(r.stdout.trim()).toBe('m/f2');
    expect(r.stderr).toContain('extra bytes before the archive data; offsets adjusted (they begin with a zip member: another archive before this one, as by cat? Its entries were not read)');
  });
});
