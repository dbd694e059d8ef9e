// Zip hardlinks carry a copy of their content (spec/zip-profile.md §4.2): unzip, bsdtar and 7-Zip
// extract every name of a linked file with its content, and portarc still relinks them. Through
// the CLI on a real tree, against the real tools.
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openZip } from '../src/zip/file-reader.js';
import { portarc } from './helpers/cli.js';
import { tempDir } from './helpers/tree.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function tool(cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 26 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Every regular file under root: relative path → sha256 of its content. */
/** Every regular file's digest, less the manifest and trailer (other tools extract them too). */
function contents(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const rel of readdirSync(root, { recursive: true }) as string[]) {
    if (rel.startsWith('.portarc')) continue;
    const p = join(root, rel);
    if (statSync(p).isFile()) out[rel] = sha(readFileSync(p));
  }
  return out;
}

describe('zip hardlinks: a copy of the content for other tools, a link for portarc', () => {
  const dir = tempDir('zip-hardlinks');
  const src = join(dir, 'src');
  mkdirSync(join(src, 'd'), { recursive: true });
  writeFileSync(join(src, 'a.txt'), 'shared small content\n');
  linkSync(join(src, 'a.txt'), join(src, 'd', 'a-link.txt'));
  linkSync(join(src, 'a.txt'), join(src, 'z-link.txt'));
  // Over the writer's 1 MiB buffer: the copy is streamed with a data descriptor.
  writeFileSync(join(src, 'big.bin'), randomBytes(1_500_000));
  linkSync(join(src, 'big.bin'), join(src, 'd', 'big-link.bin'));
  writeFileSync(join(src, 'plain.txt'), 'not linked\n');
  const want = contents(src);
  const zip = join(dir, 'x.zip');

  it('create writes each hardlink with its content; zipinfo and unzip -t are clean', () => {
    const r = portarc(['create', '-f', zip, '-C', src, 'a.txt', 'big.bin', 'd', 'plain.txt', 'z-link.txt']);
    expect(r.status, r.stderr).toBe(0);
    const t = tool('unzip', ['-t', zip]);
    expect(t.status, t.stdout).toBe(0);
    expect(t.stdout).toContain('No errors detected');
    const z = tool('zipinfo', ['-v', zip]);
    expect(z.status).toBe(0);
    expect(z.stdout).not.toMatch(/error|warning/i);
    // The listing shows the link sizes: the data is there.
    const l = tool('zipinfo', ['-l', zip]);
    expect(l.stdout).toMatch(/ 1500000 bX +\d+ defN .* d\/big-link\.bin\n/);
    expect(l.stdout).toMatch(/ 21 bx +21 stor .* z-link\.txt\n/);
  });

  it('unzip, bsdtar and 7-Zip extract every name with its content', () => {
    for (const [name, cmd] of [
      ['unzip', (out: string) => tool('unzip', ['-q', zip, '-d', out])],
      ['bsdtar', (out: string) => tool('bsdtar', ['-xf', zip, '-C', out])],
      ['7z', (out: string) => tool('7z', ['x', '-y', `-o${out}`, zip])],
    ] as const) {
      const out = join(dir, `x-${name}`);
      mkdirSync(out);
      const r = cmd(out);
      expect(r.status, `${name}: ${r.stdout}${r.stderr}`).toBe(0);
      expect(contents(out), name).toEqual(want);
    }
  });

  it('portarc extract relinks them (same inode), from the file and from a pipe', () => {
    for (const input of ['file', 'pipe'] as const) {
      const out = join(dir, `portarc-${input}`);
      const r = input === 'file' ? portarc(['extract', '-f', zip, '-C', out]) : portarc(['extract', '-f', '-', '-C', out], { input: readFileSync(zip) });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toBe('');
      expect(contents(out)).toEqual(want);
      const ino = (p: string) => statSync(join(out, p)).ino;
      expect(ino('d/a-link.txt')).toBe(ino('a.txt'));
      expect(ino('z-link.txt')).toBe(ino('a.txt'));
      expect(ino('d/big-link.bin')).toBe(ino('big.bin'));
      expect(statSync(join(out, 'a.txt')).nlink).toBe(3);
      expect(ino('plain.txt')).not.toBe(ino('a.txt'));
    }
  });

  it('the library still lists them as hardlinks to their targets', async () => {
    const z = await openZip(zip);
    const links: string[] = [];
    for await (const { entry } of z.entries()) if (entry.type === 'hardlink') links.push(`${entry.name} -> ${entry.linkTarget}`);
    await z.close();
    expect(links).toEqual(['d/a-link.txt -> a.txt', 'd/big-link.bin -> big.bin', 'z-link.txt -> a.txt']);
  });

  it('--zip-hardlinks=link-only keeps the smaller form: other tools get empty files, portarc relinks', () => {
    const small = join(dir, 'small.zip');
    const r = portarc(['create', '--zip-hardlinks=link-only', '-f', small, '-C', src, 'a.txt', 'big.bin', 'd', 'plain.txt', 'z-link.txt']);
    expect(r.status, r.stderr).toBe(0);
    expect(statSync(small).size).toBeLessThan(statSync(zip).size - 1_400_000);
    const out = join(dir, 'small-unzip');
    mkdirSync(out);
    expect(tool('unzip', ['-q', small, '-d', out]).status).toBe(0);
    const empty = sha(Buffer.alloc(0));
    expect(contents(out)).toEqual({ ...want, 'd/a-link.txt': empty, 'z-link.txt': empty, 'd/big-link.bin': empty });
    const px = join(dir, 'small-portarc');
    expect(portarc(['extract', '-f', small, '-C', px]).status).toBe(0);
    expect(contents(px)).toEqual(want);
    expect(statSync(join(px, 'z-link.txt')).ino).toBe(statSync(join(px, 'a.txt')).ino);
  });

  it('a bad --zip-hardlinks value is a usage error', () => {
    const r = portarc(['create', '--zip-hardlinks=maybe', '-f', join(dir, 'bad.zip'), '-C', src, 'a.txt']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('use copy or link-only');
  });

  it('convert tar -> zip from a file copies the content into the links (two passes); from a pipe it says it could not', () => {
    const tar = join(dir, 'x.tar');
    expect(portarc(['create', '-f', tar, '-C', src, 'a.txt', 'big.bin', 'd', 'plain.txt', 'z-link.txt']).status).toBe(0);
    const fromFile = join(dir, 'conv-file.zip');
    const c = portarc(['convert', tar, fromFile]);
    expect(c.status, c.stderr).toBe(0);
    expect(c.stderr).not.toContain('hardlink');
    const out = join(dir, 'conv-file-unzip');
    mkdirSync(out);
    expect(tool('unzip', ['-q', fromFile, '-d', out]).status).toBe(0);
    expect(contents(out)).toEqual(want);
    const px = join(dir, 'conv-file-portarc');
    expect(portarc(['extract', '-f', fromFile, '-C', px]).status).toBe(0);
    expect(statSync(join(px, 'd/big-link.bin')).ino).toBe(statSync(join(px, 'big.bin')).ino);

    const fromPipe = join(dir, 'conv-pipe.zip');
    const p = portarc(['convert', '-', fromPipe], { input: readFileSync(tar) });
    expect(p.status, p.stderr).toBe(0);
    expect(p.stderr).toContain('3 hardlink entries (other tools extract them empty)');
    const px2 = join(dir, 'conv-pipe-portarc');
    expect(portarc(['extract', '-f', fromPipe, '-C', px2]).status).toBe(0);
    expect(contents(px2)).toEqual(want);
  });

  it('convert tar -> zip follows a link to a link (h2 -> h1 -> f): unzip extracts every name with the content', () => {
    // Only a direct target's content was kept: h2 was written empty for other tools, exit 0.
    const tar = join(dir, 'chain.tar');
    const py = `
import io, sys, tarfile
with tarfile.open(sys.argv[1], 'w', format=tarfile.PAX_FORMAT) as t:
    i = tarfile.TarInfo('f'); i.size = 8; t.addfile(i, io.BytesIO(b'content\\n'))
    for name, target in (('h1', 'f'), ('h2', 'h1')):
        l = tarfile.TarInfo(name); l.type = tarfile.LNKTYPE; l.linkname = target; t.addfile(l)
`;
    expect(tool('python3', ['-c', py, tar]).status).toBe(0);
    const zip = join(dir, 'chain.zip');
    const c = portarc(['convert', tar, zip]);
    expect(c.status, c.stderr).toBe(0);
    expect(c.stderr).not.toContain('hardlink');
    const out = join(dir, 'chain-unzip');
    mkdirSync(out);
    expect(tool('unzip', ['-q', zip, '-d', out]).status).toBe(0);
    for (const n of ['f', 'h1', 'h2']) expect(readFileSync(join(out, n), 'utf8'), n).toBe('content\n');
  });
});
