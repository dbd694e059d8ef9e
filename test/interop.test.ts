import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { portarc } from './helpers/cli.js';
import { buildTree, snapshot, tempDir } from './helpers/tree.js';

function run(cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 28 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('explore', () => {
  const dir = tempDir('interop');
  const src = buildTree(dir);
  const before = snapshot(src);
  const cases: Array<[string, string, string[]]> = [
    ['gnupax', 'tar', ['--format=pax', '--xattrs', '--xattrs-include=*', '--selinux', '--acls', '-cpf']],
    ['bsdpax', 'bsdtar', ['--format=pax', '-cf']],
    ['bsddef', 'bsdtar', ['-cf']],
  ];
  for (const [tag, tool, args] of cases) {
    it(tag, () => {
      const A = join(dir, tag + '.tar');
      const c = run(tool, [...args, A, '-C', src, '.']);
      console.log(tag, c);
      const out = join(dir, tag + '-out');
      const x = portarc(['extract', '-f', A, '-C', out]);
      console.log(x);
      expect(snapshot(out)).toEqual(before);
    });
  }
  it('gnu', () => {
    const d2 = join(dir, 'plain'); mkdirSync(d2);
    const s2 = buildTree(d2, { rich: false });
    const A = join(dir, 'gnu.tar');
    const c = run('tar', ['--format=gnu', '-cpf', A, '-C', s2, '.']);
    console.log(c);
    const out = join(dir, 'gnu-out');
    const x = portarc(['extract', '-f', A, '-C', out]);
    console.log(x);
    expect(snapshot(out, { mtimeGrain: 1_000_000_000n })).toEqual(snapshot(s2, { mtimeGrain: 1_000_000_000n }));
  });
});
