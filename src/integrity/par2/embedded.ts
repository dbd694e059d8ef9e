// Embedded recovery data: a PAR2 set stored after the archive's own end, wrapped so that the
// container's readers skip it, then the container's end records again for readers that start from
// the end of the file. Spec: spec/recovery.md §10.
//
//   file = archive [0, P) ‖ region ‖ tail
//   region: locator, Main, FileDesc, IFSC, Creator, recovery slices 0..B-1, Main, FileDesc, IFSC,
//           Creator, [tar: zeros to a 512-byte boundary], locator
//     tar, zip: packets as they are; zstd: one skippable frame (magic 0x184D2A5C) per packet;
//     gzip: empty gzip members whose extra field carries up to 65,528 bytes of a packet each
//   tail:   zstd: the archive's seek table frame again; zip: its central directory and end records
//           again, pointing at the copy; tar, gzip: nothing
//
// The archive's bytes are those it had without the region (every digest, the manifest and the
// trailer hold for [0, P)); the parity covers exactly them. The locator (a PAR2 packet of
// portarc's own type, which PAR2 readers ignore) says where the archive and the region end.

import type { FileHandle } from 'node:fs/promises';
import { PortarcError, UsageError } from '../../model/errors.js';
import { LOCATOR_PACKET, MAGIC, header, locatorBody, md5, packetAt, parseFileDesc, parseLocator, type Locator } from './packets.js';
import type { BuiltSet } from './writer.js';
import type { PositionalFile } from './slices.js';

export type Container = 'tar' | 'gzip' | 'zstd' | 'zip';

/** The layout version this module writes and reads. */
export const EMBEDDED_VERSION = 1;

/** Where an archive's embedded recovery data is, from its locator. */
export interface EmbeddedRegion extends Locator {
  container: Container;
  /** Set ID of the recovery set (the locator's packet header), when a locator was read. */
  setId?: string;
  /** Why the locator at the end was not used (damaged): the region was found another way. */
  found: 'locator' | 'first-locator' | 'description';
}

// ---- wrapping -------------------------------------------------------------------------------

/** A gzip member's header with FEXTRA only, MTIME 0, XFL 0, OS 3 (Unix), then XLEN. */
const GZIP_HEAD = Buffer.from([0x1f, 0x8b, 0x08, 0x04, 0, 0, 0, 0, 0, 0x03]);
/** After the extra field: an empty final fixed-Huffman block, CRC-32 0 and ISIZE 0. */
const GZIP_END = Buffer.from([0x03, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]);
/** Packet bytes per gzip member: XLEN (u16) holds the 4-byte subfield header too. */
export const GZIP_PIECE = 65528;
const GZIP_WRAP = GZIP_HEAD.length + 2 + 4 + GZIP_END.length;
/** Skippable frame magic of the region's zstd frames (little-endian 5C 2A 4D 18). */
export const ZSTD_RECOVERY_MAGIC = 0x184d2a5c;
const ZSTD_WRAP = 8;

/** Bytes a packet of n bytes takes in the file. */
export function wrappedSize(c: Container, n: number): number {
  if (c === 'zstd') return n + ZSTD_WRAP;
  if (c === 'gzip') return n + GZIP_WRAP * Math.max(1, Math.ceil(n / GZIP_PIECE));
  return n;
}

function gzipPieceHead(n: number): Buffer {
  const b = Buffer.alloc(GZIP_HEAD.length + 6);
  GZIP_HEAD.copy(b, 0);
  b.writeUInt16LE(n + 4, 10);
  b.write('P2', 12, 'latin1');
  b.writeUInt16LE(n, 14);
  return b;
}

function zstdFrameHead(n: number): Buffer {
  const b = Buffer.alloc(ZSTD_WRAP);
  b.writeUInt32LE(ZSTD_RECOVERY_MAGIC, 0);
  b.writeUInt32LE(n, 4);
  return b;
}

/** The container of an archive, from its first bytes. */
export function containerOf(head: Buffer): Container {
  if (head.length >= 4 && head.readUInt32LE(0) === 0x04034b50) return 'zip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0x06054b50) return 'zip'; // an empty zip: its end record only
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  return 'tar';
}

