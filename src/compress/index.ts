// The compression layer's surface (DESIGN §1: gzip and zstd stream filters, format sniffing by magic
// bytes, seekable framing). It knows bytes, not entries: the api layer wraps the tar byte stream
// with it on the way out (`compressingSink`) and on the way in (`decompressAuto`).

import { ArchiveError } from '../model/errors.js';
import { gzipDigestMember, zstdDigestFrame } from './digest.js';
import { HashRing, type HashMode } from '../integrity/hash-ring.js';
import { gunzip, gzipEncoder } from './gzip.js';
import { SeekableEncoder, type SeekableOptions } from './seekable.js';
import { peek, SNIFF_BYTES, sniff, unsupportedFormat } from './sniff.js';
import type { Encoder, Filter } from './types.js';
import { zstdDecompress } from './zstd.js';
import { zstdSalvage, type ZstdSalvage } from './salvage.js';
import { zstdBackend, type ZstdBackendName } from './backend.js';

export type { Encoder, Filter } from './types.js';
export { CompressError } from './errors.js';
export { peek, sniff, unsupportedFormat, SNIFF_BYTES } from './sniff.js';
export { zstdBackend, zstdBackends, type ZstdBackend, type ZstdBackendName, type ZstdBackendStatus } from './backend.js';
export { DEFAULT_FRAME_SIZE, MAX_FRAME_SIZE, SeekableEncoder, SeekTableBuilder, defaultThreads, type SeekableOptions } from './seekable.js';
export { SeekTable, bufferReader, fileReader, prefixReader, readFrame, readRange, type FrameInfo, type RandomAccessReader, type RangeOptions } from './seektable.js';
export { zstdDecompress } from './zstd.js';
export { describeGap, zstdSalvage, type FrameGap, type ZstdSalvage } from './salvage.js';
export { gunzip } from './gzip.js';
export { Xxh64 } from './xxh64.js';
export { GZIP_DIGEST_SIZE, ZSTD_DIGEST_MAGIC, ZSTD_DIGEST_SIZE, gzipDigestMember, zstdDigestFrame } from './digest.js';

export const FILTERS: readonly Filter[] = ['none', 'gzip', 'zstd'];

export interface CompressOptions extends SeekableOptions {
  /** gzip 1–9 (default 6); zstd 1–19 (default 3). */
  level?: number;
  /** End the stream with the compressed-stream digest (digest.ts; spec/manifest.md §7.1). */
  digest?: boolean;
  /** Where that digest is computed (integrity/hash-ring.ts). */
  hashing?: HashMode;
}

export interface DecompressOptions {
  /** zstd backend to decode with (default: the best available; see zstdBackends()). */
  backend?: ZstdBackendName | 'auto';
  /** The consumer is done with a chunk before it asks for the one after next (zstd reuses buffers). */
  reuseOutput?: boolean;
  /**
   * Go on past damaged zstd frames (salvage.ts), recording the gaps here. gzip cannot: one deflate
   * stream has no place to start again.
   */
  salvage?: ZstdSalvage;
}

/** An encoder for `filter` that hands its output to `out` (see Encoder). */
export function encoder(filter: Filter, out: (chunk: Buffer) => void | Promise<void>, opts: CompressOptions = {}): Encoder {
  switch (filter) {
    case 'none':
      return { write: out, end: async () => undefined, destroy: () => undefined };
    case 'gzip':
      return gzipEncoder(out, opts.level ?? 6);
    case 'zstd':
      return new SeekableEncoder(out, opts);
  }
}

/** The output side of `create`: a sink that compresses into `downstream` (structurally an OpenSink). */
export interface SinkLike {
  write(chunk: Buffer): void | Promise<void>;
  close(): Promise<void>;
  abort(): Promise<void>;
}

/**
 * Wrap a sink: what is written to the result reaches `downstream` compressed. `close()` flushes the
 * compressor (and the seek table) and then closes `downstream`; `abort()` stops the worker threads
 * and aborts `downstream`. With 'none', `downstream` itself is returned.
 */
