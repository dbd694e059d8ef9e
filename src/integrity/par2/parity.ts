// Computing PAR2 recovery slices (spec/recovery.md §3, §8): R_e = Σ_j c_j^e · s_j for a range of
// exponents, in bounded memory, on worker threads.
//
// DESIGN: the work is (file bytes) × (recovery slices), so the file is read once and each byte of
// it is multiplied into every recovery slice while it is in cache. The slices are cut into
// columns: bytes [o, o + width) of every recovery slice are held at once (rows × width ≤ the
// budget), and the same bytes of the input slices are read a batch at a time into a shared input
// buffer (two of them: one is read while the workers multiply the other). Each worker owns some
// of the rows, so the threads never write the same memory. A finished column goes to `onColumn`
// (the writer puts it at its place in the volume file).
//
// The threads: the native kernel runs each batch off the JS thread on as many native threads as
// the machine has (no isolates: memory stays flat), while the JS thread reads the next batch and
// hashes the file (writer.ts). The JS kernel runs in one worker thread (each costs ~10 MiB of
// RSS, so more would break the 100 MiB bound) fed the same way through SharedArrayBuffers.

import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { PortarcError } from '../../model/errors.js';
import { workerExecArgv } from '../../model/worker-argv.js';
import { coefficient, inputLogs } from './gf16.js';
import { ADDON_PATH, GF16_KERNEL_SOURCE, gf16Kernel, MAX_COEFS } from './kernel.js';
import { nativeWanted } from '../../model/native.js';
import { readColumn, sliceCount, type PositionalFile } from './slices.js';

/** Bytes of input slices read per batch (two such buffers). */
const INPUT_BYTES = 2 * 1024 * 1024;
/** Narrowest column: narrower ones mean more, smaller reads. A multiple of 128 (the SIMD step). */
const MIN_COLUMN = 4096;
/** Below this much work (file bytes × recovery slices) starting a JS worker costs more than it saves. */
const INLINE_WORK = 512 * 1024 * 1024;
/** JS worker threads at most (see above). */
const JS_WORKERS = 1;

export interface ParityOptions {
  /** Bytes of recovery slice columns held at once. */
  budget: number;
  /**
   * Threads for the multiplications; 0 computes on the calling thread. Default: the machine's
   * parallelism with the native kernel; with the JS one, one worker thread for large jobs.
   */
  threads?: number;
}

export interface ParityLayout {
  /** Bytes of each recovery slice computed per pass over the file. */
  width: number;
  /** Recovery slices computed per pass (the rest in later passes). */
  rows: number;
  /** Input slices per read batch. */
  batch: number;
}

/**
 * How a job of `recovery` slices of `sliceSize` bytes over `count` input slices is cut up. A batch
 * is also at most MAX_COEFS / rows slices: each kernel call takes batch × rows constants, and the
 * native kernel's tables for them (168 bytes each) would otherwise grow with the recovery
 * percentage (1000 rows × 512 slices: 82 MiB), past the memory bound.
 */
export function parityLayout(sliceSize: number, count: number, recovery: number, budget: number): ParityLayout {
  const perRow = Math.floor(budget / recovery / 128) * 128;
  const width = Math.min(sliceSize, Math.max(MIN_COLUMN, perRow));
  const rows = Math.max(1, Math.min(recovery, Math.floor(budget / width)));
  const batch = Math.max(1, Math.min(count, Math.floor(INPUT_BYTES / width), Math.floor(MAX_COEFS / rows)));
  return { width, rows, batch };
}

/**
 * Compute the recovery slices of exponents first..first+n-1 of the first `length` bytes of `fh`,
 * column by column: onColumn(exponent index r (0-based from first), offset in the slice, bytes) is
 * called for every row of every column, in order of columns.
 */
