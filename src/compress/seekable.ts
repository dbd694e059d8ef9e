// zstd seekable format writer (FACTS §6, zstd contrib/seekable_format v0.1.0): the tar stream is cut
// into independent frames of `frameSize` uncompressed bytes, then one skippable frame (magic
// 0x184D2A5E) holds the seek table: per frame Compressed_Size u32, Decompressed_Size u32, Checksum
// u32; then Number_Of_Frames u32, Descriptor u8 (0x80: checksums present), Seekable_Magic 0x8F92EAB1.
// Every zstd decoder ignores the skippable frame and decodes the concatenated frames as one stream,
// so GNU tar, bsdtar, 7-Zip and `zstd -d` read the result as a plain .tar.zst (FACTS §6, tested).
//
// Frames are compressed in parallel on worker threads; each is compressed alone at the same level
// and written in order, so the bytes are the same whatever the thread count. At most `inFlight`
// frames exist at once, so memory stays flat (DESIGN §5).
//
// The checksum is free: every frame is written with zstd's own checksum flag, whose 4 trailing
// bytes are the low 32 bits of XXH64 of the frame's content: exactly the seek table's Checksum.
//
// Default frame size 4 MiB, measured on 128 MiB of /usr/share text (zstd -3 ratio 6.45):
// 1 MiB 5.25, 2 MiB 6.06, 4 MiB 6.28, 8 MiB 6.45; on binaries the spread is under 1%. Level 3's
// window is 2 MiB, so a frame starts with no history: below 4 MiB the ratio drops fast, above it
// little is gained while decoding one frame for random access (DESIGN §5: one small file from a
// 2 GiB archive in under 1% of a full extract) and the memory in flight grow with the frame.

import { availableParallelism } from 'node:os';
import { compressBound, compressorSpec, inlineFrameCompressor, zstdBackend, type CompressorSpec, type FrameCompressor, type ZstdBackendName } from './backend.js';
import { FramePool } from './pool.js';
import type { Encoder } from './types.js';
import { LimitError, PortarcError } from '../model/errors.js';

export const SEEK_TABLE_MAGIC = 0x184d2a5e;
export const SEEKABLE_MAGIC = 0x8f92eab1;
export const DEFAULT_FRAME_SIZE = 4 << 20;
/** The reference implementation's limit on a frame's uncompressed size. */
export const MAX_FRAME_SIZE = 1 << 30;
/** Uncompressed bytes allowed in flight (queued, being compressed, waiting to be written in order). */
const IN_FLIGHT_BUDGET = 48 << 20;

export interface SeekableOptions {
  /** zstd level, 1–19 (22 with ultra). Default 3, the zstd program's default. */
  level?: number;
  /**
   * Worker threads compressing frames. 0 compresses on the calling thread. Default: the machine's
   * available parallelism, at most 4: each thread costs ~10 MiB idle and ~30 MiB of RSS working
   * (measured: 256 MiB at level 3 peaked at 93 MiB RSS with 0 threads, 126 with 1, 150 with 2).
   */
  threads?: number;
  /** Uncompressed bytes per frame. Default 4 MiB; at most 1 GiB. */
  frameSize?: number;
  /** Force a zstd backend (see backend.ts). */
  backend?: ZstdBackendName | 'auto';
  /** Bytes to write after the last data frame, before the seek table (a skippable frame). */
  beforeTable?: () => Buffer | Promise<Buffer>;
  /**
   * `out` is done with a frame once its promise settles (the archive sinks: they copy or write it
   * before returning), so the frame's buffer can take a later frame. Off by default: a consumer
   * that keeps the chunks it is given must get fresh ones.
   */
  reuseOutput?: boolean;
}

/**
 * zstd threads by default: one core is left to the main thread, which scans, reads, writes the tar
 * stream and hashes it (measured on 2 cores: a second zstd thread made create slower, 1.28x against
 * 1.05x the zstd program, and costs a worker's ~10 MiB and two more frames in flight).
 */
export function defaultThreads(): number {
  return Math.max(1, Math.min(availableParallelism() - 1, 4));
}

interface Job {
  size: number;
  done: boolean;
  out?: Buffer;
  /** The output buffer the frame was compressed into, to reuse once the frame is written. */
  dst?: Buffer;
  error?: Error;
  wait: Promise<void>;
}

/** Compresses into the seekable format; output goes to `out`, in order, as frames complete. */
export class SeekableEncoder implements Encoder {
  readonly level: number;
  readonly threads: number;
  readonly frameSize: number;
  private spec: CompressorSpec;
  private pool: FramePool | undefined;
  private inline: FrameCompressor | undefined;
  private readonly inFlight: number;
  private cur: Buffer | undefined;
  private fill = 0;
  private spare: Buffer[] = [];
  /**
   * Output buffers (compressBound(frameSize) bytes) the threads compress frames into, reused: a
   * fresh buffer per frame, left for the GC, cost ~35 MiB of peak RSS (measured on the small set,
   * 2 threads: 183 MiB before, 148 after).
   */
  private spareOut: Buffer[] = [];
  private jobs: Job[] = [];
  private table = new SeekTableBuilder();
  private failed: Error | undefined;

  constructor(
    private out: (chunk: Buffer) => void | Promise<void>,
    private opts: SeekableOptions = {},
  ) {
    this.level = opts.level ?? 3;
    this.threads = opts.threads ?? defaultThreads();
    this.frameSize = opts.frameSize ?? DEFAULT_FRAME_SIZE;
    if (!Number.isInteger(this.frameSize) || this.frameSize < 1 || this.frameSize > MAX_FRAME_SIZE)
      throw new RangeError(`zstd frame size must be an integer from 1 to ${MAX_FRAME_SIZE}, not ${this.frameSize}`);
    if (!Number.isInteger(this.threads) || this.threads < 0) throw new RangeError(`threads must be a whole number, not ${this.threads}`);
    this.spec = compressorSpec(zstdBackend('compress', opts.backend));
    // Enough frames to keep every thread busy while the oldest waits to be written; no more than
    // the budget allows, but always at least one more than the threads.
    this.inFlight = this.threads === 0 ? 1 : Math.max(this.threads + 1, Math.min(2 * this.threads, Math.floor(IN_FLIGHT_BUDGET / this.frameSize)));
  }