// ---- reading helpers --------------------------------------------------------------------------

/** Positioned reads of exactly n bytes (fewer at the end); with `into`, a reader may read into it and hand out a view of it (else a buffer of its own). */
export type ReadAt = (position: number, length: number, into?: Buffer) => Promise<Buffer>;

/**
 * Positioned reads through `fh`. With `reuse`, reads of up to its size land in it (valid until the
 * next read): copying a region of many MiB through fresh buffers left garbage V8 freed late.
 */
export function readAtOf(fh: PositionalFile, reuse?: Buffer): ReadAt {
  return async (position, length, into) => {
    const buf = into ?? reuse;
    const b = buf && length <= buf.length ? buf.subarray(0, Math.max(0, length)) : Buffer.alloc(Math.max(0, length));
    let got = 0;
    while (got < b.length) {
      const { bytesRead } = await fh.read(b, got, b.length - got, position + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return b.subarray(0, got);
  };
}

/** A view of bytes [start, start + size) of `fh` as a file of its own. */
export function sliceView(fh: PositionalFile, start: number, size: number): PositionalFile {
  return {
    stat: async () => ({ size }),
    async read(buffer, offset, length, position) {
      const n = Math.max(0, Math.min(length, size - position));
      if (n === 0) return { bytesRead: 0 };
      return fh.read(buffer, offset, n, start + position);
    },
  };
}

// ---- the tail -------------------------------------------------------------------------------

const SEEKABLE_FOOTER_MAGIC = 0x8f92eab1;
const EOCD_SIG = 0x06054b50;
const ZIP64_LOCATOR_SIG = 0x07064b50;
const ZIP64_EOCD_SIG = 0x06064b50;
const U32 = 0xffffffff;

/** What follows the region: bytes [from, from + copy) of the archive, then `end`. */
interface TailPlan {
  from: number;
  copy: number;
  end: Buffer;
  length: number;
}

/** The zstd seek table frame that ends bytes [0, end): its size, or 0 when there is none. */
async function seekTableSize(read: ReadAt, end: number): Promise<number> {
  if (end < 17) return 0;
  const foot = await read(end - 9, 9);
  if (foot.length !== 9 || foot.readUInt32LE(5) !== SEEKABLE_FOOTER_MAGIC) return 0;
  const size = 8 + foot.readUInt32LE(0) * (foot[4]! & 0x80 ? 12 : 8) + 9;
  return size <= end ? size : 0;
}

/** The zip end records that end bytes [0, end): where the central directory starts and ends, and the records after it. */
async function zipEnd(read: ReadAt, end: number): Promise<{ cdStart: number; cdEnd: number; zip64?: { recAt: number; locAt: number }; eocdAt: number } | undefined> {
  // portarc's end record has a 500-byte comment (the trailer): try that span first (over HTTP a
  // 64 KiB read would cost more than the member asked for).
  for (const want of [22 + 500, 22 + 0xffff]) {
    const span = Math.min(end, want);
    const found = await zipEndIn(read, end, await read(end - span, span));
    if (found || span === end) return found;
  }
  return undefined;
}

async function zipEndIn(read: ReadAt, end: number, tail: Buffer): Promise<{ cdStart: number; cdEnd: number; zip64?: { recAt: number; locAt: number }; eocdAt: number } | undefined> {
  const span = tail.length;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tail.readUInt32LE(i) !== EOCD_SIG || i + 22 + tail.readUInt16LE(i + 20) !== tail.length) continue;
    const eocdAt = end - span + i;
    let cdSize = tail.readUInt32LE(i + 12);
    let cdStart = tail.readUInt32LE(i + 16);
    let zip64: { recAt: number; locAt: number } | undefined;
    const locAt = eocdAt - 20;
    if (locAt >= 0) {
      const loc = await read(locAt, 20);
      if (loc.length === 20 && loc.readUInt32LE(0) === ZIP64_LOCATOR_SIG) {
        const recAt = Number(loc.readBigUInt64LE(8));
        const rec = await read(recAt, 56);
        if (rec.length !== 56 || rec.readUInt32LE(0) !== ZIP64_EOCD_SIG) return undefined;
        cdSize = Number(rec.readBigUInt64LE(40));
        cdStart = Number(rec.readBigUInt64LE(48));
        zip64 = { recAt, locAt };
      }
    }
    const cdEnd = cdStart + cdSize;
    if (cdEnd > (zip64?.recAt ?? eocdAt)) return undefined;
    return { cdStart, cdEnd, zip64, eocdAt };
  }
  return undefined;
}

