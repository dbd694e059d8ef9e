// Acceptance (issue #10): a single bit flip or a 512-byte burst anywhere in an archive makes verify
// report damage and, for plain tar and zip, name the entry (header or content), the manifest, the
// trailer, the end blocks or the central directory holding the damaged byte; an undamaged archive
// always verifies clean. Hundreds of seeded cases per container, through the library (the CLI is
// covered in verify.test.ts). PORTARC_PROPERTY_CASES raises the count (`npm run test:verify-long`).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { create, displayName, readManifest, verify, type Damage } from '../src/api/index.js';
import { TRAILER_MAGIC, TRAILER_SIZE, decodeTrailer } from '../src/manifest/index.js';
import { verifyStream } from '../src/integrity/stream.js';
import { SeekTable, bufferReader } from '../src/compress/seektable.js';
import { flipOrBurst, mulberry32 as rng } from './helpers/damage.js';
import { buildTree, tempDir } from './helpers/tree.js';

const CASES = Number(process.env.PORTARC_PROPERTY_CASES ?? 250);

interface Region {
  start: number;
  end: number;
  part: Damage['part'];
  path?: string;
}

/** Where every byte of an undamaged plain archive belongs, from its own trailer and manifest. */
async function regions(bytes: Buffer, format: 'tar' | 'zip'): Promise<Region[]> {
  const at = bytes.lastIndexOf(TRAILER_MAGIC, undefined, 'latin1');
  const t = decodeTrailer(bytes.subarray(at));
  const out: Region[] = [];
  let prev = 0;
  for await (const item of readManifest([bytes.subarray(t.manifestData, t.manifestData + t.manifestSize)])) {
    if (item.kind !== 'entry') continue;
    const e = item.entry;
    const path = displayName(e.path);
    out.push({ start: prev, end: e.data, part: 'header', path });
    if (e.end > e.data) out.push({ start: e.data, end: e.end, part: 'content', path });
    prev = e.end;
  }
  expect(prev).toBe(t.manifestOffset);
  out.push({ start: t.manifestOffset, end: t.manifestEnd, part: 'manifest' });
  if (format === 'tar') {
    out.push({ start: t.manifestEnd, end: at + TRAILER_SIZE, part: 'trailer' });
    out.push({ start: at + TRAILER_SIZE, end: bytes.length, part: 'end' });
  } else {
    out.push({ start: t.manifestEnd, end: at, part: 'central-directory' });
    out.push({ start: at, end: bytes.length, part: 'trailer' });
  }
  return out;
}

describe('verify finds and names any damage', () => {
  const dir = tempDir('verify-prop');
  const src = buildTree(dir);
  const archives: Record<string, string> = {};

  beforeAll(async () => {
    for (const name of ['a.tar', 'a.zip', 'a.tar.gz', 'a.tar.zst']) {
      archives[name] = join(dir, name);
      await create(['.'], archives[name], { cwd: src });
    }
  }, 60_000);

  it.each(['a.tar', 'a.zip', 'a.tar.gz', 'a.tar.zst'])('%s: undamaged verifies clean, contents checked', async (name) => {
    const r = await verify(archives[name]!);
    expect(r.damaged).toEqual([]);
    expect(r).toMatchObject({ ok: true, checkedContent: true });
    expect(r.entries).toBeGreaterThan(20);
  });

  for (const name of ['a.tar', 'a.zip']) {
    it(`${name}: ${CASES} seeded flips and bursts are each named where they are`, async () => {
      const orig = readFileSync(archives[name]!);
      const map = await regions(orig, name.endsWith('.zip') ? 'zip' : 'tar');
      const t = decodeTrailer(orig.subarray(orig.lastIndexOf(TRAILER_MAGIC, undefined, 'latin1')));
      const [xmlStart, xmlEnd] = [t.manifestData, t.manifestData + t.manifestSize];
      const file = join(dir, `damaged-${name}`);
      const seen = new Set<string>();
      for (let seed = 1; seed <= CASES; seed++) {
        const { bytes, first, kind } = flipOrBurst(orig, rng(seed));
        if (first === orig.length) continue; // the burst rewrote the same bytes
        writeFileSync(file, bytes);
        const r = await verify(file);
        const changed = [...Array(Math.min(512, orig.length - first)).keys()].map((i) => first + i).filter((i) => bytes[i] !== orig[i]);
        const touched = map.filter((g) => changed.some((i) => g.start <= i && i < g.end));
        const isNamed = (g: Region) => r.damaged.some((d) => d.part === g.part && (g.path === undefined || d.path === g.path));
        // The region of the first damaged byte is named, unless the burst also broke the manifest
        // XML: then only structural checks remain and naming any damaged region is what is asked.
        const xml = changed.some((i) => i >= xmlStart && i < xmlEnd);
        const region = touched[0]!;
        const named = xml ? isNamed(map.find((g) => g.part === 'manifest')!) : isNamed(region);
        expect({ seed, kind, named, ok: r.ok }, `seed ${seed}: ${kind} is in ${region.part} ${region.path ?? ''}; got ${JSON.stringify(r.damaged)}`).toEqual({ seed, kind, named: true, ok: false });
        seen.add(region.part);
      }
      // The cases reached every kind of place.
      expect([...seen].sort()).toEqual(expect.arrayContaining(['content', 'header', 'manifest']));
    }, 60_000);
  }

  for (const name of ['a.tar.gz', 'a.tar.zst']) {
    it(`${name}: ${CASES} seeded flips and bursts are each reported as damage`, async () => {
      const orig = readFileSync(archives[name]!);
      const file = join(dir, `damaged-${name}`);
      for (let seed = 1; seed <= CASES; seed++) {
        const { bytes, first, kind } = flipOrBurst(orig, rng(seed));
        if (first === orig.length) continue;
        writeFileSync(file, bytes);
        const r = await verify(file);
        expect({ seed, kind, ok: r.ok, reported: r.damaged.length > 0 }).toEqual({ seed, kind, ok: false, reported: true });
      }
    }, 60_000);
  }
});

