// A big file's content on extract (the JS path: over 256 KiB, not batched): each part is written
// on the threadpool while this thread hashes it (or, with the addon, while the threadpool hashes
// it too) and reads the next (src/fs/restore.ts writeFile, src/integrity/content.ts handOff). The
// part must stay the reader's until both are done: the content comes out whole, from a file, from
// stdin and from a .tar.zst (each reads through reused buffers), and damage in the middle of it is
// still caught (exit 2, the file named, not under its name). Spec: spec/manifest.md §11.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { portarc } from './helpers/cli.js';
import { tempDir } from './helpers/tree.js';

let dir: string;
let data: Buffer;

beforeAll(() => {
  dir = tempDir('extract-big');
  mkdirSync(join(dir, 'src'));
  // Parts of every size: a file of several 1 MiB chunks and an odd tail, one under 256 KiB, one
  // just over it.
  data = randomBytes((5 << 20) + 12345);
  writeFileSync(join(dir, 'src', 'big'), data);
  writeFileSync(join(dir, 'src', 'small'), data.subarray(0, 200_000));
  writeFileSync(join(dir, 'src', 'over'), data.subarray(0, (256 << 10) + 1));
  for (const a of ['a.tar', 'a.tar.zst']) {
    const r = portarc(['create', '-f', join(dir, a), '-C', join(dir, 'src'), '.']);
    expect([r.status, r.stderr]).toEqual([0, '']);
  }
});

describe('big files on extract', () => {
  for (const [name, args, input] of [
    ['a file', ['-f', 'a.tar'], undefined],
    ['stdin', ['-f', '-'], 'a.tar'],
    ['a .tar.zst', ['-f', 'a.tar.zst'], undefined],
  ] as const) {
    it(`from ${name}: every byte, exit 0 (with and without the addon)`, () => {
      for (const env of [{}, { PORTARC_NO_NATIVE: '1' }] as NodeJS.ProcessEnv[]) {
        const out = join(dir, `out-${name.replace(/\W/g, '')}-${Object.keys(env).length}`);
        mkdirSync(out);
        const r = portarc(['extract', ...args.map((a) => (a.startsWith('a.') ? join(dir, a) : a)), '-C', out], { input: input ? readFileSync(join(dir, input)) : undefined, env });
        // Without the addon, times are set to the microsecond: said, exit 1.
        if (env.PORTARC_NO_NATIVE) expect([r.status, r.stderr]).toEqual([1, expect.stringMatching(/^portarc: warning: times set to the microsecond on 4 entries/)]);
        else expect([r.status, r.stderr]).toEqual([0, '']);
        expect(readFileSync(join(out, 'big')).equals(data)).toBe(true);
        expect(readFileSync(join(out, 'small')).equals(data.subarray(0, 200_000))).toBe(true);
        expect(readFileSync(join(out, 'over')).equals(data.subarray(0, (256 << 10) + 1))).toBe(true);
      }
    });
  }

  it('a changed byte 3 MiB into the file: exit 2, the file named, not under its name; the others whole', () => {
    const tar = readFileSync(join(dir, 'a.tar'));
    const at = tar.indexOf(data.subarray(0, 64)) + (3 << 20) + 17;
    expect(tar[at]).toBe(data[(3 << 20) + 17]);
    tar[at]! ^= 0x40;
    writeFileSync(join(dir, 'bad.tar'), tar);
    for (const env of [{}, { PORTARC_NO_NATIVE: '1' }]) {
      const out = join(dir, `bad-out-${Object.keys(env).length}`);
      mkdirSync(out);
      const r = portarc(['extract', '-f', join(dir, 'bad.tar'), '-C', out], { env });
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/entry "\.\/big", bytes \d+-\d+: content does not match the manifest/);
      expect(existsSync(join(out, 'big'))).toBe(false);
      expect(readFileSync(join(out, 'over')).equals(data.subarray(0, (256 << 10) + 1))).toBe(true);
    }
  });
});
