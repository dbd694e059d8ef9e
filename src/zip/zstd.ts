// Method 93, Zstandard, for zip members (APPNOTE 6.3.7), over the compress layer's backends
// (compress/backend.ts: built-in node:zlib zstd on Node >= 22.15, zstd-napi, or the decode-only
// fzstd). Spec: spec/zip-profile.md §2.5 (what is written) and §6.2 (where the data ends).
//
// Writing: one zstd frame per member (content checksum on), then an empty skippable frame (8
// bytes). Never the seekable format, never several data frames. Both rules are for libarchive
// (3.6.2 measured; its zstd code is unchanged since): its member decoder takes "a frame ended and
// the input in hand is used up" for the end of the member, unless the frame's last output exactly
// filled its 128 KiB buffer, in which case it asks for more input past the member's end and fails
// ("Truncated zstd file body") — every compressible file whose size is a multiple of 128 KiB. The
// trailing skippable frame is decoded in a call of its own that outputs nothing, which ends the
// member cleanly; a boundary between two data frames could end it early instead.
// Reading: a member is a sequence of frames (skippable frames allowed), as any zstd stream. The
// frames delimit themselves, so with flag bit 3 from a pipe the decoder finds the end: after a
// frame, the next 4 bytes are either another frame's magic or the end of the data (a data
// descriptor's "PK\x07\x08", or the next header).

import { createRequire } from 'node:module';
import type { Transform } from 'node:stream';
import * as zlib from 'node:zlib';
import { compressorSpec, inlineFrameCompressor, zstdBackend, type FrameCompressor, type ZstdBackend } from '../compress/backend.js';
import { FrameWalker, SKIPPABLE_MAGIC, SKIPPABLE_MASK, ZSTD_MAGIC } from '../compress/frames.js';
import { Xxh64 } from '../compress/xxh64.js';
import { STEP, transformOf, type Feed } from './decode.js';
import type { ZipMethod } from './methods.js';

const require = createRequire(import.meta.url);
const EMPTY = Buffer.alloc(0);
const DEFAULT_LEVEL = 3;
/** An empty skippable frame (magic 0x184D2A50, size 0), written after each member's frame. */
export const ZSTD_TRAILER = Buffer.from([0x50, 0x2a, 0x4d, 0x18, 0, 0, 0, 0]);

interface ZlibZstd {
  createZstdCompress(opts?: object): Transform;
  zstdDecompressSync(buf: Uint8Array, opts?: object): Buffer;
  constants: Record<string, number>;
}
const zz = zlib as unknown as ZlibZstd;

// zstdBackend() builds a new backend object (and, for zstd-napi, a new pool of decoder contexts) on
// every call: keep one per purpose and PORTARC_ZSTD_BACKEND value (tests switch it).
const backends = new Map<string, ZstdBackend>();
function backend(purpose: 'compress' | 'decompress'): ZstdBackend {
  const key = `${purpose}:${process.env['PORTARC_ZSTD_BACKEND'] ?? ''}`;
  let b = backends.get(key);
  if (!b) backends.set(key, (b = zstdBackend(purpose)));
  return b;
}

const frameCompressors = new Map<string, FrameCompressor>();
function frameCompressor(): FrameCompressor {
  const b = backend('compress');
  let c = frameCompressors.get(b.name);
  if (!c) frameCompressors.set(b.name, (c = inlineFrameCompressor(compressorSpec(b))));
  return c;
}

const isSkippable = (magic: number) => ((magic & SKIPPABLE_MASK) >>> 0) === SKIPPABLE_MAGIC;

/**
 * Decode one member's frames from `feed`. Known size (`findEnd` false): the feed ends with the
 * data, and anything after the last frame that is not a frame is an error. Unknown size: the
 * bytes after the last frame are given back. Returns the compressed bytes used.
 */
export async function* decodeMember(feed: Feed, findEnd: boolean): AsyncGenerator<Buffer, number> {
  const b = backend('decompress');
  let used = 0;
  let frames = 0;
  let pending: Buffer = EMPTY;
  /** At least n bytes in `pending`, unless the input ends first. */
  const fill = async (n: number) => {
    while (pending.length < n) {
      const more = await feed.next(STEP);
      if (!more.length) return;
      pending = pending.length ? Buffer.concat([pending, more]) : more;
    }
  };
  for (;;) {
    await fill(4);
    if (!pending.length) {
      if (!frames) throw new Error('the member holds no zstd frame');
      return used;
    }
    const magic = pending.length >= 4 ? pending.readUInt32LE(0) : -1;
    if (magic === ZSTD_MAGIC) {
      yield* decodeFrame(b, pending, feed, (end, rest) => {
        used += end;
        pending = rest;
      });
      frames++;
    } else if (magic >= 0 && isSkippable(magic)) {
      await fill(8);
      if (pending.length < 8) throw new Error('truncated zstd data: a skippable frame is cut short');
      let skip = 8 + pending.readUInt32LE(4);
      used += skip;
      while (skip > 0) {
        if (!pending.length) {
          pending = await feed.next(STEP);
          if (!pending.length) throw new Error('truncated zstd data: a skippable frame is cut short');
        }
        const n = Math.min(skip, pending.length);
        pending = pending.subarray(n);
        skip -= n;
      }
    } else {
      if (frames && findEnd) {
        feed.unread(pending);
        return used;
      }
      throw new Error(frames ? `${pending.length} bytes after the last zstd frame are not a zstd frame` : `not a zstd frame (magic ${pending.subarray(0, 4).toString('hex')})`);
    }
  }
}

