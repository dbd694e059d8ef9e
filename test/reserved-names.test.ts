// The manifest's member names are reserved in an archive with a manifest (spec/manifest.md §2):
// readers hide those members. A user's file under such a name was archived beside the real
// manifest and then never listed or extracted (exit 0 from a zip; from a .tar.zst it was taken for
// the manifest). Writers now refuse it; the same file under another name goes through.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { create } from '../src/api/index.js';
import { EntryError } from '../src/model/errors.js';
import { portarc } from './helpers/cli.js';
import { tempDir } from './helpers/tree.js';

function tree(): string {
  const dir = tempDir('reserved');
  mkdirSync(join(dir, 'src', '.portarc'), { recursive: true });
  writeFileSync(join(dir, 'src', '.portarc', 'manifest.xml'), 'user data\n');
  writeFileSync(join(dir, 'src', '.portarc', 'trailer'), 'user trailer\n');
  return dir;
}

describe('reserved manifest names', () => {
  for (const ext of ['tar', 'zip', 'tar.zst']) {
    it(`create refuses a user's file named .portarc/manifest.xml, also as ./.portarc/manifest.xml, and writes nothing (${ext})`, () => {
      // ./.portarc/manifest.xml was taken: GNU tar, bsdtar, unzip and 7-Zip take off the "./" and
      // extracted the archive's own manifest over the user's file, exit 0.
      const dir = tree();
      const src = join(dir, 'src');
      for (const [args, name] of [[['.portarc'], '.portarc/manifest.xml'], [['.'], './.portarc/manifest.xml']] as const) {
        const bad = join(dir, `bad.${ext}`);
        const r = portarc(['create', '-f', bad, ...args], { cwd: src });
        expect(r.stderr).toContain(`entry "${name}": the name "${name}" is reserved for the archive's manifest`);
        expect(r.stderr).toContain('--exclude .portarc');
        expect(r.status).toBe(2);
        expect(existsSync(bad)).toBe(false);
      }
      // The workaround the message gives.
      const good = join(dir, `good.${ext}`);
      const c = portarc(['create', '-f', good, '--exclude', '.portarc', '.'], { cwd: src });
      expect(c.stderr).toBe('');
      expect(c.status).toBe(0);
      const out = join(dir, 'out');
      const x = portarc(['extract', '-f', good, '-C', out]);
      expect(x.status, x.stderr).toBe(0);
      expect(existsSync(join(out, '.portarc'))).toBe(false);
    });
  }

  it('without a manifest the names are ordinary; convert of such an archive to one with a manifest refuses them', () => {
    const dir = tree();
    const src = join(dir, 'src');
    const plain = join(dir, 'plain.tar');
    expect(portarc(['create', '--no-manifest', '-f', plain, '.portarc'], { cwd: src }).status).toBe(0);
    expect(execFileSync('tar', ['-tf', plain], { encoding: 'utf8' }).split('\n')).toContain('.portarc/manifest.xml');
    const out = join(dir, 'out');
    expect(portarc(['extract', '-f', plain, '-C', out]).status).toBe(0);
    expect(readFileSync(join(out, '.portarc', 'manifest.xml'), 'utf8')).toBe('user data\n');
    const conv = portarc(['convert', plain, join(dir, 'conv.zip')]);
    expect(conv.stderr).toContain('is reserved for the archive\'s manifest');
    expect(conv.status).toBe(2);
  });

  it('the library refuses it with an EntryError naming the entry', async () => {
    const dir = tree();
    const err = await create(['.portarc'], join(dir, 'lib.tar'), { cwd: join(dir, 'src') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EntryError);
    expect((err as EntryError).details.entry).toBe('.portarc/manifest.xml');
    expect(existsSync(join(dir, 'lib.tar'))).toBe(false);
  });
});
