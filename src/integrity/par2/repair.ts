// Find the damaged slices of a file against its PAR2 set, and rebuild them: Reed–Solomon
// decoding over GF(2^16). Spec: spec/recovery.md §6.
//
// With k damaged input slices and k recovery slices of exponents e_1..e_k, the damaged slices
// s_d solve  R_i = sum_j c_j^e_i s_j  for i = 1..k: with M[i][d] = c_d^e_i and A = M^-1,
//   s_d = sum_i A[d][i] R_i  +  sum_{j good} (sum_i A[d][i] c_j^e_i) s_j.
// DESIGN: memory is bounded by the budget, not by the slice size (a 100 GB archive has ~100 MB
// slices; `par2 create -s` any size): the damaged slices are rebuilt a column [o, o + width) at a
// time (as parity.ts computes recovery slices), the file read once per group of damaged slices
// that fits the budget, and their checksums are computed as the columns come.

import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { crc32 } from 'node:zlib';
import { IoError } from '../../model/errors.js';
import { coefficient, gfMul, inputLogs, invert } from './gf16.js';
import { gf16Kernel, MAX_COEFS } from './kernel.js';
import type { RecoverySet } from './reader.js';
import { readColumn, sliceCount, sumSlices, wordBuffer, type PositionalFile } from './slices.js';

export interface SliceCheck {
  /** Indexes of the slices that do not match their checksums (or lie past the end of a short file). */
  damaged: number[];
  /** The file's length now, and the length the set describes. */
  length: number;
  expected: number;
}

/** Compare every slice of the file with the set's checksums. */
export async function checkSlices(fh: PositionalFile, set: RecoverySet): Promise<SliceCheck> {
  const length = (await fh.stat()).size;
  const expected = set.desc.length;
  const damaged: number[] = [];
  await sumSlices(fh, Math.min(length, expected), set.sliceSize, (j, s) => {
    if (s.crc !== set.slices[j].crc || !s.md5.equals(set.slices[j].md5)) damaged.push(j);
  });
  for (let j = sliceCount(Math.min(length, expected), set.sliceSize); j < sliceCount(expected, set.sliceSize); j++) damaged.push(j);
  // A last slice cut short was read padded with zeros: its checksum says whether it was intact.
  if (length < expected && length % set.sliceSize !== 0) {
    const last = Math.floor(length / set.sliceSize);
    if (!damaged.includes(last)) damaged.push(last);
    damaged.sort((a, b) => a - b);
  }
  return { damaged, length, expected };
}

/** Choose which recovery slices to use and invert the matrix (another choice if one is singular). */
function solve(set: RecoverySet, damaged: number[], logs: Uint16Array): { exps: number[]; recov: RecoverySet['recovery']; a: Uint16Array[] } | undefined {
  const k = damaged.length;
  for (let start = 0; start + k <= set.recovery.length; start++) {
    const recov = set.recovery.slice(start, start + k);
    const m = recov.map((r) => damaged.map((d) => coefficient(logs[d], r.exponent)));
    const a = invert(m);
    if (a) return { exps: recov.map((r) => r.exponent), recov, a };
  }
  return undefined;
}

/** Narrowest column when the budget allows it: narrower ones mean more, smaller reads. A multiple of 128 (the SIMD step). */
const MIN_COLUMN = 4096;
/** Bytes read and written at once when copying the intact slices. */
const COPY_PIECE = 1 << 20;

export interface RepairLayout {
  /** Bytes of each damaged slice rebuilt per column. */
  width: number;
  /** Damaged slices rebuilt per pass over the file. */
  group: number;
  /** Slices (intact or recovery) read per batch, into one of two buffers. */
  batch: number;
}

/**
 * How rebuilding k of `count` slices of `sliceSize` bytes within `budget` bytes is cut up: half
 * the budget holds the columns being rebuilt (group × width), a quarter each of the two read
 * buffers (batch × width); the slice size only caps the width. The per-pass table of the intact
 * slices' coefficients (2 bytes × good × group) is kept within another quarter.
 */
