// Reading a file as PAR2 input slices: fixed-size pieces, the last one padded with zeros, each
// with its MD5 and CRC32 (the IFSC packet's checksums). Spec: spec/recovery.md §2.3.

import type { FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { createHash } from 'node:crypto';
import { md5 } from './packets.js';

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
 * Read slices first..count-1 of the file in order, each in the same (zero-padded) buffer; `bytes`
 * is the file's length to honour (bytes past it read as zeros, as does a file cut short).
 * Returns how many bytes were really present.
 */
export async function readSlices(
  fh: FileHandle,
  length: number,
  sliceSize: number,
  onSlice: (index: number, slice: Buffer, words: Uint32Array) => void | Promise<void>,
): Promise<void> {
  const { bytes, words } = wordBuffer(sliceSize);
  const count = sliceCount(length, sliceSize);
  for (let j = 0; j < count; j++) {
    const want = Math.min(sliceSize, length - j * sliceSize);
    let got = 0;
    while (got < want) {
      const { bytesRead } = await fh.read(bytes, got, want - got, j * sliceSize + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    bytes.fill(0, got);
    await onSlice(j, bytes, words);
  }
}

/** Bytes read at once when only checksums are wanted: memory stays flat whatever the slice size. */
const PIECE = 1 << 20;

/**
 * Every slice's checksums (MD5 and CRC32 of the slice padded with zeros), in order, reading at
 * most PIECE bytes at a time (a 100 GB archive has ~100 MB slices). `onData` sees the bytes really
 * present, in order, with their offset; bytes past `length` or past the end of a file cut short
 * count as zeros, as readSlices() reads them.
 */
export async function sumSlices(
  fh: FileHandle,
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
export async function hashFile(fh: FileHandle, length: number, sliceSize: number): Promise<{ md5: Buffer; md5_16k: Buffer; slices: SliceSum[] }> {
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