  write(chunk: Buffer): void | Promise<void> {
    if (this.failed) throw this.failed;
    if (this.cur && this.fill + chunk.length < this.frameSize) {
      chunk.copy(this.cur, this.fill);
      this.fill += chunk.length;
      return;
    }
    return this.writeSlow(chunk);
  }

  private async writeSlow(chunk: Buffer): Promise<void> {
    for (let p = 0; p < chunk.length; ) {
      this.cur ??= this.spare.pop() ?? Buffer.allocUnsafeSlow(this.frameSize);
      const n = Math.min(this.frameSize - this.fill, chunk.length - p);
      chunk.copy(this.cur, this.fill, p, p + n);
      this.fill += n;
      p += n;
      if (this.fill === this.frameSize) await this.submit();
    }
  }

  async end(): Promise<void> {
    try {
      // Empty input still gets one (empty) frame, so the file begins with the zstd magic.
      if (this.fill > 0 || this.table.frames + this.jobs.length === 0) await this.submit(true);
      await this.flush(0);
      // A frame the caller adds after the data frames (the compressed-stream digest, digest.ts).
      if (this.opts.beforeTable) await this.out(await this.opts.beforeTable());
      await this.out(this.table.finish());
    } finally {
      this.destroy();
    }
  }

  destroy(): void {
    this.failed ??= new PortarcError('zstd encoder is closed');
    void this.pool?.close();
    this.pool = undefined;
    this.jobs = [];
    this.spare = [];
    this.spareOut = [];
    this.cur = undefined;
  }

  /** Hand the current frame to a thread, then write whatever is done, waiting if too much is in flight. */
  private async submit(last = false): Promise<void> {
    const size = this.fill;
    const src = this.cur ? (size === this.frameSize ? this.cur : this.cur.subarray(0, size)) : Buffer.alloc(0);
    this.cur = undefined;
    this.fill = 0;
    const job: Job = { size, done: false, wait: Promise.resolve() };
    // Threads start with the first full frame; an archive of one frame never starts any (the
    // compressor is the same code either way, so the bytes are too).
    if (this.threads === 0 || (last && !this.pool)) {
      this.inline ??= inlineFrameCompressor(this.spec);
      job.out = this.inline(src, this.level);
      job.done = true;
      if (src.length === this.frameSize) this.spare.push(src);
    } else {
      this.pool ??= new FramePool(this.spec, this.threads);
      const dst = this.opts.reuseOutput ? (this.spareOut.pop() ?? Buffer.allocUnsafeSlow(compressBound(this.frameSize))) : undefined;
      job.wait = this.pool.compress(src, this.level, dst).then(
        (r) => {
          job.out = r.out;
          job.dst = r.dst;
          job.done = true;
          if (r.src.length === this.frameSize && this.spare.length <= this.inFlight) this.spare.push(r.src);
        },
        (e: Error) => {
          job.error = e;
          job.done = true;
        },
      );
    }
    this.jobs.push(job);
    await this.flush(this.inFlight - 1);
  }

  /** Write finished frames in order; wait for the oldest while more than `keep` are in flight. */
  private async flush(keep: number): Promise<void> {
    while (this.jobs.length) {
      const head = this.jobs[0]!;
      if (!head.done) {
        if (this.jobs.length <= keep) return;
        await head.wait;
      }
      this.jobs.shift();
      if (head.error) throw (this.failed = head.error);
      const frame = head.out!;
      // The frame's own checksum (flag bit 2 of its descriptor) is the seek table's checksum.
      if (!(frame[4]! & 4)) throw (this.failed = new PortarcError('zstd frame was written without a checksum'));
      this.table.add(frame.length, head.size, frame.readUInt32LE(frame.length - 4));
      await this.out(frame);
      // Written (a sink is done with a chunk once its write returns): its buffer takes the next frame.
      if (head.dst && this.spareOut.length < this.inFlight) this.spareOut.push(head.dst);
    }
  }
}

/** Collects seek table entries (12 bytes a frame) and writes the skippable frame that holds them. */
export class SeekTableBuilder {
  private entries = new Uint32Array(3 * 64);
  frames = 0;

  add(compressedSize: number, decompressedSize: number, checksum: number): void {
    if (3 * this.frames === this.entries.length) {
      const bigger = new Uint32Array(this.entries.length * 2);
      bigger.set(this.entries);
      this.entries = bigger;
    }
    this.entries.set([compressedSize, decompressedSize, checksum], 3 * this.frames++);
  }

  finish(): Buffer {
    const n = this.frames;
    const size = 12 * n + 9;
    if (size > 0xffffffff) throw new LimitError(`too many zstd frames for one seek table (${n})`);
    const b = Buffer.allocUnsafe(8 + size);
    b.writeUInt32LE(SEEK_TABLE_MAGIC, 0);
    b.writeUInt32LE(size, 4);
    for (let i = 0; i < 3 * n; i++) b.writeUInt32LE(this.entries[i]!, 8 + 4 * i);
    b.writeUInt32LE(n, 8 + 12 * n);
    b[12 + 12 * n] = 0x80; // Descriptor: Checksum_Flag
    b.writeUInt32LE(SEEKABLE_MAGIC, 13 + 12 * n);
    return b;
  }
}
