// Read and check an embedded recovery region (spec/recovery.md §10.4–§10.5): load the recovery set
// from its packets, and name every byte range of the region and the tail that is not as written
// (a packet whose MD5 fails or is missing from its place, a wrapper, the tar padding, the copy of
// the end records). Damage there costs recovery blocks, not data; repair writes them again.

import { DamagedError, UnsupportedFeatureError } from '../../model/errors.js';
import { LOCATOR_PACKET, HEADER_SIZE } from './packets.js';
import { assembleSet, scanPackets, type RecoverySet, type Scanned } from './reader.js';
import { expectedTail, paddedRegion, readAtOf, regionLayout, regionView, wrappedSize, type EmbeddedRegion } from './embedded.js';
import type { PositionalFile } from './slices.js';

export interface RegionDamage {
  /** File byte range [start, end). */
  range: [number, number];
  what: string;
}

export interface RegionCheck {
  /** The recovery set, when it can be used. */
  set?: RecoverySet;
  /** Why it cannot be, otherwise. */
  problem?: string;
  /** Recovery slices the region was written with. */
  recoveryCount: number;
  /** Places in the region and the tail that are not as written. */
  damaged: RegionDamage[];
}

const INDEX_KINDS = ['main', 'fileDesc', 'ifsc', 'creator'] as const;
const INDEX_NAMES = ['Main', 'File Description', 'IFSC', 'Creator'];
const CHUNK = 1 << 20;

/** The label recovery slices read from the region go by in messages. */
export function regionLabel(archive: string): string {
  return `${archive} (embedded recovery data)`;
}

