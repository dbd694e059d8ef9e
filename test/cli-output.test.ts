// How the CLI writes a listing: in writes of many lines when stdout is a file or a pipe (as tar's
// stdio does; a write per line was a fifth of `list`'s time for 50,000 entries), with stderr's
// lines still in their place when both go to one file (`2>&1`), and nothing lost at the end.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, portarc } from './helpers/cli.js';
import { removeTempDirs, tempDir } from './helpers/tree.js';

const FILES = 3000;
let work: string;
let archive: string;

beforeAll(() => {
  work = tempDir('cli-output');
  const src = join(work, 'src');
  mkdirSync(src);
  for (let i = 0; i < FILES; i++) writeFileSync(join(src, `f${String(i).padStart(5, '0')}`), `${i}\n`);
  archive = join(work, 'a.tar');
  expect(portarc(['create', '-f', archive, '-C', work, 'src']).status).toBe(0);
});

afterAll(removeTempDirs);

/** Bytes written to fd 1 by each write(2) of `portarc ARGS > out` (strace), and the output. */
function writesToStdout(args: string[]): { sizes: number[]; out: string } {
  const out = join(work, 'out.txt');
  const trace = join(work, 'trace.txt');
  const q = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
  const r = spawnSync('sh', ['-c', `strace -f -qq -e trace=write -e signal=none -o ${q(trace)} ${q(process.execPath)} ${q(BIN)} ${args.map(q).join(' ')} > ${q(out)}`], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  const sizes = readFileSync(trace, 'utf8')
    .split('\n')
    .map((l) => /write\(1, .*\) = (\d+)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]));
  return { sizes, out: readFileSync(out, 'utf8') };
}

describe('list output', () => {
  it('-v shows a link target escaped as names are: a newline cannot split the line, a byte that is not UTF-8 is kept', () => {
    const dir = join(work, 'targets');
    mkdirSync(dir);
    spawnSync('bash', ['-c', `ln -s "$(printf 'nl\\nfake line')" nl && ln -s "$(printf 'bad\\xffsym')" bad`], { cwd: dir });
    const a = join(work, 'targets.tar');
    expect(portarc(['create', '-f', a, '-C', dir, '.']).status).toBe(0);
    const lines = portarc(['list', '-v', '-f', a]).stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines.find((l) => l.includes('./nl'))).toMatch(/ \.\/nl -> nl\\x0afake line$/);
    expect(lines.find((l) => l.includes('./bad'))).toMatch(/ \.\/bad -> bad\\xffsym$/);
  });

  it('-v marks with "+" an entry that carries more than its mode says: xattrs, a label, ACLs, a default ACL alone', () => {
    const dir = join(work, 'marks');
    mkdirSync(join(dir, 'plain'), { recursive: true });
    mkdirSync(join(dir, 'dflt'));
    writeFileSync(join(dir, 'x'), 'x');
    writeFileSync(join(dir, 'acl'), 'a');
    spawnSync('bash', ['-c', 'setfattr -n user.k -v 1 x && setfacl -m u:1234:r acl && setfacl -d -m u:1234:rwx dflt'], { cwd: dir });
    const a = join(work, 'marks.tar');
    expect(portarc(['create', '-f', a, '-C', dir, '.']).status).toBe(0);
    const lines = portarc(['list', '-v', '-f', a]).stdout.trimEnd().split('\n');
    const mark = (name: string) => lines.find((l) => l.endsWith(` ./${name}`))!.slice(10, 11);
    expect([mark('plain'), mark('x'), mark('acl'), mark('dflt')]).toEqual([' ', '+', '+', '+']);
  });

  it('goes out in writes of many lines, every line there', () => {
    const { sizes, out } = writesToStdout(['list', '-f', archive]);
    const lines = out.split('\n').filter(Boolean);
    expect(lines).toHaveLength(FILES + 1);
    expect(lines[0]).toBe('src');
    expect(lines.at(-1)).toBe(`src/f${String(FILES - 1).padStart(5, '0')}`);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(Buffer.byteLength(out));
    // ~40 KB of listing: a write per line was 3,001 writes.
    expect(sizes.length).toBeLessThan(10);
  });

  it('--json is one document, whole', () => {
    const { sizes, out } = writesToStdout(['list', '--json', '-f', archive]);
    const doc = JSON.parse(out) as { entries: unknown[] };
    expect(doc.entries).toHaveLength(FILES + 1);
    expect(sizes.length).toBeLessThan(100);
  });

  it('a warning on stderr stays between the lines it came between (2>&1)', () => {
    // Three members, the middle one of an unknown type: warned of, then listed.
    const tar = join(work, 'mixed.tar');
    const py = String.raw`
import tarfile, io, sys
with tarfile.open(sys.argv[1], 'w', format=tarfile.PAX_FORMAT) as t:
    for name, kind in (('a', tarfile.REGTYPE), ('b', b'Z'), ('c', tarfile.REGTYPE)):
        i = tarfile.TarInfo(name); i.type = kind; i.size = 1
        t.addfile(i, io.BytesIO(b'x'))
`;
    const made = spawnSync('python3', ['-c', py, tar], { encoding: 'utf8' });
    expect(made.status, made.stderr).toBe(0);
    const both = join(work, 'both.txt');
    const r = spawnSync('sh', ['-c', `'${process.execPath}' '${BIN}' list -f '${tar}' > '${both}' 2>&1`]);
    expect(r.status).toBe(1); // warnings
    const lines = readFileSync(both, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toBe('a');
    expect(lines[1]).toMatch(/^portarc: warning: b: unknown type flag "Z"/);
    expect(lines.slice(2)).toEqual(['b', 'c']);
  });
});
