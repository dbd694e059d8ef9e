// Compression methods: store (0), deflate (8, raw deflate from node:zlib) and zstd (93, over the
// compress layer's zstd backends: zstd.ts) built in, and a registry through which more can be
// added without touching the readers and the writer. Spec: spec/zip-profile.md §2.5.

import { PassThrough, type Transform } from 'node:stream';
import * as zlib from 'node:zlib';
import type { Feed } from './decode.js';
import { zstdMethod } from './zstd.js';

export interface ZipMethod {
  /** APPNOTE 4.4.5 method number. */
  readonly id: number;
  readonly name: string;
  /** "Version needed to extract" for entries using it (before zip64's 45 is applied). */
  readonly versionNeeded: number;
  /** A stream that compresses what is written to it. */
  compressor(level?: number): Transform;
  /**
   * A stream that decompresses what is written to it. To read entries with a data descriptor
   * from a non-seekable stream, the decoder must stop by itself at the end of the compressed
   * data and report the input it consumed in `bytesWritten`, as node:zlib streams do.
   */
  decompressor(): Transform;
  /** Optional one-shot compression of a small buffer (avoids a stream per small file). */
  compressSync?(data: Buffer, level?: number): Buffer;
  /** Optional one-shot decompression of a small member; throws when the output would exceed `max`. */
  decompressSync?(data: Buffer, max: number): Buffer;
  /**
   * Optional pull decoder, which both readers prefer to `decompressor()`: it takes the compressed
   * data from `feed` and yields its output. With `findEnd` (flag bit 3 on a stream) it stops at the
   * end of the compressed data and gives back (`feed.unread`) what it read beyond; without, the
   * feed ends with the data. Returns the number of compressed bytes it used.
   */
  decode?(feed: Feed, findEnd: boolean): AsyncGenerator<Buffer, number>;
  /** Why this method cannot compress here (a missing backend), or undefined when it can. */
  compressError?(): string | undefined;
}

export const STORE = 0;
export const DEFLATE = 8;
/** APPNOTE 6.3.7; no versionNeeded is given there, libarchive writes 63. */
export const ZSTD = 93;

const store: ZipMethod = {
  id: STORE,
  name: 'store',
  versionNeeded: 10,
  compressor: () => new PassThrough(),
  decompressor: () => new PassThrough(),
  compressSync: (d) => d,
  decompressSync: (d) => d,
};

const deflate: ZipMethod = {
  id: DEFLATE,
  name: 'deflate',
  versionNeeded: 20,
  compressor: (level) => zlib.createDeflateRaw({ level: level ?? 6 }),
  decompressor: () => zlib.createInflateRaw(),
  compressSync: (d, level) => zlib.deflateRawSync(d, { level: level ?? 6 }),
  decompressSync: (d, max) => zlib.inflateRawSync(d, { maxOutputLength: Math.max(1, max) }),
};

const registry = new Map<number, ZipMethod>([
  [STORE, store],
  [DEFLATE, deflate],
  [ZSTD, zstdMethod],
]);

/** Add (or replace) a method, e.g. `registerZipMethod({ id: 12, name: 'bzip2', versionNeeded: 46, ... })`. */
export function registerZipMethod(method: ZipMethod): void {
  registry.set(method.id, method);
}

export function zipMethod(idOrName: number | string): ZipMethod | undefined {
  if (typeof idOrName === 'number') return registry.get(idOrName);
  for (const m of registry.values()) if (m.name === idOrName) return m;
  return undefined;
}

/** Worst-case deflate output for n input bytes (zlib's deflateBound, with room for small blocks). */
export function deflateBound(n: number): number {
  return n + Math.ceil(n / 4096) + Math.ceil(n / 16384) + Math.ceil(n / 33554432) + 64;
}

/** Members up to these sizes are decoded in one call instead of through a stream. */
export const ONE_SHOT = { compressed: 1 << 20, uncompressed: 16 << 20 };
