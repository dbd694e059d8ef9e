// The library's filter/map hooks on create and extract, and extract to a callback (spec §8.6),
// on real trees, checked with GNU tar and by restoring.
import { createReadStream, existsSync, lstatSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { create, extract, list, makeEntry, ExtractDamagedError, UsageError, type Entry } from '../src/api/index.js';
import { partialsOf, sh, tempDir } from './helpers/tree.js';

async function names(archive: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of list(archive)) out.push(`${e.type}:${e.name}${e.linkTarget ? `->${e.linkTarget.toString()}` : ''}`);
  return out;
}

const rename = (from: string, to: string) => (e: Entry): Entry => ({ ...e, path: Buffer.from(e.path.toString('latin1').replace(from, to), 'latin1') });

describe('filter and map on create', () => {
  const dir = tempDir('hooks-c');
  sh(
    `mkdir -p src/keep src/cache/deep && printf one > src/keep/a && printf two > src/cache/deep/b
     printf linked > src/cache/h1 && ln src/cache/h1 src/keep/h2 && ln src/cache/h1 src/keep/h3`,
    dir,
  );

  it('a directory the filter refuses is skipped with its contents; a hardlink to a skipped name becomes the file', async () => {
    const seen: string[] = [];
    const a = join(dir, 'f.tar');
    await create(['src'], a, { cwd: dir, filter: (e) => (seen.push(e.name), e.name !== 'src/cache') });
    expect(seen).not.toContain('src/cache/deep/b'); // never descended into
    expect(await names(a)).toEqual(['directory:src', 'directory:src/keep', 'file:src/keep/a', 'file:src/keep/h2', 'hardlink:src/keep/h3->src/keep/h2']);
    const x = join(dir, 'fx');
    sh(`mkdir fx && tar -xf f.tar -C fx`, dir);
    expect(readFileSync(join(x, 'src/keep/h2'), 'utf8')).toBe('linked');
    expect(lstatSync(join(x, 'src/keep/h3')).ino).toBe(lstatSync(join(x, 'src/keep/h2')).ino);
  });

  it('map renames entries and hardlink targets follow (GNU tar sees the links); null drops', async () => {
    const a = join(dir, 'm.tar');
    await create(['src'], a, { cwd: dir, map: (e) => (e.name === 'src/keep/a' ? null : rename('src', 'renamed')(e)) });
    const listed = await names(a);
    expect(listed).toContain('file:renamed/cache/h1');
    expect(listed).toContain('hardlink:renamed/keep/h2->renamed/cache/h1');
    expect(listed.some((l) => l.includes('keep/a'))).toBe(false);
    sh(`mkdir mx && tar -xf m.tar -C mx`, dir);
    expect(lstatSync(join(dir, 'mx/renamed/keep/h3')).ino).toBe(lstatSync(join(dir, 'mx/renamed/cache/h1')).ino);
    expect(readFileSync(join(dir, 'mx/renamed/cache/deep/b'), 'utf8')).toBe('two');
  });

  it('entries from an iterable: map renames link targets; a dropped target fails naming the link, nothing written', async () => {
    const items = () => [
      { entry: makeEntry({ path: 'data/x', type: 'file', size: 3 }), body: Buffer.from('xyz') },
      { entry: makeEntry({ path: 'data/y', type: 'hardlink', linkTarget: Buffer.from('data/x') }) },
    ];
    const a = join(dir, 'i.zip');
    await create(items(), a, { map: rename('data/', 'out/') });
    expect(await names(a)).toEqual(['file:out/x', 'hardlink:out/y->out/x']);
    const bad = join(dir, 'bad.tar');
    const err = await create(items(), bad, { map: (e) => (e.name === 'data/x' ? null : e) }).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toContain('entry "data/y"');
    expect(err.message).toContain('dropped');
    expect(existsSync(bad) || partialsOf(bad).length > 0).toBe(false);
    await expect(create(items(), bad, { filter: 'no' as unknown as () => boolean })).rejects.toThrow(/filter must be a function/);
    // A hook that throws fails the archive naming the entry and the hook (not "cannot read").
    const thrown = await create(['src'], bad, { cwd: dir, filter: (e) => { if (e.name === 'src/keep/a') throw new Error('quota service down'); return true; } }).catch((e: unknown) => e as Error);
    expect((thrown as { code?: string }).code).toBe('PORTARC_ENTRY_FAILED');
    expect(thrown.message).toBe('src/keep/a: filter() failed: quota service down');
    expect(existsSync(bad) || partialsOf(bad).length > 0).toBe(false);
    const bogus = await create(['src'], bad, { cwd: dir, map: () => ({}) as Entry }).catch((e: unknown) => e as Error);
    expect(bogus).toBeInstanceOf(UsageError);
    expect(bogus.message).toContain('map() must return an entry');
  });
});