/** The tail for an archive of P bytes whose tail will start at t0 (spec §10.2). */
async function tailPlan(read: ReadAt, P: number, c: Container, t0: number): Promise<TailPlan> {
  if (c === 'zstd') {
    const size = await seekTableSize(read, P);
    return { from: P - size, copy: size, end: Buffer.alloc(0), length: size };
  }
  if (c !== 'zip') return { from: 0, copy: 0, end: Buffer.alloc(0), length: 0 };
  const z = await zipEnd(read, P);
  if (!z) throw new PortarcError('the zip end records were not found: recovery data cannot be embedded in this archive');
  // The central directory again, then the records after it with the offsets of the copy.
  const end = Buffer.from(await read(z.cdEnd, P - z.cdEnd));
  const moved = t0 - z.cdStart;
  if (z.zip64) {
    end.writeBigUInt64LE(BigInt(t0), z.zip64.recAt - z.cdEnd + 48);
    end.writeBigUInt64LE(BigInt(z.zip64.recAt + moved), z.zip64.locAt - z.cdEnd + 8);
  }
  const eocd = z.eocdAt - z.cdEnd;
  if (end.readUInt32LE(eocd + 16) !== U32) {
    if (t0 >= U32) throw new UsageError(`the zip's central directory would move past 4 GiB, which needs zip64 end records this archive does not have: use a sidecar recovery set (--recovery without --embed-recovery)`);
    end.writeUInt32LE(t0, eocd + 16);
  }
  return { from: z.cdStart, copy: z.cdEnd - z.cdStart, end, length: P - z.cdStart };
}

/** The tail's length when the file ends at `size`, read from the end (undefined: no end records there). */
async function tailLengthAt(read: ReadAt, size: number, c: Container): Promise<number | undefined> {
  if (c === 'tar' || c === 'gzip') return 0;
  if (c === 'zstd') return seekTableSize(read, size);
  const z = await zipEnd(read, size);
  return z ? size - z.cdStart : undefined;
}

// ---- writing ----------------------------------------------------------------------------------

const COPY = 1 << 20;

/** Sequential writes through a 1 MiB buffer. */
class Out {
  private buf = Buffer.allocUnsafe(COPY);
  private n = 0;
  constructor(private fh: FileHandle, public at: number) {}
  async put(b: Uint8Array): Promise<void> {
    for (let o = 0; o < b.length; ) {
      const k = Math.min(b.length - o, this.buf.length - this.n);
      this.buf.set(b.subarray(o, o + k), this.n);
      this.n += k;
      o += k;
      if (this.n === this.buf.length) await this.flush();
    }
  }
  async flush(): Promise<void> {
    let done = 0;
    while (done < this.n) done += (await this.fh.write(this.buf, done, this.n - done, this.at + done)).bytesWritten;
    this.at += this.n;
    this.n = 0;
  }
}

/** Write one packet, read in pieces by `piece(offset, length)`, wrapped for the container. */
async function putPacket(out: Out, c: Container, n: number, piece: (offset: number, length: number) => Promise<Buffer>): Promise<void> {
  if (c === 'zstd') await out.put(zstdFrameHead(n));
  const step = c === 'gzip' ? GZIP_PIECE : COPY;
  for (let o = 0; o < n; o += step) {
    const k = Math.min(step, n - o);
    if (c === 'gzip') await out.put(gzipPieceHead(k));
    await out.put(await piece(o, k));
    if (c === 'gzip') await out.put(GZIP_END);
  }
}

/**
 * Write the region and the tail after the archive held in bytes [0, P) of `fh` (read and written
 * through it): the set `set`, whose recovery packets are in `volume` (packet i at i × packetSize).
 * Returns the locator written. The file is truncated to its new length.
 */