/** One frame starting at `first[0]`: its output; `done(end, rest)` gets its length and what follows it. */
async function* decodeFrame(b: ZstdBackend, first: Buffer, feed: Feed, done: (length: number, rest: Buffer) => void): AsyncGenerator<Buffer> {
  const walker = new FrameWalker();
  const dec = b.frameDecoder();
  const hash = b.checksChecksums ? undefined : new Xxh64();
  let ok = false;
  try {
    let chunk = first;
    let length = 0;
    for (;;) {
      if (!chunk.length) {
        chunk = await feed.next(STEP);
        if (!chunk.length) throw new Error('truncated zstd data: the frame is cut short');
      }
      let end = -1;
      for (const piece of walker.split(chunk)) {
        for await (const out of dec.push(piece.data)) {
          hash?.update(out);
          yield out;
        }
        if (!piece.last) continue;
        for await (const out of dec.end()) {
          hash?.update(out);
          yield out;
        }
        if (hash && piece.checksum !== undefined && hash.low32() !== piece.checksum) {
          throw new Error(`zstd checksum mismatch (frame says 0x${piece.checksum.toString(16)}, content hashes to 0x${hash.low32().toString(16)})`);
        }
        // walker.offset is still where `chunk` starts: split() updates it only when it finishes.
        end = piece.offset + piece.data.length - walker.offset;
        break;
      }
      if (end >= 0) {
        ok = true;
        done(length + end, chunk.subarray(end));
        return;
      }
      length += chunk.length;
      chunk = EMPTY;
    }
  } finally {
    if (!ok) dec.destroy();
  }
}

/** One-shot decoding of a small member: throws when the output would exceed `max` bytes. */
function decodeSync(data: Buffer, max: number): Buffer {
  const b = backend('decompress');
  const parts: Buffer[] = [];
  let total = 0;
  const take = (out: Buffer) => {
    total += out.length;
    if (total > max) throw new RangeError(`zstd data decodes to more than ${max} bytes`);
    parts.push(out);
  };
  let pos = 0;
  let frames = 0;
  while (pos < data.length) {
    const magic = data.length - pos >= 4 ? data.readUInt32LE(pos) : -1;
    if (magic >= 0 && isSkippable(magic)) {
      if (data.length - pos < 8 || pos + 8 + data.readUInt32LE(pos + 4) > data.length) throw new Error('truncated zstd data: a skippable frame is cut short');
      pos += 8 + data.readUInt32LE(pos + 4);
      continue;
    }
    if (magic !== ZSTD_MAGIC) {
      throw new Error(frames ? `${data.length - pos} bytes after the last zstd frame are not a zstd frame` : `not a zstd frame (magic ${data.subarray(pos, pos + 4).toString('hex')})`);
    }
    const walker = new FrameWalker();
    let frame: Buffer | undefined;
    let checksum: number | undefined;
    for (const piece of walker.split(data.subarray(pos))) {
      if (piece.last) {
        frame = data.subarray(pos, pos + piece.offset + piece.data.length);
        checksum = piece.checksum;
        break;
      }
    }
    if (!frame) throw new Error('truncated zstd data: the frame is cut short');
    if (b.name === 'builtin') take(zz.zstdDecompressSync(frame, { maxOutputLength: Math.max(1, max - total + 1) }));
    else {
      // zstd-napi and fzstd decode synchronously (their push and end are plain iterables).
      const dec = b.frameDecoder();
      const hash = b.checksChecksums ? undefined : new Xxh64();
      try {
        for (const out of dec.push(frame) as Iterable<Buffer>) take(out), hash?.update(out);
        for (const out of dec.end() as Iterable<Buffer>) take(out), hash?.update(out);
      } catch (err) {
        dec.destroy();
        throw err;
      }
      if (hash && checksum !== undefined && hash.low32() !== checksum) {
        throw new Error(`zstd checksum mismatch (frame says 0x${checksum.toString(16)}, content hashes to 0x${hash.low32().toString(16)})`);
      }
    }
    pos += frame.length;
    frames++;
  }
  if (!frames) throw new Error('the member holds no zstd frame');
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts, total);
}

/** A stream compressor writing one frame, with its checksum, whatever the input size; then the trailer. */
function streamCompressor(level: number): Transform {
  const b = backend('compress');
  let t: Transform;
  if (b.name === 'builtin') {
    const C = zz.constants;
    t = zz.createZstdCompress({ params: { [C['ZSTD_c_compressionLevel']!]: level, [C['ZSTD_c_checksumFlag']!]: 1 } });
  } else {
    const { CompressStream } = require('zstd-napi') as { CompressStream: new (p: object) => Transform };
    t = new CompressStream({ compressionLevel: level, checksumFlag: true });
  }
  // Both are Transforms that end their frame in _flush: the trailer goes out right after it.
  const flush = t._flush.bind(t);
  t._flush = (cb) =>
    flush((err, data) => {
      if (err) return cb(err);
      if (data != null) t.push(data);
      cb(null, ZSTD_TRAILER);
    });
  return t;
}

export const zstdMethod: ZipMethod = {
  id: 93,
  name: 'zstd',
  versionNeeded: 63,
  compressError() {
    try {
      backend('compress');
      return undefined;
    } catch (err) {
      return `zip method zstd: ${(err as Error).message}`;
    }
  },
  compressor: (level) => streamCompressor(level ?? DEFAULT_LEVEL),
  compressSync: (data, level) => Buffer.concat([frameCompressor()(data, level ?? DEFAULT_LEVEL), ZSTD_TRAILER]),
  decompressor: () => transformOf((feed) => decodeMember(feed, true)),
  decompressSync: decodeSync,
  decode: decodeMember,
};