describe('filter and map on extract, and extract to a callback', () => {
  const dir = tempDir('hooks-x');
  sh(
    `mkdir -p top/a/b && printf alpha > top/a/one && printf beta > top/a/b/two && ln top/a/one top/a/b/link && head -c 3000000 /dev/urandom > top/a/big`,
    dir,
  );
  const archive = join(dir, 't.tar');

  it('strip a leading component with map; filter skips; hardlinks follow; a map to ".." is refused', async () => {
    await create(['top'], archive, { cwd: dir });
    const x = join(dir, 'x');
    const r = await extract(archive, x, {
      filter: (e) => !e.name.endsWith('/big'),
      map: (e) => (e.name === 'top' ? null : rename('top/', '')(e)),
    });
    expect(readdirSync(x).sort()).toEqual(['a']);
    expect(readFileSync(join(x, 'a/b/two'), 'utf8')).toBe('beta');
    expect(existsSync(join(x, 'a/big'))).toBe(false);
    expect(lstatSync(join(x, 'a/b/link')).ino).toBe(lstatSync(join(x, 'a/one')).ino);
    expect(r.losses).toEqual([]);
    const y = join(dir, 'y');
    const evil = await extract(archive, y, { map: (e) => (e.name === 'top/a/one' ? { ...e, path: Buffer.from('../escaped') } : e) });
    expect(existsSync(join(dir, 'escaped'))).toBe(false);
    expect(evil.losses.some((l) => l.path.includes('escaped') && l.what === 'entry')).toBe(true);
  });

  it('each entry and its content to a callback, nothing written to disk; unread content is skipped', async () => {
    const got = new Map<string, Buffer>();
    const before = readdirSync(dir).sort();
    const r = await extract(archive, async (entry, body) => {
      if (entry.name === 'top/a/b/link') return; // the file (first name in walk order), left unread
      const parts: Buffer[] = [];
      for await (const c of body) parts.push(c as Buffer);
      got.set(`${entry.type}:${entry.name}`, Buffer.concat(parts));
    });
    expect(readdirSync(dir).sort()).toEqual(before);
    expect(r.entries).toBe(7);
    expect([...got.keys()]).toEqual(['directory:top', 'directory:top/a', 'directory:top/a/b', 'file:top/a/b/two', 'file:top/a/big', 'hardlink:top/a/one']);
    expect(got.get('file:top/a/big')!.equals(readFileSync(join(dir, 'top/a/big')))).toBe(true);
    expect(got.get('file:top/a/b/two')!.toString()).toBe('beta');
    expect(got.get('hardlink:top/a/one')!.length).toBe(0);
    expect(got.get('directory:top')!.length).toBe(0);
    // From a stream: the same entries, checked when the manifest arrives (after the callback had
    // them: a mismatch would be an ExtractDamagedError), so no warning.
    // The callback may also stop in the middle of a file (break): the next entries are intact.
    const fromStream: string[] = [];
    const s = await extract(createReadStream(archive), async (e, body) => {
      if (e.name === 'top/a/big') {
        for await (const c of body) if ((c as Buffer).length) break;
        return;
      }
      fromStream.push(`${e.name}=${Buffer.concat(await body.toArray()).toString()}`);
    });
    expect(fromStream).toContain('top/a/b/two=beta');
    expect(fromStream.at(-1)).toBe('top/a/one=');
    expect(s.entries).toBe(7);
    expect(s.warnings).toEqual([]);
  });

  it('to a callback, stripComponents and wildcard paths name and pick what a directory extraction would', async () => {
    const seen: string[] = [];
    await extract(archive, async (e) => void seen.push(`${e.type}:${e.name}${e.type === 'hardlink' ? `->${e.linkTarget!.toString()}` : ''}`), { stripComponents: 2 });
    // "top" and "top/a" have too few components: left out, as tar does.
    expect(seen).toEqual(['directory:b', 'file:b/link', 'file:b/two', 'file:big', 'hardlink:one->b/link']);
    const picked: string[] = [];
    await extract(archive, async (e) => void picked.push(e.name), { paths: ['top/a/b/*'], wildcards: true, stripComponents: 1 });
    expect(picked.sort()).toEqual(['a/b/link', 'a/b/two']);
    await expect(extract(archive, async () => {}, { stripComponents: -1 })).rejects.toThrow(/stripComponents -1 is not a whole number/);
  });

  it('a file whose content does not match the manifest is reported as damaged after the callback', async () => {
    const bytes = readFileSync(archive);
    const at = bytes.indexOf('beta');
    bytes[at] = 'B'.charCodeAt(0);
    const bad = join(dir, 'bad.tar');
    writeFileSync(bad, bytes);
    const err = await extract(bad, async (_e, body) => void (await body.toArray())).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExtractDamagedError);
    const d = (err as ExtractDamagedError).result.damaged;
    expect(d.map((x) => x.path)).toEqual(['top/a/b/two']);
    expect(d[0]!.what).toContain('does not match the manifest');
  });
});