export async function inspectRegion(fh: PositionalFile, r: EmbeddedRegion, archive: string): Promise<RegionCheck> {
  const view = await regionView(fh, r);
  const label = regionLabel(archive);
  const packets: Scanned[] = [];
  await scanPackets(view.file, label, packets, true);
  const damaged: RegionDamage[] = view.broken.map((b) => ({ range: b, what: 'recovery data: a wrapper is not as written' }));
  let set: RecoverySet | undefined;
  let problem: string | undefined;
  try {
    set = assembleSet(packets, [label], archive, (d, setId) => d.length === r.archiveLength && (r.setId === undefined || setId === r.setId), 'no intact description of the archive in its embedded recovery data', archive);
  } catch (err) {
    if (!(err instanceof DamagedError || err instanceof UnsupportedFeatureError)) throw err;
    problem = err.message;
  }
  // The index packets' sizes (from any intact copy) place every packet of the region.
  const inSet = set ? packets.filter((p) => p.setId === set!.setId) : [];
  const sizes = INDEX_KINDS.map((k) => inSet.find((p) => p.kind === k)?.bodyLength);
  let recoveryCount = r.recoveryCount;
  if (set && sizes.every((s) => s !== undefined)) {
    const critical = sizes.map((s) => HEADER_SIZE + s!);
    const packetSize = HEADER_SIZE + 4 + set.sliceSize;
    const fixed = 2 * wrappedSize(r.container, LOCATOR_PACKET) + 2 * critical.reduce((t, n) => t + wrappedSize(r.container, n), 0);
    if (recoveryCount < 0) {
      // Both locators damaged: the count from the region's length, which the file's length gives.
      // A region of n blocks has one length (spec §10.1: tar pads it to 512): a file with bytes
      // appended or cut gives none, and the count stays unknown (a guess rebuilt another region,
      // "repaired", exit 0).
      const n = Math.floor((r.regionLength - fixed) / wrappedSize(r.container, packetSize));
      if (paddedRegion(r.container, r.archiveLength, fixed + n * wrappedSize(r.container, packetSize)) === r.regionLength) recoveryCount = n;
      else damaged.push({ range: [r.archiveLength, r.archiveLength + r.regionLength], what: 'recovery data: both locators are damaged and the file is not the length of any region (bytes appended or cut): its number of blocks is not known' });
    }
    // Intact packets by where their header is in the file.
    const at = new Map<number, Scanned>();
    for (const p of packets) at.set(view.fileOffset(p.bodyAt - HEADER_SIZE), p);
    const lead = r.container === 'zstd' ? 8 : r.container === 'gzip' ? 16 : 0;
    for (const e of recoveryCount < 0 ? [] : regionLayout(r, critical, packetSize, recoveryCount)) {
      const range: [number, number] = [e.at, e.at + e.size];
      if (e.kind === 'padding') {
        if (!(await zeros(fh, e.at, e.size))) damaged.push({ range, what: 'recovery data: the padding before the last locator is not zeros' });
        continue;
      }
      const p = at.get(e.at + lead);
      const ok =
        p !== undefined &&
        p.bodyLength + HEADER_SIZE === e.packet &&
        (e.kind === 'locator' ? p.kind === 'locator' : e.kind === 'index' ? p.kind === INDEX_KINDS[e.index!] : p.kind === 'recovery' && p.exponent === e.index);
      if (ok) continue;
      const what = e.kind === 'locator' ? 'the locator' : e.kind === 'index' ? `the ${INDEX_NAMES[e.index!]} packet` : `recovery block ${e.index}`;
      damaged.push({ range, what: `recovery data: ${what} is damaged` });
    }
  } else if (set || problem) {
    damaged.push({ range: [r.archiveLength, r.archiveLength + r.regionLength], what: `recovery data: ${problem ?? 'every copy of an index packet is damaged'}` });
  }
  // The end records again: the bytes the archive implies.
  const t = await expectedTail(readAtOf(fh), r).catch(() => undefined);
  if (!t || t.length !== r.tailLength || !(await sameBytes(fh, t))) damaged.push({ range: [r.archiveLength + r.regionLength, r.archiveLength + r.regionLength + r.tailLength], what: `recovery data: the ${r.container === 'zip' ? 'central directory and end records' : 'seek table'} after it differ from the archive's` });
  if (r.found !== 'locator' && !damaged.some((d) => d.what.includes('locator'))) {
    const end = r.archiveLength + r.regionLength;
    const w = wrappedSize(r.container, LOCATOR_PACKET);
    damaged.push({ range: [end - w, end], what: 'recovery data: the last locator is damaged' });
  }
  damaged.sort((a, b) => a.range[0] - b.range[0]);
  return { set, problem, recoveryCount, damaged: merge(damaged) };
}

async function zeros(fh: PositionalFile, at: number, n: number): Promise<boolean> {
  const read = readAtOf(fh);
  for (let o = 0; o < n; o += CHUNK) {
    const b = await read(at + o, Math.min(CHUNK, n - o));
    if (b.length !== Math.min(CHUNK, n - o) || b.some((x) => x !== 0)) return false;
  }
  return true;
}

/** The file's tail equals the archive's end records moved (copy range, then the patched end). */
async function sameBytes(fh: PositionalFile, t: { from: number; copy: number; end: Buffer; at: number; length: number }): Promise<boolean> {
  const read = readAtOf(fh);
  for (let o = 0; o < t.copy; o += CHUNK) {
    const n = Math.min(CHUNK, t.copy - o);
    const [a, b] = await Promise.all([read(t.from + o, n), read(t.at + o, n)]);
    if (a.length !== n || !a.equals(b)) return false;
  }
  const e = await read(t.at + t.copy, t.end.length + 1);
  return e.equals(t.end);
}

/** Adjacent or overlapping ranges with the same text as one. */
function merge(list: RegionDamage[]): RegionDamage[] {
  const out: RegionDamage[] = [];
  for (const d of list) {
    const last = out.at(-1);
    if (last && last.what === d.what && d.range[0] <= last.range[1]) last.range[1] = Math.max(last.range[1], d.range[1]);
    else out.push({ range: [d.range[0], d.range[1]], what: d.what });
  }
  return out;
}
