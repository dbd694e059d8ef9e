// The index random access keeps of a manifest (src/api/manifest-index.ts): what goes in comes out,
// field for field; a path is found by its key (no "./", no trailing "/"), the last of a name stored
// twice, or the last before a given entry (a hardlink's target); and a million entries do not cost
// ~280 bytes each of memory: the rows wait in a temporary file.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { liveBytes } from './helpers/heap.js';
import { ManifestIndex } from '../src/api/manifest-index.js';
import type { ManifestEntry } from '../src/manifest/types.js';

const hex = (i: number) => createHash('sha256').update(`d${i}`).digest('hex');
const TYPES = ['file', 'directory', 'symlink', 'hardlink', 'fifo', 'chardev', 'blockdev'] as const;

function entry(i: number): ManifestEntry {
  const type = TYPES[i % 7]!;
  const path = i % 5 === 0 ? `./d${i % 13}/f-${i}` : i % 5 === 1 ? `d${i % 13}/é-${i}` : i % 5 === 2 ? `/abs//odd-${i}/` : `d${i % 13}/f-${i}`;
  const e: ManifestEntry = { path: Buffer.from(path), type, size: type === 'file' ? i * 3 : 0, offset: i * 1024, data: i * 1024 + 512, end: i * 1024 + 1024, headerSha256: hex(-i) };
  if (type === 'file' && i % 2) e.sha256 = hex(i);
  if (type === 'symlink' || type === 'hardlink') e.link = Buffer.from(`target-${i}`.repeat(1 + (i % 3)));
  return e;
}

describe('ManifestIndex', () => {
  it('gives back 50,000 entries field for field (past its pages in memory), and finds them by key', () => {
    const index = new ManifestIndex();
    const N = 50_000;
    for (let i = 0; i < N; i++) index.add(entry(i));
    expect(index.length).toBe(N);
    const norm = (e: ManifestEntry) => JSON.parse(JSON.stringify({ ...e, path: e.path.toString('latin1'), link: e.link?.toString('latin1') }));
    const got: unknown[] = [];
    const want: unknown[] = [];
    for (let i = 0; i < N; i += 7) {
      got.push(norm(index.get(i)));
      want.push(norm(entry(i)));
    }
    expect(got).toEqual(want);
    expect(index.find('d3/f-3')).toBe(3);
    expect(index.find('./d3/f-3/')).toBe(3);
    expect(index.find(Buffer.from('abs//odd-2'))).toBe(2);
    expect(index.get(2).path.toString()).toBe('/abs//odd-2/');
    expect(index.find('d3/f-nope')).toBeUndefined();
    index.close();
  });

  it('a name stored twice: find() gives the last, findBefore() the last before an entry', () => {
    const index = new ManifestIndex();
    const at = (i: number, path: string): ManifestEntry => ({ path: Buffer.from(path), type: 'file', size: 1, offset: i * 512, data: i * 512, end: i * 512 + 512, headerSha256: hex(i) });
    const names = ['a', 'b', './a', 'c', 'a/', 'd'];
    names.forEach((n, i) => index.add(at(i, n)));
    expect(index.find('a')).toBe(4);
    expect(index.findBefore('a', 4)).toBe(2);
    expect(index.findBefore('a', 2)).toBe(0);
    expect(index.findBefore('a', 0)).toBeUndefined();
    expect(index.findBefore('d', 3)).toBeUndefined();
    expect(index.findBefore('c', 6)).toBe(3);
    index.close();
  });

  it('keeps ~25 bytes of memory an entry once its pages are in the file (300,000 entries; in columns they took ~280)', () => {
    const used = liveBytes;
    const base = used();
    const index = new ManifestIndex();
    for (let i = 0; i < 300_000; i++) index.add({ path: Buffer.from(`some/directory/with/a/name/file-${i}.txt`), type: 'file', size: i, offset: i * 1024, data: i * 1024 + 512, end: i * 1024 + 1024, sha256: hex(i % 100), headerSha256: hex(i % 101) });
    expect(used() - base).toBeLessThan(24 << 20);
    expect(index.get(index.find('some/directory/with/a/name/file-123.txt')!)).toMatchObject({ size: 123, sha256: hex(23) });
    index.close();
  }, 60_000);
});
