// The records a streaming verify keeps until the manifest (src/integrity/seen.ts): what goes in
// comes out, field for field, in archive order per name (an archive may hold a name twice), and
// what the manifest did not take is left for the "extra" report.
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { liveBytes } from './helpers/heap.js';
import { DATA, DEND, DSHA, HFROM, HSHA, SHA256, SeenTable, type SeenRecord } from '../src/integrity/seen.js';

const hex = (i: number) => createHash('sha256').update(`d${i}`).digest('hex');
const TYPES = ['file', 'directory', 'symlink', 'hardlink', 'fifo', 'chardev', 'blockdev'] as const;

describe('SeenTable', () => {
  it('keeps 5,000 records (past its growth steps) field for field; a name held twice comes back in archive order', () => {
    const t = new SeenTable();
    const want = new Map<string, SeenRecord[]>();
    for (let i = 0; i < 5000; i++) {
      const path = i % 97 === 0 ? 'twice' : `d/${i}`;
      const r: SeenRecord = { type: TYPES[i % 7]!, size: i * 1000, offset: 2 ** 40 + i * 512, link: i % 7 === 2 ? Buffer.from(`t${i}`) : undefined };
      const k = t.add(path, r.type, r.size, r.offset, r.link, i % 11 === 0);
      if (i % 11 === 0) r.inexact = true;
      if (i % 3 !== 0) {
        r.data = r.offset + 512;
        t.set(k, DATA, r.data);
        r.hfrom = i % 5 === 0 ? undefined : r.offset - 7;
        t.set(k, HFROM, r.hfrom);
        r.hsha = hex(i);
        t.setDigest(k, HSHA, r.hsha);
      }
      if (i % 4 === 0) {
        r.dsha = hex(-i);
        t.setDigest(k, DSHA, r.dsha);
        r.dend = r.offset + 4096;
        t.set(k, DEND, r.dend);
      }
      if (r.type === 'file' && i % 2 === 0) {
        r.sha256 = hex(i + 0.5);
        t.setDigest(k, SHA256, r.sha256);
      }
      if (i % 13 === 0) {
        r.lost = true;
        t.setLost(k);
      }
      want.set(path, [...(want.get(path) ?? []), r]);
    }
    // A digest set and then cleared (a range that could not be cut) is absent.
    const k = t.add('cleared', 'file', 1, 1);
    t.setDigest(k, HSHA, hex(1));
    t.setDigest(k, HSHA, undefined);
    expect(t.take('cleared')!.hsha).toBeUndefined();
    for (const [path, list] of want) {
      for (const r of list) {
        const got = t.take(path)!;
        expect({ ...got }).toEqual(JSON.parse(JSON.stringify(r), (key, v) => (key === 'link' && v ? Buffer.from(v.data) : v)));
      }
      // Taken: a line listed twice in the manifest finds nothing the second time.
      if (path !== 'twice') expect(t.take(path)).toBeUndefined();
    }
    expect(t.take('twice')).toBeUndefined();
    expect([...t.rest()]).toEqual([]);
  });

  it('rest() gives what was not taken, by name, in archive order', () => {
    const t = new SeenTable();
    t.add('a', 'file', 1, 0);
    t.add('b', 'file', 1, 512);
    t.add('a', 'file', 2, 1024);
    t.add('c', 'directory', 0, 1536);
    expect(t.take('b')!.offset).toBe(512);
    expect([...t.rest()].map(([p, r]) => `${p}@${r.offset}`)).toEqual(['a@0', 'a@1024', 'c@1536']);
    expect(t.take('a')!.size).toBe(1);
    expect([...t.rest()].map(([p, r]) => `${p}@${r.offset}`)).toEqual(['a@1024', 'c@1536']);
  });

  it('lets a page go once all its records were taken (the manifest read beside the stream): the rest are kept whole', () => {
    const t = new SeenTable();
    const pages = (): number => (t as unknown as { rows: { pages: unknown[] } }).rows.pages.filter(Boolean).length;
    for (let i = 0; i < 10_000; i++) {
      const k = t.add(`p${i}`, 'file', i, i * 512);
      t.setDigest(k, SHA256, hex(i));
    }
    expect(pages()).toBe(3);
    // Taken in archive order, but one record of the first page left: that page stays.
    for (let i = 0; i < 9000; i++) if (i !== 7) expect(t.take(`p${i}`)!.sha256).toBe(hex(i));
    expect(pages()).toBe(2);
    expect(t.take('p7')).toMatchObject({ size: 7, offset: 7 * 512, sha256: hex(7) });
    expect(pages()).toBe(1);
    // A number set on a record taken (its page gone) is dropped, not an error; the others are whole.
    t.set(3, DATA, 1);
    expect(t.get(3, DATA)).toBeUndefined();
    expect([...t.rest()].map(([p, r]) => [p, r.sha256])).toEqual([...Array(1000).keys()].map((j) => [`p${9000 + j}`, hex(9000 + j)]));
  });
});