export function compressingSink(filter: Filter, downstream: SinkLike, opts: CompressOptions = {}): SinkLike {
  if (filter === 'none') return downstream;
  // The compressed-stream digest is computed off the main thread, as the others (hash-ring.ts).
  // One digest of one stream: a store of a few ids.
  const ring = opts.digest ? new HashRing(opts.hashing, 8) : undefined;
  const take = (from: number, to: number) => ring!.update(0, from, to);
  const out = (c: Buffer) => {
    const fed = ring?.feed(c, take);
    return fed ? fed.then(() => downstream.write(c)) : downstream.write(c);
  };
  const enc = encoder(filter, out, ring && filter === 'zstd' ? { ...opts, beforeTable: async () => zstdDigestFrame(await ring.result(0, true)) } : opts);
  return {
    write: (chunk) => enc.write(chunk),
    async close() {
      try {
        await enc.end();
        if (ring && filter === 'gzip') await downstream.write(gzipDigestMember(await ring.result(0)));
      } finally {
        await ring?.close();
      }
      await downstream.close();
    },
    async abort() {
      enc.destroy();
      await ring?.close();
      await downstream.abort();
    },
  };
}

/** Pull form: `compressor('zstd', { threads: 2 })(bytes)` yields the compressed stream. */
export function compressor(filter: Filter, opts: CompressOptions = {}): (src: AsyncIterable<Buffer | Uint8Array>) => AsyncGenerator<Buffer> {
  return async function* (src) {
    const ready: Buffer[] = [];
    const enc = encoder(filter, (c) => void ready.push(c), opts);
    try {
      for await (const c of src) {
        await enc.write(Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength));
        yield* ready.splice(0);
      }
      await enc.end();
      yield* ready.splice(0);
    } finally {
      enc.destroy();
    }
  };
}

/** Pull form of the decoders. */
export function decompressor(filter: Filter, opts: DecompressOptions = {}): (src: AsyncIterable<Buffer | Uint8Array>) => AsyncIterable<Buffer> {
  switch (filter) {
    case 'none':
      return (src) => asBuffers(src);
    case 'gzip':
      return (src) => gunzip(src);
    case 'zstd':
      return (src) => (opts.salvage ? zstdSalvage(src, opts.salvage, opts) : zstdDecompress(src, opts));
  }
}

async function* asBuffers(src: AsyncIterable<Buffer | Uint8Array>): AsyncGenerator<Buffer> {
  for await (const c of src) yield Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
}

/**
 * Sniff the filter of a stream without losing bytes: `bytes` is the whole stream, still compressed.
 * `unsupported` names a compression format portarc does not read (xz, bzip2...), if it is one.
 */
export async function detect(source: AsyncIterable<Buffer | Uint8Array>): Promise<{ filter: Filter; bytes: AsyncIterable<Buffer>; unsupported?: string }> {
  const { head, rest } = await peek(source, SNIFF_BYTES);
  const filter = sniff(head);
  const unsupported = filter === 'none' ? unsupportedFormat(head) : undefined;
  return unsupported ? { filter, bytes: rest, unsupported } : { filter, bytes: rest };
}

/**
 * The input side of `extract`/`list`: the decompressed bytes of `source`, whatever its filter.
 * Synchronous to call (the sniffing happens on first read), so `list()` can stay synchronous.
 * `onFilter` is told the filter once it is known. A format portarc cannot read is an ArchiveError.
 */
export async function* decompressAuto(
  source: AsyncIterable<Buffer | Uint8Array>,
  opts: DecompressOptions & { onFilter?: (filter: Filter) => void } = {},
): AsyncGenerator<Buffer> {
  const { filter, bytes, unsupported } = await detect(source);
  if (unsupported) throw new ArchiveError(`the archive is ${unsupported}-compressed; portarc reads plain, gzip and zstd archives`, { offset: 0 });
  opts.onFilter?.(filter);
  yield* decompressor(filter, opts)(bytes);
}

/**
 * Whether `filter`'s decoder is done with an input chunk once it asks for the next, so that a
 * source reusing its buffers (src/io/source.ts) needs no copies: zstd-napi consumes its input in
 * the call, and node:zlib (gzip, built-in zstd) is driven one chunk at a time, each push ending
 * when zlib has consumed it (ZlibDriver). fzstd may keep chunks. Copies are garbage V8 frees late:
 * 1 MiB a chunk of the archive.
 */
export function decoderTakesReusedInput(filter: Filter, backend?: ZstdBackendName | 'auto'): boolean {
  return filter !== 'zstd' || zstdBackend('decompress', backend).name !== 'fzstd';
}

/** The filter a file name asks for: .tar.gz/.tgz → gzip, .tar.zst/.tzst → zstd, else none. */
export function filterForPath(name: string): Filter {
  const n = name.toLowerCase();
  if (n.endsWith('.gz') || n.endsWith('.tgz')) return 'gzip';
  if (n.endsWith('.zst') || n.endsWith('.tzst') || n.endsWith('.zstd')) return 'zstd';
  return 'none';
}
