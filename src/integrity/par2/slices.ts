// Reading a file as PAR2 input slices: fixed-size pieces, the last one padded with zeros, each
// with its MD5 and CRC32 (the IFSC packet's checksums). Spec: spec/recovery.md §2.3.

import { crc32 } from 'node:zlib';
import { createHash } from 'node:crypto';
import { md5 } from './packets.js';

/**
 * What the PAR2 code reads its input through: a FileHandle, or a view of part of a file (the
 * archive before an embedded recovery region, or the region's packets: embedded.ts).
 */
export interface PositionalFile {
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  stat(): Promise<{ size: number }>;
}

/** Slices at most: par2cmdline accepts up to 32768; fewer keeps the matrix work small. */
export const MAX_SLICES = 32768;
/** Slices aimed at: fine enough that a burst costs little beyond its own size, few enough to be fast. */
const TARGET_SLICES = 1000;
const MIN_SLICE = 512;

/** The slice size for a file: a multiple of 4 (PAR2), at least 512 bytes, about TARGET_SLICES slices. */
export function chooseSliceSize(length: number): number {
  const s = Math.max(MIN_SLICE, Math.ceil(length / TARGET_SLICES));
  return (s + 3) & ~3;
}

export function sliceCount(length: number, sliceSize: number): number {
  return Math.ceil(length / sliceSize);
}

/** A zeroed buffer of its own memory (aligned), also seen as 32-bit words (size: a multiple of 4). */
export function wordBuffer(size: number): { bytes: Buffer; words: Uint32Array } {
  const ab = new ArrayBuffer(size);
  return { bytes: Buffer.from(ab), words: new Uint32Array(ab) };
}

export interface SliceSum {
  md5: Buffer;
  crc: number;
}

export function sliceSum(slice: Buffer): SliceSum {
  return { md5: md5(slice), crc: crc32(slice) >>> 0 };
}

/**
 * Read bytes [o, o + w) of each of the input slices `slices` into `input` (the s-th at s ×
 * stride); bytes past `length` or past the end of a file cut short are zeros. Returns
 * [s, slice index] of the pieces that are not all zeros: a slice of zeros adds nothing to any
 * product, which makes sparse or padded archives cheap. Used a column at a time by parity.ts
 * and repair.ts: memory is the column's, whatever the slice size.
 */
export async function readColumn(
  fh: PositionalFile,
  length: number,
  sliceSize: number,
  slices: readonly number[],
  o: number,
  w: number,
  input: ArrayBufferLike,
  stride: number,
): Promise<[number, number][]> {
  const pieces = slices.map((_, s) => Buffer.from(input, s * stride, w));
  await Promise.all(
    pieces.map(async (piece, s) => {
      const at = slices[s] * sliceSize + o;
      const want = Math.max(0, Math.min(w, length - at));
      let got = 0;
      while (got < want) {
        const { bytesRead } = await fh.read(piece, got, want - got, at + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      piece.fill(0, got);
    }),
  );
  const out: [number, number][] = [];
  pieces.forEach((p, s) => {
    if (!isZero(p)) out.push([s, slices[s]]);
  });
  return out;
}

/** Bytes read at once when only checksums are wanted: memory stays flat whatever the slice size. */
const PIECE = 1 << 20;

/**
 * Every slice's checksums (MD5 and CRC32 of the slice padded with zeros), in order, reading at
 * most PIECE bytes at a time (a 100 GB archive has ~100 MB slices). `onData` sees the bytes really
 * present, in order, with their offset; bytes past `length` or past the end of a file cut short
 * count as zeros (PAR2 pads the last slice with zeros).
 */
export async function sumSlices(
  fh: PositionalFile,
  length: number,
  sliceSize: number,
  onSum: (index: number, sum: SliceSum) => void,
  onData?: (bytes: Buffer, at: number) => void,
): Promise<void> {
  const buf = Buffer.allocUnsafe(Math.min(sliceSize, PIECE));
  let present = length; // lowered if the file turns out shorter
  const count = sliceCount(length, sliceSize);
  for (let j = 0; j < count; j++) {
    const start = j * sliceSize;
    const hash = createHash('md5');
    let crc = 0;
    for (let done = 0; done < sliceSize; ) {
      const n = Math.min(buf.length, sliceSize - done);
      const want = Math.max(0, Math.min(n, present - start - done));
      let got = 0;
      while (got < want) {
        const { bytesRead } = await fh.read(buf, got, want - got, start + done + got);
        if (bytesRead === 0) {
          present = start + done + got;
          break;
        }
        got += bytesRead;
      }
      if (got) onData?.(buf.subarray(0, got), start + done);
      buf.fill(0, got, n);
      const piece = buf.subarray(0, n);
      hash.update(piece);
      crc = crc32(piece, crc);
      done += n;
    }
    onSum(j, { md5: hash.digest(), crc: crc >>> 0 });
  }
}

/** The whole-file hashes a File Description packet holds, and every slice's checksums. */
export async function hashFile(fh: PositionalFile, length: number, sliceSize: number): Promise<{ md5: Buffer; md5_16k: Buffer; slices: SliceSum[] }> {
  const whole = createHash('md5');
  const first = createHash('md5');
  const slices: SliceSum[] = [];
  await sumSlices(
    fh,
    length,
    sliceSize,
    (_j, sum) => slices.push(sum),
    (bytes, at) => {
      whole.update(bytes);
      if (at < 16384) first.update(bytes.subarray(0, 16384 - at));
    },
  );
  return { md5: whole.digest(), md5_16k: first.digest(), slices };
}

let zeros = Buffer.alloc(0);
/** A slice of zeros adds nothing to any recovery slice: skipping it makes sparse or padded archives cheap. */
export function isZero(slice: Buffer): boolean {
  if (zeros.length !== slice.length) zeros = Buffer.alloc(slice.length);
  return slice.equals(zeros);
}
