// Find the damaged slices of a file against its PAR2 set, and rebuild them: Reed–Solomon
// decoding over GF(2^16). Spec: spec/recovery.md §6.
//
// With k damaged input slices and k recovery slices of exponents e_1..e_k, the damaged slices
// s_d solve  R_i = sum_j c_j^e_i s_j  for i = 1..k: with M[i][d] = c_d^e_i and A = M^-1,
//   s_d = sum_i A[d][i] R_i  +  sum_{j good} (sum_i A[d][i] c_j^e_i) s_j.
// The file is read once per group of damaged slices that fits the memory budget; recovery slices
// are read one at a time from the parity files.

import { open, type FileHandle } from 'node:fs/promises';
import { coefficient, gfMul, inputLogs, invert } from './gf16.js';
import { gf16Kernel } from './kernel.js';
import type { RecoverySet } from './reader.js';
import { isZero, readSlices, sliceCount, sliceSum, sumSlices, wordBuffer } from './slices.js';

export interface SliceCheck {
  /** Indexes of the slices that do not match their checksums (or lie past the end of a short file). */
  damaged: number[];
  /** The file's length now, and the length the set describes. */
  length: number;
  expected: number;
}

/** Compare every slice of the file with the set's checksums. */
export async function checkSlices(fh: FileHandle, set: RecoverySet): Promise<SliceCheck> {
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

/**
 * Rebuild the damaged slices and write the whole repaired file to `out` (length set.desc.length).
 * Returns false when the matrix could not be inverted with the slices at hand.
 */
export async function rebuild(fh: FileHandle, set: RecoverySet, check: SliceCheck, out: FileHandle, budget: number): Promise<boolean> {
  const { sliceSize } = set;
  const expected = set.desc.length;
  const count = sliceCount(expected, sliceSize);
  const logs = inputLogs(count);
  const damaged = check.damaged;
  const isDamaged = new Uint8Array(count);
  for (const d of damaged) isDamaged[d] = 1;
  const s = solve(set, damaged, logs);
  if (!s) return false;
  const k = damaged.length;
  const group = Math.max(1, Math.floor(budget / sliceSize));
  const recovFiles = new Map<string, FileHandle>();
  try {
    const col = new Array<number>(k);
    // Allocated once and zeroed between passes: fresh buffers per pass would wait for the GC.
    const acc = Array.from({ length: Math.min(group, k) }, () => wordBuffer(sliceSize));
    const r = wordBuffer(sliceSize);
    const kernel = gf16Kernel();
    const coef = new Uint16Array(Math.min(group, k));
    // One pass at least: with nothing damaged (a file that only grew) it copies the good slices.
    for (let g0 = 0; g0 === 0 || g0 < k; g0 += group) {
      const n = Math.min(group, k - g0);
      for (const a of acc) a.words.fill(0);
      const dsts = acc.slice(0, n).map((a) => a.bytes);
      const cs = coef.subarray(0, n);
      // Good slices: their share of each damaged slice; the first pass also copies them to `out`.
      await readSlices(fh, Math.min(check.length, expected), sliceSize, async (j, slice) => {
        if (isDamaged[j]) return;
        if (g0 === 0) await writeAll(out, slice.subarray(0, Math.min(sliceSize, expected - j * sliceSize)), j * sliceSize);
        if (isZero(slice)) return;
        for (let i = 0; i < k; i++) col[i] = coefficient(logs[j], s.exps[i]);
        for (let d = 0; d < n; d++) {
          const row = s.a[g0 + d];
          let f = 0;
          for (let i = 0; i < k; i++) f ^= gfMul(row[i], col[i]);
          cs[d] = f;
        }
        kernel.mulAdd(dsts, [slice], cs);
      });
      // Recovery slices, one at a time.
      for (let i = 0; i < k; i++) {
        const rs = s.recov[i];
        let rf = recovFiles.get(rs.file);
        if (!rf) recovFiles.set(rs.file, (rf = await open(rs.file, 'r')));
        let got = 0;
        while (got < sliceSize) {
          const { bytesRead } = await rf.read(r.bytes, got, sliceSize - got, rs.at + got);
          if (bytesRead === 0) break;
          got += bytesRead;
        }
        if (got !== sliceSize) return false;
        for (let d = 0; d < n; d++) cs[d] = s.a[g0 + d][i];
        kernel.mulAdd(dsts, [r.bytes], cs);
      }
      for (let d = 0; d < n; d++) {
        const j = damaged[g0 + d];
        const sum = sliceSum(acc[d].bytes);
        if (sum.crc !== set.slices[j].crc || !sum.md5.equals(set.slices[j].md5)) return false;
        await writeAll(out, acc[d].bytes.subarray(0, Math.min(sliceSize, expected - j * sliceSize)), j * sliceSize);
      }
    }
    return true;
  } finally {
    for (const f of recovFiles.values()) await f.close();
  }
}

async function writeAll(fh: FileHandle, b: Buffer, at: number): Promise<void> {
  let done = 0;
  while (done < b.length) done += (await fh.write(b, done, b.length - done, at + done)).bytesWritten;
}
