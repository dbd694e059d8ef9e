// Random access into a seekable .tar.zst (FACTS §6; DESIGN §2 random access): read the seek table from
// the file's tail, map an uncompressed offset to its frame, and decode a byte range by reading only
// the frames that hold it. Works on any file written in the seekable format (by portarc or by zstd's
// contrib tools, with or without checksums), not only portarc's.
// Every frame read is checked: it must decode (the native decoders also check the frame's own
// checksum), to the size the table states, and to the table's checksum when there is one. A bad frame
// is a CompressError that names its index and compressed offset.

import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { zstdBackend, type OutputRing, type ZstdBackend, type ZstdBackendName } from './backend.js';
import { CompressError } from './errors.js';
import { SKIPPABLE_MASK, SKIPPABLE_MAGIC, ZSTD_MAGIC } from './frames.js';
import { SEEK_TABLE_MAGIC, SEEKABLE_MAGIC } from './seekable.js';
import { ZSTD_DIGEST_MAGIC, ZSTD_DIGEST_SIZE } from './digest.js';
import { Xxh64 } from './xxh64.js';

/** Positioned reads: a file, an object store, a buffer. */
export interface RandomAccessReader {
  size(): number | Promise<number>;
  /** Exactly `length` bytes at `position` (fewer only past the end). */
  read(position: number, length: number): Promise<Buffer>;
}