export async function writeRegion(fh: FileHandle, P: number, c: Container, set: BuiltSet, volume: FileHandle): Promise<Locator> {
  const read = readAtOf(fh);
  const crit = set.critical;
  const critSize = crit.reduce((s, p) => s + wrappedSize(c, p.length), 0);
  const locW = wrappedSize(c, LOCATOR_PACKET);
  const unpadded = 2 * locW + 2 * critSize + set.recoverySlices * wrappedSize(c, set.packetSize);
  const regionLength = paddedRegion(c, P, unpadded);
  const pad = regionLength - unpadded;
  const tail = await tailPlan(read, P, c, P + regionLength);
  const loc: Locator = { archiveLength: P, regionLength, tailLength: tail.length, version: EMBEDDED_VERSION, recoveryCount: set.recoverySlices };
  const body = locatorBody(loc);
  const locator = Buffer.concat([header(set.setId, 'locator', [body]), body]);
  const out = new Out(fh, P);
  const whole = (b: Buffer) => putPacket(out, c, b.length, async (o, k) => b.subarray(o, o + k));
  await whole(locator);
  for (const p of crit) await whole(p);
  const vol = readAtOf(volume, Buffer.allocUnsafe(COPY));
  for (let i = 0; i < set.recoverySlices; i++) {
    await putPacket(out, c, set.packetSize, async (o, k) => {
      const b = await vol(i * set.packetSize + o, k);
      if (b.length !== k) throw new PortarcError(`recovery volume shorter than written (packet ${i})`);
      return b;
    });
  }
  for (const p of crit) await whole(p);
  if (pad) await out.put(Buffer.alloc(pad));
  await whole(locator);
  const copy = readAtOf(fh, Buffer.allocUnsafe(COPY));
  for (let o = 0; o < tail.copy; o += COPY) await out.put(await copy(tail.from + o, Math.min(COPY, tail.copy - o)));
  await out.put(tail.end);
  await out.flush();
  if (out.at !== P + regionLength + tail.length) throw new PortarcError(`embedded recovery data: wrote ${out.at - P} bytes after the archive, planned ${regionLength + tail.length}`);
  await fh.truncate(out.at);
  return loc;
}

// ---- finding ----------------------------------------------------------------------------------

/** The packet wrapped at [at, at + wrappedSize(c, n)) in the file, unwrapped (undefined: the wrapping is not right). */
async function unwrapAt(read: ReadAt, c: Container, at: number, n: number): Promise<Buffer | undefined> {
  const w = await read(at, wrappedSize(c, n));
  if (w.length !== wrappedSize(c, n)) return undefined;
  if (c === 'zstd') return w.readUInt32LE(0) === ZSTD_RECOVERY_MAGIC && w.readUInt32LE(4) === n ? w.subarray(ZSTD_WRAP) : undefined;
  if (c === 'gzip') {
    const parts: Buffer[] = [];
    for (let o = 0, p = 0; p < n; p += GZIP_PIECE) {
      const k = Math.min(GZIP_PIECE, n - p);
      if (!w.subarray(o, o + 16).equals(gzipPieceHead(k)) || !w.subarray(o + 16 + k, o + 26 + k).equals(GZIP_END)) return undefined;
      parts.push(w.subarray(o + 16, o + 16 + k));
      o += k + GZIP_WRAP;
    }
    return Buffer.concat(parts);
  }
  return w;
}

/**
 * A locator packet wrapped at `at` that agrees with a file of `size` bytes (any size when
 * undefined: the packet's own MD5 vouches for it, and a file of another length was cut or had
 * bytes appended).
 */
async function locatorAt(read: ReadAt, c: Container, at: number, size: number | undefined): Promise<{ loc: Locator; setId: string } | undefined> {
  if (at < 0) return undefined;
  const raw = await unwrapAt(read, c, at, LOCATOR_PACKET);
  const p = raw && packetAt(raw, 0);
  if (!p || p.kind !== 'locator') return undefined;
  const loc = parseLocator(p.body);
  if (!loc || (size !== undefined && loc.archiveLength + loc.regionLength + loc.tailLength !== size)) return undefined;
  return { loc, setId: p.setId.toString('hex') };
}