describe('SeenTable past its memory pages (a stream of many entries: the rows go to a temporary file)', () => {
  it('gives back 60,000 records field for field, names held twice across pages in archive order, in or out of order, and removes its file', () => {
    const t = new SeenTable();
    const tmp = tmpdir();
    const before = new Set(readdirSync(tmp).filter((f) => f.startsWith('portarc-verify-')));
    const N = 60_000;
    const want: SeenRecord[] = [];
    const pathOf = (i: number) => (i % 1000 === 0 ? `twice/${i % 3}` : `d${i % 37}/é-${i}`);
    for (let i = 0; i < N; i++) {
      const r: SeenRecord = { type: TYPES[i % 7]!, size: i, offset: i * 512, link: i % 7 === 2 ? Buffer.from(`target-${i}`.repeat(1 + (i % 3))) : undefined };
      const k = t.add(pathOf(i), r.type, r.size, r.offset, r.link);
      expect(k).toBe(i);
      r.data = r.offset + 512;
      t.set(k, DATA, r.data);
      r.hsha = hex(i);
      t.setDigest(k, HSHA, r.hsha);
      // The data range of the record before is closed when the next member starts (stream.ts).
      if (i > 0) {
        want[i - 1]!.dend = want[i - 1]!.data! + 7;
        t.set(i - 1, DEND, want[i - 1]!.dend);
        want[i - 1]!.dsha = hex(-i);
        t.setDigest(i - 1, DSHA, want[i - 1]!.dsha);
      }
      if (r.type === 'file') {
        r.sha256 = hex(i + 0.5);
        t.setDigest(k, SHA256, r.sha256);
      }
      want.push(r);
    }
    // The rows went to a file that is not left in the temporary directory (unlinked while open).
    const spill = () => (t as unknown as { rows: { fd: number } }).rows.fd;
    expect(spill()).toBeGreaterThanOrEqual(0);
    expect(readdirSync(tmp).filter((f) => f.startsWith('portarc-verify-') && !before.has(f))).toEqual([]);
    const norm = (r: SeenRecord | undefined) => r && JSON.parse(JSON.stringify({ ...r, link: r.link?.toString('latin1') }));
    // An early record read back from the file, and a number set on it there, are kept.
    expect(t.get(5, DATA)).toBe(want[5]!.data);
    t.set(5, HFROM, 3);
    want[5]!.hfrom = 3;
    // Out of order first: a few from the end, a few from the start; then the rest in archive order.
    const order = [N - 1, N - 2, 1, 2, 3, ...Array.from({ length: N }, (_, i) => i).filter((i) => ![N - 1, N - 2, 1, 2, 3].includes(i) && i % 1000 !== 0)];
    const got: unknown[] = [];
    const exp: unknown[] = [];
    for (const i of order) {
      got.push(norm(t.take(pathOf(i))));
      exp.push(norm(want[i]));
    }
    expect(got).toEqual(exp);
    // What is left: the names held many times, in archive order.
    expect([...t.rest()].map(([p, r]) => [p, norm(r)])).toEqual(want.flatMap((r, i) => (i % 1000 === 0 ? [[pathOf(i), norm(r)]] : [])));
    for (let i = 0; i < N; i += 1000) expect(norm(t.take(pathOf(i)))).toEqual(norm(want[i]));
    expect(t.take('twice/0')).toBeUndefined();
    expect([...t.rest()]).toEqual([]);
    t.close();
    expect(spill()).toBe(-1);
  });
});

it('keeps ~30 bytes of memory a record once its pages are in the file (300,000 records; in memory they took ~250)', () => {
  const used = liveBytes;
  const base = used();
  const t = new SeenTable();
  for (let i = 0; i < 300_000; i++) {
    const k = t.add(`some/directory/with/a/name/file-${i}.txt`, 'file', i, i * 1024);
    t.set(k, DATA, i * 1024 + 512);
    t.setDigest(k, SHA256, hex(i % 100));
    t.setDigest(k, HSHA, hex(i % 101));
  }
  const grown = used() - base;
  expect(grown).toBeLessThan(24 << 20);
  expect(t.take('some/directory/with/a/name/file-123.txt')).toMatchObject({ size: 123, sha256: hex(23), hsha: hex(123 % 101) });
  t.close();
}, 60_000);

it('keeps its pages in memory when no temporary file can be written (the same records come back)', () => {
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = '/nonexistent/portarc-no-tmp';
  try {
    const t = new SeenTable();
    for (let i = 0; i < 50_000; i++) t.setDigest(t.add(`f${i}`, 'file', i, i * 512), SHA256, hex(i % 10));
    expect((t as unknown as { rows: { fd: number } }).rows.fd).toBe(-1);
    for (let i = 0; i < 50_000; i += 997) expect(t.take(`f${i}`)).toMatchObject({ size: i, offset: i * 512, sha256: hex(i % 10) });
    t.close();
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
  }
});

it('taken out of order (a manifest whose lines were shuffled), 60,000 records read their rows alone: not a page read back per record', () => {
  const t = new SeenTable();
  const N = 60_000;
  for (let i = 0; i < N; i++) t.setDigest(t.add(`n/${i}`, 'file', i, i * 512), SHA256, hex(i % 7));
  const order = Array.from({ length: N }, (_, i) => i);
  let s = 7;
  for (let i = N - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    const j = s % (i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  for (const i of order) expect(t.take(`n/${i}`)?.size).toBe(i);
  // 15 pages, 8 in memory: reading a page back per record was ~27,000 reads of 600 KB; a page is now read
  // back whole only after LOAD_AFTER of its rows were read alone (~400 times in all here).
  expect((t as unknown as { rows: { loads: number } }).rows.loads).toBeLessThan(1000);
  t.close();
}, 60_000);