export function repairLayout(sliceSize: number, count: number, k: number, budget: number): RepairLayout {
  const quarter = Math.max(128, Math.floor(budget / 4 / 128) * 128);
  const perRow = Math.floor((2 * quarter) / Math.max(1, k) / 128) * 128;
  const width = Math.min(sliceSize, quarter, Math.max(Math.min(MIN_COLUMN, quarter), perRow));
  const good = Math.max(1, count - k);
  const group = Math.max(1, Math.min(k, Math.floor((2 * quarter) / width), Math.floor(quarter / 2 / good), MAX_COEFS));
  const batch = Math.max(1, Math.min(Math.max(count, k), Math.floor(quarter / width), Math.floor(MAX_COEFS / group)));
  return { width, group, batch };
}

/**
 * Rebuild the damaged slices and write the whole repaired file to `out` (length set.desc.length).
 * Returns false when the matrix could not be inverted with the slices at hand, a recovery slice
 * is cut short, or a rebuilt slice does not match its checksums (then `out` holds no good file).
 *
 * Memory is bounded by `budget`, whatever the slice size: the damaged slices are rebuilt a column
 * [o, o + width) at a time, as parity.ts computes recovery slices; the same columns of the intact
 * slices and of the recovery slices are read in batches, and each finished column is hashed
 * (MD5 and CRC-32, running) and written at its place.
 */
export async function rebuild(fh: PositionalFile, set: RecoverySet, check: SliceCheck, out: FileHandle, budget: number): Promise<boolean> {
  const { sliceSize } = set;
  const expected = set.desc.length;
  const present = Math.min(check.length, expected);
  const count = sliceCount(expected, sliceSize);
  const logs = inputLogs(count);
  const damaged = check.damaged;
  const isDamaged = new Uint8Array(count);
  for (const d of damaged) isDamaged[d] = 1;
  const s = solve(set, damaged, logs);
  if (!s) return false;
  const k = damaged.length;
  const good: number[] = [];
  for (let j = 0; j < count; j++) if (!isDamaged[j]) good.push(j);
  const { width, group, batch } = repairLayout(sliceSize, count, k, budget);
  // Allocated once and zeroed per column: fresh buffers would wait for the GC.
  const inputs = [wordBuffer(batch * width), wordBuffer(batch * width)];
  await copyIntact(fh, out, good, sliceSize, expected, inputs[0].bytes);
  if (k === 0) return true; // a file that only grew: the copy is all
  const acc = wordBuffer(Math.min(group, k) * width);
  const kernel = gf16Kernel();
  const threads = availableParallelism();
  const recovFiles = new Map<string, FileHandle>();
  const col = new Uint16Array(k);
  let pending: Promise<void> | undefined;
  try {
    for (let g0 = 0; g0 < k; g0 += group) {
      const n = Math.min(group, k - g0);
      // Each intact slice's share of each damaged slice of this pass: sum_i A[d][i] c_j^e_i.
      const goodCoef = new Uint16Array(good.length * n);
      good.forEach((j, t) => {
        for (let i = 0; i < k; i++) col[i] = coefficient(logs[j], s.exps[i]);
        for (let d = 0; d < n; d++) {
          const row = s.a[g0 + d];
          let f = 0;
          for (let i = 0; i < k; i++) f ^= gfMul(row[i], col[i]);
          goodCoef[t * n + d] = f;
        }
      });
      const md5s = Array.from({ length: n }, () => createHash('md5'));
      const crcs = new Array<number>(n).fill(0);
      for (let o = 0; o < sliceSize; o += width) {
        const w = Math.min(width, sliceSize - o);
        acc.words.fill(0);
        const dsts = Array.from({ length: n }, (_, d) => new Uint8Array(acc.bytes.buffer, d * width, w));
        let which = 0;
        // The batch just read is multiplied off the JS thread (native kernel) while the next is read.
        const multiply = async (input: ArrayBuffer, slots: number[], coef: Uint16Array): Promise<void> => {
          await pending;
          pending = undefined;
          if (slots.length === 0) return;
          const srcs = slots.map((slot) => new Uint8Array(input, slot * width, w));
          if (kernel.mulAddAsync) pending = kernel.mulAddAsync(dsts, srcs, coef, threads);
          else kernel.mulAdd(dsts, srcs, coef);
        };
        for (let b0 = 0; b0 < good.length; b0 += batch) {
          const input = inputs[which].bytes.buffer as ArrayBuffer;
          which ^= 1;
          const slots = await readColumn(fh, present, sliceSize, good.slice(b0, b0 + batch), o, w, input, width);
          const coef = new Uint16Array(slots.length * n);
          slots.forEach(([slot], t) => coef.set(goodCoef.subarray((b0 + slot) * n, (b0 + slot + 1) * n), t * n));
          await multiply(input, slots.map(([slot]) => slot), coef);
        }
        for (let i0 = 0; i0 < k; i0 += batch) {
          const m = Math.min(batch, k - i0);
          const input = inputs[which].bytes.buffer as ArrayBuffer;
          which ^= 1;
          if (!(await readRecovery(s.recov.slice(i0, i0 + m), recovFiles, o, w, input, width))) return false;
          const coef = new Uint16Array(m * n);
          for (let t = 0; t < m; t++) for (let d = 0; d < n; d++) coef[t * n + d] = s.a[g0 + d][i0 + t];
          await multiply(input, Array.from({ length: m }, (_, t) => t), coef);
        }
        await pending;
        pending = undefined;
        for (let d = 0; d < n; d++) {
          // The whole padded slice is hashed (as the set's checksums are); only bytes before the end are written.
          md5s[d].update(dsts[d]);
          crcs[d] = crc32(dsts[d], crcs[d]);
          const at = damaged[g0 + d] * sliceSize + o;
          if (at < expected) await writeAll(out, acc.bytes.subarray(d * width, d * width + Math.min(w, expected - at)), at);
        }
      }
      for (let d = 0; d < n; d++) {
        const want = set.slices[damaged[g0 + d]];
        if (crcs[d] >>> 0 !== want.crc || !md5s[d].digest().equals(want.md5)) return false;
      }
    }
    return true;
  } finally {
    await pending?.catch(() => undefined); // the kernel may still be writing to `acc`
    for (const f of recovFiles.values()) await f.close();
  }
}