describe('a .tar.zst file: the manifest read beside the stream reports what the stream does', () => {
  // verify reads a seekable .tar.zst's manifest through the seek table beside the stream and
  // compares each entry as both pass it (memory flat in the entry count); read as a stream, the
  // entries wait for the manifest at the end. Both must report the same damage. The tar is put in
  // frames of 2 KiB, so that most damage leaves the manifest's frames whole and the side reading on.
  // The archive is one `create` writes (compression="zstd" in its manifest, the compressed-stream
  // digest frame before the seek table): only then is every compressed byte covered. A tar
  // compressed afterwards has bits no decoder checks, whose flips nothing can report (§7.1).
  const dir = tempDir('verify-ahead');
  const src = buildTree(dir);
  const file = join(dir, 'small-frames.tar.zst');
  let orig: Buffer;

  beforeAll(async () => {
    const made = join(dir, 'a.tar.zst');
    await create(['.'], made, { cwd: src, frameSize: 2048, threads: 0 });
    orig = readFileSync(made);
    // It really is in small frames, with the digest frame and the seek table.
    expect((await SeekTable.read(bufferReader(orig)))!.frames).toBeGreaterThan(100);
  }, 60_000);

  const both = async (bytes: Buffer) => {
    writeFileSync(file, bytes);
    const run = async (ahead: boolean) => {
      const damaged: Damage[] = [];
      const r = await verifyStream(file, { useManifest: true, path: file, ahead }, damaged);
      return { damaged, notes: r.notes, checkedContent: r.checkedContent, entries: r.entries, ahead: r.ahead === true };
    };
    return { side: await run(true), stream: await run(false) };
  };

  it('undamaged: clean both ways, and the manifest was read beside the stream', async () => {
    const { side, stream } = await both(orig);
    expect(side).toMatchObject({ damaged: [], checkedContent: true, ahead: true });
    expect(side.entries).toBeGreaterThan(20);
    expect({ ...side, ahead: false }).toEqual(stream);
  });

  it(`${CASES} seeded flips and bursts: the same damage, notes and counts either way`, async () => {
    let ahead = 0;
    for (let seed = 1; seed <= CASES; seed++) {
      const { bytes, first, kind } = flipOrBurst(orig, rng(seed));
      if (first === orig.length) continue;
      const { side, stream } = await both(bytes);
      if (side.ahead) ahead++;
      expect({ seed, kind, ...side, ahead: false }, `seed ${seed}: ${kind}`).toEqual({ seed, kind, ...stream });
      expect(side.damaged.length, `seed ${seed}: ${kind} not reported`).toBeGreaterThan(0);
    }
    // Most of the cases left the manifest's frames whole: the side reading was tried for real.
    expect(ahead).toBeGreaterThan(CASES / 2);
  }, 120_000);
});
