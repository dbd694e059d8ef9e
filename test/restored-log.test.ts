// The stream path's check of a restore against the manifest that arrives last (spec/manifest.md
// §11.2; src/integrity/restored.ts). The log takes records in the order files were written, which
// is not archive order: a small file's record comes when its batch is written, after big files
// that follow it. Every record must be checked all the same, the ones the manifest does not list
// named, and memory kept flat (sorted in runs on disk when out of order).
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ManifestWriter, type LineEntry } from '../src/manifest/index.js';
import { RestoredLog, type Mismatch, type RestoredRecord } from '../src/integrity/restored.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

/** A manifest listing `n` files at offsets 1024·(i+1), content digest sha('i'). */
async function manifest(n: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const w = new ManifestWriter((c) => void chunks.push(c));
  await w.head({ spec: '1.0', creator: 'portarc test', container: 'tar', compression: 'none', features: { compat: ['manifest'], rocompat: [], incompat: [] } });
  for (let i = 0; i < n; i++) {
    const offset = 1024 * (i + 1);
    const e: LineEntry = { path: Buffer.from(`f${i}`), type: 'file', size: 1, offset, data: offset + 512, end: offset + 1024, headerSha256: sha(`h${i}`), sha256: sha(`${i}`) };
    await w.entry(e);
  }
  await w.foot({ bytes: 1024 * (n + 1), sha256: sha('all') });
  return Buffer.concat(chunks);
}

const record = (i: number, content = `${i}`, path = `f${i}`): RestoredRecord => ({
  offset: 1024 * (i + 1),
  path: Buffer.from(path),
  name: path,
  abs: Buffer.from(`/nowhere/${path}`),
  ino: i + 1,
  sha256: sha(content),
});

/** Deterministic shuffle within windows of `w` (the restorer's disorder is local, but any order must do). */
function shuffled(n: number, w: number, seed: number): number[] {
  const order = [...Array(n).keys()];
  let a = seed;
  const r = () => ((a = (Math.imul(a, 1103515245) + 12345) >>> 0) / 2 ** 32);
  for (let s = 0; s < n; s += w) {
    for (let i = Math.min(n, s + w) - 1; i > s; i--) {
      const j = s + Math.floor(r() * (i - s + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
  }
  return order;
}

async function check(log: RestoredLog, xml: Buffer) {
  const bad: Mismatch[] = [];
  const unlisted: string[] = [];
  await log.check([xml], (m) => void bad.push(m), [], undefined, (rec, listed) => void unlisted.push(`${rec.name}${listed ? ` (listed: ${listed.path})` : ''}`));
  return { bad: bad.map((m) => m.record.name).sort(), unlisted: unlisted.sort() };
}

describe('RestoredLog: every logged file is checked against the manifest, whatever order it was logged in', () => {
  for (const [label, n, window, runSize] of [
    ['in order', 200, 1, 16],
    ['out of order, one run in memory', 200, 50, 1000],
    ['out of order, several runs merged', 500, 500, 37],
    ['big files written before the batch of small ones before them', 300, 300, 64],
  ] as const) {
    it(label, async () => {
      const xml = await manifest(n);
      const log = new RestoredLog(runSize);
      try {
        const order = label.startsWith('big') ? [...[...Array(n).keys()].filter((i) => i % 3 === 0), ...[...Array(n).keys()].filter((i) => i % 3 !== 0)] : shuffled(n, window, n);
        const damagedAt = new Set([0, 7, n - 1, Math.floor(n / 2)]);
        for (const i of order) log.add(record(i, damagedAt.has(i) ? 'changed' : `${i}`));
        // Two the manifest does not list: a new offset past the end, and another name at a listed offset.
        log.add({ ...record(n + 5), name: 'appended', path: Buffer.from('appended') });
        log.add(record(3, '3', 'renamed'));
        const r = await check(log, xml);
        expect(r.bad).toEqual([...damagedAt].map((i) => `f${i}`).sort());
        expect(r.unlisted).toEqual(['appended', 'renamed (listed: f3)']);
      } finally {
        log.close();
      }
    });
  }
});