/**
 * The locator at the end of `tail`, the last bytes of a gzip or zstd stream read without seeking
 * (stdin): a reader that cannot go back uses it to tell embedded recovery data from damage.
 */
export function locatorAtEnd(tail: Buffer, c: 'gzip' | 'zstd'): Locator | undefined {
  let end = tail.length;
  if (c === 'zstd') {
    if (end < 9 || tail.readUInt32LE(end - 9 + 5) !== SEEKABLE_FOOTER_MAGIC) return undefined;
    end -= 8 + tail.readUInt32LE(end - 9) * (tail[end - 5]! & 0x80 ? 12 : 8) + 9;
  }
  const w = wrappedSize(c, LOCATOR_PACKET);
  if (end - w < 0) return undefined;
  const lead = c === 'zstd' ? ZSTD_WRAP : 16;
  const head = c === 'zstd' ? zstdFrameHead(LOCATOR_PACKET) : gzipPieceHead(LOCATOR_PACKET);
  if (!tail.subarray(end - w, end - w + lead).equals(head)) return undefined;
  if (c === 'gzip' && !tail.subarray(end - GZIP_END.length, end).equals(GZIP_END)) return undefined;
  const p = packetAt(tail.subarray(end - w + lead, end - w + lead + LOCATOR_PACKET), 0);
  return p?.kind === 'locator' ? parseLocator(p.body) : undefined;
}

/** Bytes searched from the end for a copy of the index packets when both locators are unusable. */
const SEARCH = 8 << 20;
/**
 * The search reads SEARCH in windows of this size, from the end back, each overlapping the next by
 * OVERLAP: a packet that starts in a window and is no longer than OVERLAP lies whole in it (the
 * locator and the File Description are a few hundred bytes). Not one 8 MiB read: verify searches
 * every archive without a locator, twice, and 8 MiB of buffer were an eighth of its memory budget.
 */
const WINDOW_SIZE = 1 << 20;
const OVERLAP = 64 << 10;

/**
 * Find the embedded recovery region of an archive file of `size` bytes: from the locator at the
 * end (fast: a few hundred bytes read); with `thorough`, when that one is damaged, from the index
 * packets' last copy near the end and the first locator at the archive's end (spec §10.4).
 * Undefined when the file has none.
 */
export async function findEmbedded(read: ReadAt, size: number, options: { thorough?: boolean } = {}): Promise<EmbeddedRegion | undefined> {
  if (size < LOCATOR_PACKET) return undefined;
  const c = containerOf(await read(0, 4));
  const locW = wrappedSize(c, LOCATOR_PACKET);
  const tail = await tailLengthAt(read, size, c);
  if (tail !== undefined) {
    const last = await locatorAt(read, c, size - tail - locW, size);
    if (last && last.loc.tailLength === tail) return { ...last.loc, container: c, setId: last.setId, found: 'locator' };
  }
  if (!options.thorough) return undefined;
  // The last locator (or the tail that leads to it) is damaged: a copy of the File Description,
  // whose length is the archive's, near the end; then the first locator, right after the archive.
  // Packets are tried last first: those starting in [lo, before) of each window.
  const floor = Math.max(0, size - SEARCH);
  // One buffer for every window (only these reads use it): no 8 MiB of garbage.
  const into = Buffer.allocUnsafe(Math.min(size - floor, WINDOW_SIZE));
  for (let before = size; before > floor; ) {
    const lo = Math.max(floor, before - (WINDOW_SIZE - OVERLAP));
    const w = await read(lo, Math.min(size, before + OVERLAP) - lo, into);
    for (let i = w.lastIndexOf(MAGIC, before - lo - 1); i >= 0; i = i > 0 ? w.lastIndexOf(MAGIC, i - 1) : -1) {
      const found = await fromPacket(read, c, size, w, i, lo + i);
      if (found) return found;
    }
    before = lo;
  }
  return undefined;
}