describe('create from entries of unknown size', () => {
  const dir = tempDir('unknown-size');
  const data = Buffer.alloc(3 * 1024 * 1024 + 17);
  for (let i = 0; i < data.length; i++) data[i] = (i * 31 + (i >> 12)) & 0xff;
  async function* dump(fail = false): AsyncGenerator<Buffer> {
    for (let at = 0; at < data.length; at += 65536) {
      if (fail && at > 1 << 20) throw new Error('pg_dump exited with status 1');
      yield data.subarray(at, at + 65536);
    }
  }
  const oldTmp = process.env.TMPDIR;

  it('size left undefined: spooled, written with its real size (tar and zip; GNU tar and unzip read it), temp removed', async () => {
    const tmp = join(dir, 'tmp');
    sh('mkdir tmp', dir);
    process.env.TMPDIR = tmp;
    try {
      for (const name of ['u.tar', 'u.zip']) {
        const a = join(dir, name);
        const r = await create(
          [
            { entry: makeEntry({ path: 'db/dump.sql', type: 'file', size: undefined, mode: 0o600 }), body: () => dump() },
            { entry: makeEntry({ path: 'db/empty', type: 'file', size: undefined }) },
          ],
          a,
        );
        expect(r.entries).toBe(2);
        expect(readdirSync(tmp)).toEqual([]);
        const sizes: Record<string, number> = {};
        for await (const e of list(a)) sizes[e.name] = e.size;
        expect(sizes).toEqual({ 'db/dump.sql': data.length, 'db/empty': 0 });
        const x = join(dir, `x-${name}`);
        sh(`mkdir ${x} && ${name.endsWith('.zip') ? `unzip -q ${a} -d ${x}` : `tar -xf ${a} -C ${x}`}`);
        expect(readFileSync(join(x, 'db/dump.sql')).equals(data)).toBe(true);
      }
      // A body that fails while spooled fails the archive naming the entry; nothing is left.
      const bad = join(dir, 'bad.tar');
      const err = await create([{ entry: makeEntry({ path: 'db/dump.sql', type: 'file', size: undefined }), body: () => dump(true) }], bad).catch((e: unknown) => e as Error);
      expect((err as { code?: string }).code).toBe('PORTARC_ENTRY_FAILED');
      expect(err.message).toContain('db/dump.sql');
      expect(err.message).toContain('pg_dump exited with status 1');
      expect(existsSync(bad) || partialsOf(bad).length > 0).toBe(false);
      expect(readdirSync(tmp)).toEqual([]);
    } finally {
      if (oldTmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = oldTmp;
    }
  });
});