/** Reads through `fh`; with `reuse`, reads of up to its size land in it (the caller is done with one before the next). */
export function fileReader(fh: FileHandle, reuse?: Buffer): RandomAccessReader {
  return {
    size: async () => (await fh.stat()).size,
    async read(position, length) {
      const buf = reuse && length <= reuse.length ? reuse.subarray(0, length) : Buffer.allocUnsafe(length);
      let got = 0;
      while (got < length) {
        const { bytesRead } = await fh.read(buf, got, length - got, position + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return got === length ? buf : buf.subarray(0, got);
    },
  };
}

/** The first `size` bytes of `r` as a reader of their own (an archive followed by embedded recovery data). */
export function prefixReader(r: RandomAccessReader, size: number): RandomAccessReader {
  return { size: () => size, read: (p, n) => r.read(p, Math.max(0, Math.min(n, size - p))) };
}

export function bufferReader(b: Buffer): RandomAccessReader {
  return { size: () => b.length, read: async (p, n) => b.subarray(p, p + n) };
}

export interface FrameInfo {
  index: number;
  compressedOffset: number;
  compressedSize: number;
  decompressedOffset: number;
  decompressedSize: number;
  /** Low 32 bits of XXH64 of the content, when the table has checksums. */
  checksum?: number;
}

export class SeekTable {
  /** Offsets of each frame's start, plus one past the last: n + 1 entries each. */
  private constructor(
    private cOff: Float64Array,
    private dOff: Float64Array,
    private sums: Uint32Array | undefined,
  ) {}

  get frames(): number {
    return this.cOff.length - 1;
  }
  get compressedSize(): number {
    return this.cOff[this.frames]!;
  }
  get decompressedSize(): number {
    return this.dOff[this.frames]!;
  }
  get hasChecksums(): boolean {
    return this.sums !== undefined;
  }

  frame(i: number): FrameInfo {
    if (!(i >= 0 && i < this.frames)) throw new RangeError(`no zstd frame ${i} (the table has ${this.frames})`);
    const f: FrameInfo = {
      index: i,
      compressedOffset: this.cOff[i]!,
      compressedSize: this.cOff[i + 1]! - this.cOff[i]!,
      decompressedOffset: this.dOff[i]!,
      decompressedSize: this.dOff[i + 1]! - this.dOff[i]!,
    };
    if (this.sums) f.checksum = this.sums[i];
    return f;
  }

  /** The frame holding uncompressed byte `offset`, where it starts, and the offset inside it. */
  locate(offset: number): { frame: number; compressedOffset: number; inFrameOffset: number } {
    if (!(offset >= 0 && offset < this.decompressedSize)) throw new RangeError(`offset ${offset} is outside the ${this.decompressedSize} uncompressed bytes`);
    let lo = 0;
    let hi = this.frames - 1;
    while (lo < hi) {
      // The last frame whose start is <= offset (empty frames are skipped by taking the last).
      const mid = (lo + hi + 1) >>> 1;
      if (this.dOff[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { frame: lo, compressedOffset: this.cOff[lo]!, inFrameOffset: offset - this.dOff[lo]! };
  }

  /**
   * Parse the seek table at the end of `r`. Undefined when the file does not end with the seekable
   * footer (a plain .tar.zst: read it as a stream); an error when it does but the table is damaged.
   */
  static async read(r: RandomAccessReader): Promise<SeekTable | undefined> {
    const size = await r.size();
    if (size < 17) return undefined;
    const foot = await r.read(size - 9, 9);
    if (foot.length < 9 || foot.readUInt32LE(5) !== SEEKABLE_MAGIC) return undefined;
    const n = foot.readUInt32LE(0);
    const desc = foot[4]!;
    const bad = (why: string, at: number) => new CompressError(`zstd seek table: ${why}`, { offset: at, filter: 'zstd' });
    if (desc & 0x7c) throw bad(`reserved bits set in the descriptor (0x${desc.toString(16)})`, size - 5);
    const entry = desc & 0x80 ? 12 : 8;
    const frameSize = n * entry + 9;
    const start = size - 8 - frameSize;
    if (start < 0) throw bad(`${n} frames do not fit in a ${size}-byte file`, size - 9);
    const t = await r.read(start, 8 + n * entry);
    if (((t.readUInt32LE(0) & SKIPPABLE_MASK) >>> 0) !== SKIPPABLE_MAGIC || t.readUInt32LE(0) !== SEEK_TABLE_MAGIC)
      throw bad(`no seek table frame (magic 0x184d2a5e) where the footer puts it`, start);
    if (t.readUInt32LE(4) !== frameSize) throw bad(`frame size ${t.readUInt32LE(4)} does not match ${n} entries`, start);
    const cOff = new Float64Array(n + 1);
    const dOff = new Float64Array(n + 1);
    const sums = entry === 12 ? new Uint32Array(n) : undefined;
    for (let i = 0, p = 8; i < n; i++, p += entry) {
      cOff[i + 1] = cOff[i]! + t.readUInt32LE(p);
      dOff[i + 1] = dOff[i]! + t.readUInt32LE(p + 4);
      if (sums) sums[i] = t.readUInt32LE(p + 8);
    }
    // portarc's compressed-stream digest frame may sit between the last data frame and the table.
    if (cOff[n] === start - ZSTD_DIGEST_SIZE && start >= ZSTD_DIGEST_SIZE) {
      const d = await r.read(start - ZSTD_DIGEST_SIZE, 8);
      if (d.length === 8 && d.readUInt32LE(0) === ZSTD_DIGEST_MAGIC && d.readUInt32LE(4) === ZSTD_DIGEST_SIZE - 8) return new SeekTable(cOff, dOff, sums);
    }
    if (cOff[n] !== start) {
      // The copy after embedded recovery data (spec/recovery.md §10): the table of the archive before it.
      const archive = await embeddedArchiveEnd(r, start, 8 + frameSize);
      if (archive !== undefined) return SeekTable.read(prefixReader(r, archive));
      throw bad(`its frames add up to ${cOff[n]} compressed bytes, but the table starts at ${start}`, start);
    }
    return new SeekTable(cOff, dOff, sums);
  }
}

/** The locator frame of embedded recovery data (spec/recovery.md §10.3): frame header, PAR2 packet header, 32-byte body. */
const LOCATOR_FRAME = 8 + 64 + 32;
const LOCATOR_TYPE = Buffer.from('PORTARC\0EmbedLoc', 'latin1');

/**
 * Where the archive ends when the seek table at `tableAt` (of `tableSize` bytes) is the copy that
 * follows embedded recovery data: the frame before it is the region's locator, intact (its MD5),
 * and says the region ends at the table and the tail is the table. Undefined otherwise.
 */
async function embeddedArchiveEnd(r: RandomAccessReader, tableAt: number, tableSize: number): Promise<number | undefined> {
  if (tableAt < LOCATOR_FRAME) return undefined;
  const f = await r.read(tableAt - LOCATOR_FRAME, LOCATOR_FRAME);
  if (f.length !== LOCATOR_FRAME || f.readUInt32LE(0) !== 0x184d2a5c || f.readUInt32LE(4) !== LOCATOR_FRAME - 8) return undefined;
  const p = f.subarray(8);
  if (p.toString('latin1', 0, 8) !== 'PAR2\0PKT' || !p.subarray(48, 64).equals(LOCATOR_TYPE)) return undefined;
  if (!createHash('md5').update(p.subarray(32)).digest().equals(p.subarray(16, 32))) return undefined;
  const archive = Number(p.readBigUInt64LE(64));
  const region = Number(p.readBigUInt64LE(72));
  const tail = Number(p.readBigUInt64LE(80));
  return archive + region === tableAt && tail === tableSize && archive < tableAt ? archive : undefined;
}

export interface RangeOptions {
  backend?: ZstdBackendName | 'auto';
}

/** Decode frame `i` whole and check it. */
export async function readFrame(r: RandomAccessReader, table: SeekTable, i: number, opts: RangeOptions = {}): Promise<Buffer> {
  return decodeFrame(r, table.frame(i), zstdBackend('decompress', opts.backend));
}

async function decodeFrame(r: RandomAccessReader, f: FrameInfo, backend: ZstdBackend): Promise<Buffer> {
  const fail = (why: string, cause?: unknown) =>
    new CompressError(`zstd frame ${f.index} at compressed offset ${f.compressedOffset}: ${why}`, {
      offset: f.compressedOffset,
      frame: f.index,
      filter: 'zstd',
      cause,
    });
  const src = await r.read(f.compressedOffset, f.compressedSize);
  if (src.length !== f.compressedSize) throw fail(`the file ends ${f.compressedSize - src.length} bytes early`);
  if (f.compressedSize < 4 || src.readUInt32LE(0) !== ZSTD_MAGIC) throw fail('not a zstd frame');
  const parts: Buffer[] = [];
  let got = 0;
  const take = (c: Buffer) => {
    got += c.length;
    if (got > f.decompressedSize) throw fail(`decodes to more than the ${f.decompressedSize} bytes the seek table states`);
    parts.push(c);
  };
  const dec = backend.frameDecoder();
  try {
    for await (const c of dec.push(src)) take(c);
    for await (const c of dec.end()) take(c);
  } catch (e) {
    dec.destroy();
    if (e instanceof CompressError) throw e;
    throw fail((e as Error).message, e);
  }
  if (got !== f.decompressedSize) throw fail(`decodes to ${got} bytes, the seek table says ${f.decompressedSize}`);
  const out = parts.length === 1 ? parts[0]! : Buffer.concat(parts, got);
  if (f.checksum !== undefined) {
    // A frame with its own checksum was already checked by a native decoder: compare the two
    // stored values. Otherwise hash the content.
    const own = backend.checksChecksums && f.compressedSize >= 9 && src[4]! & 4 ? src.readUInt32LE(src.length - 4) : undefined;
    const actual = own ?? new Xxh64().update(out).low32();
    if (actual !== f.checksum) throw fail(`checksum mismatch (seek table ${hex(f.checksum)}, ${own !== undefined ? 'frame' : 'content'} ${hex(actual)})`);
  }
  return out;
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

/** The frames that hold bytes of [start, end) of the uncompressed stream, in order (empty ones passed over). */
function* framesOf(table: SeekTable, start: number, end: number): Generator<FrameInfo> {
  if (!(start >= 0) || start >= end) return;
  for (let i = table.locate(start).frame; i < table.frames; i++) {
    const f = table.frame(i);
    if (f.decompressedOffset >= end) return;
    if (f.decompressedSize > 0) yield f;
  }
}

/**
 * Bytes [start, start + length) of the uncompressed stream (clipped to its end), reading and decoding
 * only the frames that hold them, one at a time.
 */
export async function* readRange(r: RandomAccessReader, table: SeekTable, start: number, length: number, opts: RangeOptions = {}): AsyncGenerator<Buffer> {
  const end = Math.min(start + length, table.decompressedSize);
  const backend = zstdBackend('decompress', opts.backend);
  for (const f of framesOf(table, start, end)) {
    const data = await decodeFrame(r, f, backend);
    const from = Math.max(0, start - f.decompressedOffset);
    const to = Math.min(f.decompressedSize, end - f.decompressedOffset);
    yield data.subarray(from, to);
  }
}

/** Compressed bytes streamRange asks its reader for at a time. */
export const STREAM_PIECE = 256 << 10;

/**
 * readRange as a stream: each frame is read and decoded a piece at a time, so the memory is one
 * decoder's (its window) and a piece, not a whole frame twice (read, then decoded). For a long
 * range read beside other work: verify reads a .tar.zst's manifest so while it reads the archive.
 * Each piece `r` returns is done with before the next read (it may reuse one buffer); with
 * `ring`, the output comes in its buffers (the consumer is done with a chunk before the one after
 * next). The frames' checksums are checked (by the decoder, or against the table), and their sizes.
 */
export async function* streamRange(r: RandomAccessReader, table: SeekTable, start: number, length: number, opts: RangeOptions & { ring?: OutputRing } = {}): AsyncGenerator<Buffer> {
  const end = Math.min(start + length, table.decompressedSize);
  const backend = zstdBackend('decompress', opts.backend);
  for (const f of framesOf(table, start, end)) {
    const frameEnd = f.decompressedOffset + f.decompressedSize;
    const fail = (why: string, cause?: unknown) => new CompressError(`zstd frame ${f.index} at compressed offset ${f.compressedOffset}: ${why}`, { offset: f.compressedOffset, frame: f.index, filter: 'zstd', cause });
    const hash = f.checksum !== undefined && !backend.checksChecksums ? new Xxh64() : undefined;
    const dec = backend.frameDecoder(opts.ring ?? false);
    /** Decompressed offset of the next byte out of the decoder. */
    let at = f.decompressedOffset;
    const clip = (c: Buffer): Buffer | undefined => {
      hash?.update(c);
      const from = at;
      at += c.length;
      if (at > frameEnd) throw fail(`decodes to more than the ${f.decompressedSize} bytes the seek table states`);
      const lo = Math.max(from, start);
      const hi = Math.min(at, end);
      return lo < hi ? c.subarray(lo - from, hi - from) : undefined;
    };
    try {
      // Past the range's end the rest of the frame is not decoded (its checksum then goes unchecked).
      for (let p = 0; p < f.compressedSize && at < end; p += STREAM_PIECE) {
        const src = await r.read(f.compressedOffset + p, Math.min(STREAM_PIECE, f.compressedSize - p));
        if (src.length === 0) throw fail('the file ends before the frame does');
        for await (const c of dec.push(src)) {
          const out = clip(c);
          if (out) yield out;
        }
      }
      if (at < end) {
        for await (const c of dec.end()) {
          const out = clip(c);
          if (out) yield out;
        }
        if (at !== frameEnd) throw fail(`decodes to ${at - f.decompressedOffset} bytes, the seek table says ${f.decompressedSize}`);
        if (hash && hash.low32() !== f.checksum) throw fail(`checksum mismatch (seek table ${hex(f.checksum!)}, content ${hex(hash.low32())})`);
      } else dec.destroy();
    } catch (e) {
      dec.destroy();
      if (e instanceof CompressError) throw e;
      throw fail((e as Error).message, e);
    }
  }
}
