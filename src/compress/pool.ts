// A small pool of worker threads that compress zstd frames (seekable.ts). Each job is one frame:
// its input buffer is transferred to a worker (no copy) and comes back with the compressed frame, so
// the writer can reuse it (fresh memory costs ~300 MB/s of page faults here: deps/REPORT.md).
// Workers start as work arrives, and are ref'd only while they have some, so a finished (or
// forgotten) pool never keeps the process alive, and a busy one does.

import { Worker } from 'node:worker_threads';
import { FRAME_COMPRESSOR_SOURCE, type CompressorSpec } from './backend.js';
import { PortarcError } from '../model/errors.js';
import { workerExecArgv } from '../model/worker-argv.js';

const WORKER_SOURCE = `${FRAME_COMPRESSOR_SOURCE}
const { parentPort, workerData } = require('node:worker_threads');
const compress = makeFrameCompressor(require, workerData);
parentPort.on('message', ({ src, level, dst }) => {
  try {
    const into = dst ? Buffer.from(dst.buffer, dst.byteOffset, dst.byteLength) : undefined;
    let out = compress(src, level, into);
    // Compressed into the caller's buffer: hand it back with the frame's length.
    if (into && out.buffer === into.buffer) return parentPort.postMessage({ length: out.length, src, dst }, [src.buffer, dst.buffer]);
    // Transfer only an ArrayBuffer that holds exactly the frame and is ours: small results may be in
    // Node's shared (untransferable) pool, larger ones a view on a bigger buffer. Copy those.
    if (out.length < 65536 || out.byteOffset !== 0 || out.buffer.byteLength !== out.length) out = new Uint8Array(out);
    parentPort.postMessage({ out, src, dst }, dst ? [out.buffer, src.buffer, dst.buffer] : [out.buffer, src.buffer]);
  } catch (e) {
    parentPort.postMessage({ error: String((e && e.message) || e), src, dst }, dst ? [src.buffer, dst.buffer] : [src.buffer]);
  }
});
`;

/** A compressed frame, the input buffer back, and the output buffer given (the frame may be a view on it). */
export interface FrameResult {
  out: Buffer;
  src: Buffer;
  dst?: Buffer;
}

interface Job {
  src: Buffer;
  dst?: Buffer;
  level: number;
  resolve: (r: FrameResult) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  job: Job | undefined;
}

export class FramePool {
  private slots: Slot[] = [];
  private queue: Job[] = [];
  private failed: Error | undefined;

  constructor(
    private spec: CompressorSpec,
    private threads: number,
  ) {}

  /** Start one more worker (they start as work arrives, up to `threads`). */
  private spawn(): Slot {
    const worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: workerExecArgv(), workerData: this.spec });
    worker.unref();
    const slot: Slot = { worker, job: undefined };
    worker.on('message', (m: { out?: Uint8Array; length?: number; src: Uint8Array; dst?: Uint8Array; error?: string }) => {
      const job = slot.job!;
      slot.job = undefined;
      const src = Buffer.from(m.src.buffer, m.src.byteOffset, m.src.byteLength);
      const dst = m.dst && Buffer.from(m.dst.buffer, m.dst.byteOffset, m.dst.byteLength);
      if (m.error !== undefined) job.reject(new PortarcError(`zstd compression failed: ${m.error}`));
      else if (m.length !== undefined) job.resolve({ out: dst!.subarray(0, m.length), src, dst });
      else job.resolve({ out: Buffer.from(m.out!.buffer, m.out!.byteOffset, m.out!.byteLength), src, dst });
      this.next(slot);
    });
    worker.on('error', (e) => this.fail(e));
    worker.on('exit', (code) => {
      if (code !== 0 || slot.job) this.fail(new PortarcError(`zstd worker thread exited (code ${code})`));
    });
    this.slots.push(slot);
    return slot;
  }

  /**
   * Compress one frame. `src` is transferred away: use the `src` that comes back. `dst`, a buffer of
   * its own ArrayBuffer, is transferred too and comes back with the frame in it when the backend
   * can compress into it (zstd-napi).
   */
  compress(src: Buffer, level: number, dst?: Buffer): Promise<FrameResult> {
    return new Promise((resolve, reject) => {
      if (this.failed) return reject(this.failed);
      this.queue.push({ src, dst, level, resolve, reject });
      const idle = this.slots.find((s) => !s.job) ?? (this.slots.length < this.threads ? this.spawn() : undefined);
      if (idle) this.next(idle);
    });
  }

  private next(slot: Slot): void {
    // A worker being stopped (close()) stays referenced until it has exited: see close().
    if (!this.slots.includes(slot)) return;
    const job = this.queue.shift();
    if (!job) {
      slot.worker.unref();
      return;
    }
    slot.job = job;
    slot.worker.ref();
    // A Buffer may be a view on a larger ArrayBuffer: transfer only what is exactly ours.
    const src = job.src.byteOffset === 0 && job.src.buffer.byteLength === job.src.length ? job.src : new Uint8Array(job.src);
    const dst = job.dst && job.dst.byteOffset === 0 && job.dst.buffer.byteLength === job.dst.length ? job.dst : undefined;
    slot.worker.postMessage({ src, level: job.level, dst }, dst ? [src.buffer as ArrayBuffer, dst.buffer as ArrayBuffer] : [src.buffer as ArrayBuffer]);
  }

  private fail(e: Error): void {
    if (this.failed) return;
    this.failed = e;
    for (const s of this.slots) s.job?.reject(e), (s.job = undefined);
    for (const j of this.queue.splice(0)) j.reject(e);
    void this.close();
  }

  /** Stop the workers. Pending jobs are rejected. */
  async close(): Promise<void> {
    const slots = this.slots.splice(0);
    if (!this.failed) this.failed = new PortarcError('zstd worker pool closed');
    for (const s of slots) s.job?.reject(this.failed);
    for (const j of this.queue.splice(0)) j.reject(this.failed);
    // Referenced while they stop: an idle (unreferenced) worker lets the event loop end before its
    // exit, and terminate()'s promise would never settle (the process ends with exit 13).
    for (const s of slots) s.worker.ref();
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }
}