/** Copy the intact slices to `out` in one sequential pass, a piece of `buf` at a time. */
async function copyIntact(fh: PositionalFile, out: FileHandle, good: number[], sliceSize: number, expected: number, buf: Buffer): Promise<void> {
  const piece = buf.subarray(0, Math.min(buf.length, COPY_PIECE));
  for (let t = 0; t < good.length; ) {
    // A run of adjacent intact slices is one range.
    let u = t + 1;
    while (u < good.length && good[u] === good[u - 1] + 1) u++;
    const end = Math.min((good[u - 1] + 1) * sliceSize, expected);
    for (let at = good[t] * sliceSize; at < end; ) {
      const want = Math.min(piece.length, end - at);
      let got = 0;
      while (got < want) {
        const { bytesRead } = await fh.read(piece, got, want - got, at + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      // An intact slice is present in full (checkSlices): a short read means the file changed meanwhile.
      if (got < want) throw new IoError('the archive got shorter while it was being repaired: nothing was written; repair it again', { offset: at + got });
      await writeAll(out, piece.subarray(0, want), at);
      at += want;
    }
    t = u;
  }
}

/** Read bytes [o, o + w) of each recovery slice into `input` (the t-th at t × stride); false if one is cut short. */
async function readRecovery(recov: RecoverySet['recovery'], files: Map<string, FileHandle>, o: number, w: number, input: ArrayBuffer, stride: number): Promise<boolean> {
  for (const rs of recov) if (!rs.handle && !files.has(rs.file)) files.set(rs.file, await open(rs.file, 'r'));
  const got = await Promise.all(
    recov.map(async (rs, t) => {
      const piece = Buffer.from(input, t * stride, w);
      const rf: PositionalFile = rs.handle ?? files.get(rs.file)!;
      let n = 0;
      while (n < w) {
        const { bytesRead } = await rf.read(piece, n, w - n, rs.at + o + n);
        if (bytesRead === 0) break;
        n += bytesRead;
      }
      return n;
    }),
  );
  return got.every((n) => n === w);
}

async function writeAll(fh: FileHandle, b: Buffer, at: number): Promise<void> {
  let done = 0;
  while (done < b.length) done += (await fh.write(b, done, b.length - done, at + done)).bytesWritten;
}