export async function computeParity(
  fh: PositionalFile,
  length: number,
  sliceSize: number,
  first: number,
  n: number,
  onColumn: (row: number, offset: number, bytes: Uint8Array) => Promise<void>,
  options: ParityOptions,
): Promise<void> {
  const count = sliceCount(length, sliceSize);
  const logs = inputLogs(count);
  const { width, rows, batch } = parityLayout(sliceSize, count, n, options.budget);
  const kernel = gf16Kernel();
  const threads = options.threads ?? (kernel.mulAddAsync ? availableParallelism() : length * n < INLINE_WORK ? 0 : JS_WORKERS);
  const native = threads > 0 && kernel.mulAddAsync ? kernel.mulAddAsync : undefined;
  const pool = threads > 0 && !native ? new ParityPool(Math.min(threads, rows)) : undefined;
  try {
    const acc = new SharedArrayBuffer(rows * width);
    const inputs = [new SharedArrayBuffer(batch * width), new SharedArrayBuffer(batch * width)];
    for (let g0 = 0; g0 < n; g0 += rows) {
      const g = Math.min(rows, n - g0);
      for (let o = 0; o < sliceSize; o += width) {
        const w = Math.min(width, sliceSize - o);
        new Uint8Array(acc).fill(0);
        const dsts = Array.from({ length: g }, (_, r) => new Uint8Array(acc, r * width, w));
        let pending: Promise<void> | undefined;
        let which = 0;
        for (let j0 = 0; j0 < count; j0 += batch) {
          const input = inputs[which];
          which ^= 1;
          const slots = await readColumn(fh, length, sliceSize, Array.from({ length: Math.min(batch, count - j0) }, (_, s) => j0 + s), o, w, input, width);
          await pending;
          pending = undefined;
          if (slots.length === 0) continue;
          const coef = new Uint16Array(slots.length * g);
          slots.forEach(([, j], s) => {
            for (let r = 0; r < g; r++) coef[s * g + r] = coefficient(logs[j], first + g0 + r);
          });
          if (pool) {
            pending = pool.run(input, slots.map(([slot]) => slot * width), acc, width, w, g, coef);
          } else {
            const srcs = slots.map(([slot]) => new Uint8Array(input, slot * width, w));
            if (native) pending = native(dsts, srcs, coef, threads);
            else kernel.mulAdd(dsts, srcs, coef);
          }
        }
        await pending;
        for (let r = 0; r < g; r++) await onColumn(g0 + r, o, dsts[r]);
      }
    }
  } finally {
    await pool?.close();
  }
}

const WORKER_SOURCE = `${GF16_KERNEL_SOURCE}
const { parentPort, workerData } = require('node:worker_threads');
const { kernel, js } = makeGf16(require, workerData.addonPath, workerData.native);
const k = workerData.native ? kernel : js;
parentPort.on('message', ({ input, srcs, acc, stride, width, rows, coef }) => {
  try {
    const s = Array.from(srcs, (at) => new Uint8Array(input, at, width));
    const d = Array.from(rows, (r) => new Uint8Array(acc, r * stride, width));
    k.mulAdd(d, s, coef);
    parentPort.postMessage({ ok: true });
  } catch (e) {
    parentPort.postMessage({ error: String((e && e.message) || e) });
  }
});
`;

/** Worker threads sharing the rows of each batch; one batch at a time. */
class ParityPool {
  private workers: Worker[] = [];
  private failed: Error | undefined;
  private waiting: Array<{ resolve: () => void; reject: (e: Error) => void } | undefined> = [];

  constructor(threads: number) {
    for (let i = 0; i < threads; i++) {
      // A small young generation: each batch leaves a little garbage, and the default (16 MiB
      // semi-spaces) would let it grow to ~10 MiB of RSS per thread before a scavenge.
      const w = new Worker(WORKER_SOURCE, { eval: true, execArgv: workerExecArgv(), workerData: { addonPath: ADDON_PATH, native: nativeWanted() }, resourceLimits: { maxYoungGenerationSizeMb: 1 } });
      w.on('message', (m: { ok?: true; error?: string }) => {
        const p = this.waiting[i];
        this.waiting[i] = undefined;
        if (m.error !== undefined) p?.reject(new PortarcError(`parity worker: ${m.error}`));
        else p?.resolve();
      });
      w.on('error', (e) => this.fail(e));
      w.on('exit', (code) => {
        if (this.waiting[i]) this.fail(new PortarcError(`parity worker thread exited (code ${code})`));
      });
      this.workers.push(w);
    }
  }

  /** acc rows 0..g-1 ^= Σ_s coef[s·g + r] · input[srcs[s]..+width], the rows split between the workers. */
  run(input: SharedArrayBuffer, srcs: number[], acc: SharedArrayBuffer, stride: number, width: number, g: number, coef: Uint16Array): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    const jobs: Promise<void>[] = [];
    const per = Math.ceil(g / this.workers.length);
    this.workers.forEach((worker, i) => {
      const lo = i * per;
      const hi = Math.min(g, lo + per);
      if (lo >= hi) return;
      const mine = new Uint16Array(srcs.length * (hi - lo));
      for (let s = 0; s < srcs.length; s++) mine.set(coef.subarray(s * g + lo, s * g + hi), s * (hi - lo));
      const rows = Array.from({ length: hi - lo }, (_, r) => lo + r);
      jobs.push(
        new Promise<void>((resolve, reject) => {
          this.waiting[i] = { resolve, reject };
          worker.postMessage({ input, srcs, acc, stride, width, rows, coef: mine }, [mine.buffer]);
        }),
      );
    });
    return Promise.all(jobs).then(() => undefined);
  }

  private fail(e: Error): void {
    if (this.failed) return;
    this.failed = e instanceof PortarcError ? e : new PortarcError(`parity worker thread failed: ${e.message}`);
    for (const p of this.waiting) p?.reject(this.failed);
    this.waiting = [];
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.splice(0).map((w) => w.terminate()));
  }
}