/** The region, if the packet at `w[i]` (file offset `at`) is a first locator or a File Description that leads to it. */
async function fromPacket(read: ReadAt, c: Container, size: number, w: Buffer, i: number, at: number): Promise<EmbeddedRegion | undefined> {
  const p = packetAt(w, i);
  if (p?.kind === 'locator') {
    const loc = parseLocator(p.body);
    if (loc && loc.archiveLength + loc.regionLength + loc.tailLength === size) return { ...loc, container: c, setId: p.setId.toString('hex'), found: 'first-locator' };
  }
  if (p?.kind !== 'fileDesc') return undefined;
  const d = parseFileDesc(p.body);
  // The description must lie after the archive it describes (not in a .par2 file archived in it).
  if (!d || d.length <= 0 || d.length >= size || at < d.length) return undefined;
  const first = await locatorAt(read, c, d.length, size);
  if (first) return { ...first.loc, container: c, setId: first.setId, found: 'first-locator' };
  // The first locator intact, but the file is not the length it gives: cut short, or bytes
  // appended. Its counts still hold (a guess from the damaged length rebuilt a region of another
  // size, "repaired", exit 0).
  const intact = await locatorAt(read, c, d.length, undefined);
  if (intact && intact.loc.archiveLength === d.length) return { ...intact.loc, container: c, setId: intact.setId, found: 'first-locator' };
  // Both locators damaged: the archive's length is the description's, if the description is of
  // this file (the MD5 of its first 16 KiB); the tail follows from the archive.
  if (!md5(await read(0, Math.min(16384, d.length))).equals(d.md5_16k)) return undefined;
  const t = await tailPlan(read, d.length, c, 0).catch(() => undefined);
  if (!t || d.length + t.length > size) return undefined;
  return { archiveLength: d.length, regionLength: size - d.length - t.length, tailLength: t.length, version: EMBEDDED_VERSION, recoveryCount: -1, container: c, setId: p.setId.toString('hex'), found: 'description' };
}

// ---- the region's packets, unwrapped ----------------------------------------------------------

/** Runs of packet bytes in the file: payload offset → file offset. */
class Segments {
  v: number[] = [];
  f: number[] = [];
  n: number[] = [];
  size = 0;
  add(fileAt: number, length: number): void {
    if (length <= 0) return;
    this.v.push(this.size);
    this.f.push(fileAt);
    this.n.push(length);
    this.size += length;
  }
  /** Index of the segment holding payload offset `pos`. */
  find(pos: number): number {
    let lo = 0;
    let hi = this.v.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.v[mid]! <= pos) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}

/** Windowed reads: the region's wrappers are small reads close together (a gzip member's head and end fit one window). */
const WINDOW = 128 * 1024;
function windowed(read: ReadAt): ReadAt {
  let at = -1;
  let win: Buffer = Buffer.alloc(0);
  return async (position, length) => {
    if (position < at || position + length > at + win.length) {
      win = await read(position, Math.max(length, WINDOW));
      at = position;
    }
    return win.subarray(position - at, position - at + length);
  };
}

export interface RegionView {
  /** The packet bytes of the region, as one file. */
  file: PositionalFile;
  /** Wrappers that were not as written (their bytes are skipped): the file byte ranges. */
  broken: [number, number][];
  /** Where payload offset `pos` is in the file. */
  fileOffset(pos: number): number;
}

/**
 * The region's packet bytes as one file: for zstd and gzip the wrappers are walked and left out;
 * a wrapper that is not as written is skipped to the next one that is (its bytes are lost to the
 * packet scan, whose MD5 check then drops the packet).
 */
export async function regionView(fh: PositionalFile, r: EmbeddedRegion): Promise<RegionView> {
  const start = r.archiveLength;
  const end = r.archiveLength + r.regionLength;
  if (r.container === 'tar' || r.container === 'zip') return { file: sliceView(fh, start, r.regionLength), broken: [], fileOffset: (pos) => start + pos };
  const read = windowed(readAtOf(fh));
  const segs = new Segments();
  const broken: [number, number][] = [];
  const sig = r.container === 'zstd' ? Buffer.from([0x5c, 0x2a, 0x4d, 0x18]) : GZIP_HEAD;
  let pos = start;
  while (pos < end) {
    let len = -1;
    if (r.container === 'zstd') {
      const h = await read(pos, ZSTD_WRAP);
      if (h.length === ZSTD_WRAP && h.readUInt32LE(0) === ZSTD_RECOVERY_MAGIC && pos + ZSTD_WRAP + h.readUInt32LE(4) <= end) {
        len = h.readUInt32LE(4);
        segs.add(pos + ZSTD_WRAP, len);
        pos += ZSTD_WRAP + len;
      }
    } else {
      const h = await read(pos, 16);
      const k = h.length === 16 ? h.readUInt16LE(14) : -1;
      if (k >= 0 && k <= GZIP_PIECE && h.equals(gzipPieceHead(k)) && pos + GZIP_WRAP + k <= end && (await read(pos + 16 + k, GZIP_END.length)).equals(GZIP_END)) {
        len = k;
        segs.add(pos + 16, k);
        pos += GZIP_WRAP + k;
      }
    }
    if (len >= 0) continue;
    // Not a wrapper: go on at the next one.
    let next = -1;
    for (let at = pos + 1; at < end && next < 0; at += COPY - sig.length) {
      const w = await read(at, Math.min(COPY, end - at));
      const i = w.indexOf(sig);
      if (i >= 0) next = at + i;
      if (w.length < COPY) break;
    }
    broken.push([pos, next < 0 ? end : next]);
    if (next < 0) break;
    pos = next;
  }
  const file: PositionalFile = {
    stat: async () => ({ size: segs.size }),
    async read(buffer, offset, length, position) {
      let done = 0;
      while (done < length && position + done < segs.size) {
        const i = segs.find(position + done);
        const into = position + done - segs.v[i]!;
        const k = Math.min(length - done, segs.n[i]! - into);
        const { bytesRead } = await fh.read(buffer, offset + done, k, segs.f[i]! + into);
        if (bytesRead === 0) break;
        done += bytesRead;
        if (bytesRead < k) break;
      }
      return { bytesRead: done };
    },
  };
  const fileOffset = (pos: number) => {
    if (segs.size === 0) return -1;
    const i = segs.find(pos);
    return segs.f[i]! + (pos - segs.v[i]!);
  };
  return { file, broken, fileOffset };
}

/** The bytes the tail must hold for the archive in [0, P) (to check it), and where it starts. */
export async function expectedTail(read: ReadAt, r: EmbeddedRegion): Promise<TailPlan & { at: number }> {
  const at = r.archiveLength + r.regionLength;
  return { ...(await tailPlan(read, r.archiveLength, r.container, at)), at };
}

/** A region's length with its padding (spec §10.1): in a tar, zeros up to a multiple of 512 of the file. */
export function paddedRegion(c: Container, archiveLength: number, unpadded: number): number {
  return unpadded + (c === 'tar' ? (512 - ((archiveLength + unpadded) % 512)) % 512 : 0);
}

/** Each packet's place in a region as written (spec §10.1), for checking it packet by packet. */
export function regionLayout(r: EmbeddedRegion, critical: number[], packetSize: number, recoveryCount: number): { kind: 'locator' | 'index' | 'recovery' | 'padding'; at: number; size: number; packet: number; index?: number }[] {
  const out: { kind: 'locator' | 'index' | 'recovery' | 'padding'; at: number; size: number; packet: number; index?: number }[] = [];
  let at = r.archiveLength;
  const add = (kind: 'locator' | 'index' | 'recovery', packet: number, index?: number) => {
    const size = wrappedSize(r.container, packet);
    out.push({ kind, at, size, packet, index });
    at += size;
  };
  add('locator', LOCATOR_PACKET);
  critical.forEach((n, i) => add('index', n, i));
  for (let i = 0; i < recoveryCount; i++) add('recovery', packetSize, i);
  critical.forEach((n, i) => add('index', n, i));
  const end = r.archiveLength + r.regionLength - wrappedSize(r.container, LOCATOR_PACKET);
  if (end > at) out.push({ kind: 'padding', at, size: end - at, packet: 0 });
  at = end;
  add('locator', LOCATOR_PACKET);
  return out;
}

export { unwrapAt };
