// Which zstd implementation does the work (DESIGN §7, deps/REPORT.md §5):
// 1. `builtin`: node:zlib zstd, present from Node 22.15 (detected by feature, not version);
// 2. `zstd-napi`: optional native dependency, same speed on older Node (compiles at install),
//    first for decoding when present (DECODE_ORDER: flat memory);
// 3. `fzstd`: pure-JS decoder (~127 MB/s), so extraction works everywhere; it cannot compress and
//    does not check frame checksums (zstd.ts and seektable.ts check them with xxh64.ts).
// PORTARC_ZSTD_BACKEND=builtin|zstd-napi|fzstd (or an option) forces one, for tests and diagnostics.
// Frame compression is one JS source, run both inline and in the worker threads (pool.ts), so the
// output is the same bytes whatever the thread count.

import { createRequire } from 'node:module';
import * as zlib from 'node:zlib';
import { Decompress } from 'fzstd';
import { ZLIB_CHUNK, ZlibDriver } from './zlibstream.js';
import { PortarcError, UsageError } from '../model/errors.js';

export type ZstdBackendName = 'builtin' | 'zstd-napi' | 'fzstd';
const NAMES: readonly ZstdBackendName[] = ['builtin', 'zstd-napi', 'fzstd'];

/** Decodes the bytes of exactly one zstd frame, pushed in order. */
export interface FrameDecoder {
  push(data: Buffer): Iterable<Buffer> | AsyncIterable<Buffer>;
  /** All of the frame was pushed: the rest of its output. */
  end(): Iterable<Buffer> | AsyncIterable<Buffer>;
  /** Give up on the frame (after an error or an early stop). */
  destroy(): void;
}

export interface ZstdBackend {
  readonly name: ZstdBackendName;
  /** libzstd version for the native backends. */
  readonly zstdVersion: string | undefined;
  readonly canCompress: boolean;
  /** The decoder itself rejects a frame whose checksum does not match. */
  readonly checksChecksums: boolean;
  /**
   * `reuse`: the consumer is done with an output chunk before it asks for the one after next, so
   * big outputs may come from a few reused buffers instead of a fresh one each (garbage that
   * V8 collects late: tens of MiB of RSS on a 1 GiB extract). `true` takes the backend's own
   * buffers, shared by the frames of one reader in turn; a reader that decodes beside another
   * brings an OutputRing of its own.
   */
  frameDecoder(reuse?: boolean | OutputRing): FrameDecoder;
}

/** Output buffers of the native stream decoders. */
const OUT = 256 * 1024;
/** Reused output buffers: the chunk yielded, the one before it, and room to spare. */
const OUT_RING = 4;

/** The reused output buffers of one reader's frames, decoded one at a time (see frameDecoder). */
export class OutputRing {
  private readonly bufs: Buffer[] = [];
  private next = 0;
  take(): Buffer {
    this.next = (this.next + 1) % OUT_RING;
    return (this.bufs[this.next] ??= Buffer.allocUnsafe(OUT));
  }
}

/** What runs a frame compressor, in this thread or in a worker. */
export interface CompressorSpec {
  backend: 'builtin' | 'zstd-napi';
  /** Absolute path of zstd-napi's binding, for `require` in a worker. */
  napiBinding?: string;
}

// ---- the backends -------------------------------------------------------------------------------

interface ZlibZstd {
  createZstdDecompress(opts?: { chunkSize?: number }): import('node:stream').Transform;
  zstdCompressSync(buf: Uint8Array, opts?: object): Buffer;
}

interface NapiBinding {
  DCtx: new () => {
    decompressStream(dst: Uint8Array, src: Uint8Array): [number, number, number];
    reset(directive: number): void;
  };
  ResetDirective: { sessionOnly: number };
  versionString(): string;
}

const require = createRequire(import.meta.url);
const zz = zlib as unknown as Partial<ZlibZstd>;
const hasBuiltin = typeof zz.createZstdDecompress === 'function' && typeof zz.zstdCompressSync === 'function';

let napi: { binding: NapiBinding; path: string } | undefined;
let napiError: string | undefined;
function loadNapi(): { binding: NapiBinding; path: string } | undefined {
  if (napi || napiError) return napi;
  try {
    const path = require.resolve('zstd-napi/binding.js');
    napi = { binding: require(path) as NapiBinding, path };
  } catch (e) {
    napiError = (e as Error).message.split('\n')[0];
  }
  return napi;
}

function builtinBackend(): ZstdBackend {
  return {
    name: 'builtin',
    zstdVersion: process.versions['zstd'],
    canCompress: true,
    checksChecksums: true,
    frameDecoder() {
      return new ZlibDriver(zz.createZstdDecompress!({ chunkSize: ZLIB_CHUNK }));
    },
  };
}

function napiBackend(b: NapiBinding): ZstdBackend {
  const spare: InstanceType<NapiBinding['DCtx']>[] = [];
  // The reused output buffers, shared by the frames in turn (one frame is decoded at a time).
  const shared = new OutputRing();
  const fresh = (reuse: boolean | OutputRing) => (reuse === false ? Buffer.allocUnsafe(OUT) : (reuse === true ? shared : reuse).take());
  return {
    name: 'zstd-napi',
    zstdVersion: b.versionString(),
    canCompress: true,
    checksChecksums: true,
    frameDecoder(reuse: boolean | OutputRing = false): FrameDecoder {
      let dctx: InstanceType<NapiBinding['DCtx']> | undefined = spare.pop() ?? new b.DCtx();
      let complete = false; // ZSTD_decompressStream returned 0: frame decoded and flushed
      let out = fresh(reuse);
      const release = (clean: boolean) => {
        if (!dctx) return;
        if (!clean) dctx.reset(b.ResetDirective.sessionOnly);
        if (spare.length < 4) spare.push(dctx);
        dctx = undefined;
      };
      return {
        *push(src: Buffer) {
          for (;;) {
            if (complete) throw new Error('data after the end of the frame');
            const [ret, produced, consumed] = dctx!.decompressStream(out, src);
            complete = ret === 0;
            src = src.subarray(consumed);
            if (produced) {
              // Hand a big result over as is; copy a small one and keep the buffer.
              if (produced > OUT / 2) {
                yield out.subarray(0, produced);
                out = fresh(reuse);
              } else yield Buffer.from(out.subarray(0, produced));
            }
            // Done with this input: the frame ended, or all input is in and the output was not full
            // (a full output may hide more; asking again after the end would start a new frame).
            if (complete ? src.length === 0 : src.length === 0 && produced < out.length) return;
          }
        },
        *end() {
          if (!complete) throw new Error('frame data ends before the frame does');
          release(true);
        },
        destroy: () => release(false),
      };
    },
  };
}

function fzstdBackend(): ZstdBackend {
  return {
    name: 'fzstd',
    zstdVersion: undefined,
    canCompress: false,
    checksChecksums: false,
    frameDecoder(): FrameDecoder {
      let ready: Buffer[] = [];
      const d = new Decompress((chunk) => {
        if (chunk.length) ready.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      });
      // fzstd decodes everything it is given at once; feed it slices sized so that one push yields
      // at most a few MiB, however compressible the data (a 4-byte RLE block is 128 KiB of output):
      // start at 1 KiB (<= 32 MiB out), grow while the output stays small, shrink when it is not.
      let step = 1024;
      const take = () => {
        const r = ready;
        ready = [];
        return r;
      };
      return {
        *push(src: Buffer) {
          for (let p = 0; p < src.length; ) {
            const n = Math.min(step, src.length - p);
            d.push(src.subarray(p, p + n));
            p += n;
            const got = take();
            let bytes = 0;
            for (const c of got) bytes += c.length;
            if (bytes > 4 << 20) step = Math.max(256, step >> 2);
            else if (bytes < 1 << 20 && n === step) step = Math.min(1 << 20, step * 2);
            yield* got;
          }
        },
        *end() {
          d.push(new Uint8Array(0), true);
          yield* take();
        },
        destroy() {
          ready = [];
        },
      };
    },
  };
}

// ---- choosing -----------------------------------------------------------------------------------

function wanted(name: string | undefined): ZstdBackendName | undefined {
  const w = name ?? process.env['PORTARC_ZSTD_BACKEND'];
  if (!w || w === 'auto') return undefined;
  if (!(NAMES as readonly string[]).includes(w)) throw new UsageError(`unknown zstd backend "${w}" (expected one of ${NAMES.join(', ')})`);
  return w as ZstdBackendName;
}

function make(name: ZstdBackendName): ZstdBackend | undefined {
  if (name === 'builtin') return hasBuiltin ? builtinBackend() : undefined;
  if (name === 'zstd-napi') {
    const n = loadNapi();
    return n ? napiBackend(n.binding) : undefined;
  }
  return fzstdBackend();
}

/**
 * Decoding prefers zstd-napi when it is installed: its output comes from a few reused buffers,
 * while node:zlib allocates a fresh 256 KiB buffer per output chunk, garbage that V8 frees late
 * (measured on a 1 GiB extract, Node 24: 82 MiB peak RSS against 107 MiB). Compression keeps
 * NAMES' order, so the bytes written do not depend on whether the optional package is there.
 */
const DECODE_ORDER: readonly ZstdBackendName[] = ['zstd-napi', 'builtin', 'fzstd'];

const NEED_COMPRESSOR =
  'zstd compression needs Node >= 22.15 (built-in zstd) or the optional package zstd-napi ' +
  '(`npm install zstd-napi`; it compiles at install, so it needs python3, make and a C++ compiler)';

/**
 * The backend for decompression (`compress: false`) or compression. `name` (or the environment
 * variable PORTARC_ZSTD_BACKEND) forces one; an unavailable forced backend is an error.
 */
export function zstdBackend(purpose: 'compress' | 'decompress', name?: ZstdBackendName | 'auto'): ZstdBackend {
  let forced = wanted(name);
  // The environment variable forcing the decode-only fzstd must not stop `create` from working.
  if (name === undefined && forced === 'fzstd' && purpose === 'compress') forced = undefined;
  if (forced) {
    const b = make(forced);
    if (!b) throw new PortarcError(`zstd backend "${forced}" is not available here: ${forced === 'builtin' ? `Node ${process.version} has no built-in zstd (needs >= 22.15)` : napiError}`, {}, 'PORTARC_UNSUPPORTED');
    if (purpose === 'compress' && !b.canCompress) throw new PortarcError(`zstd backend "${forced}" cannot compress; ${NEED_COMPRESSOR}`, {}, 'PORTARC_UNSUPPORTED');
    return b;
  }
  for (const n of purpose === 'decompress' ? DECODE_ORDER : NAMES) {
    const b = make(n);
    if (b && (purpose === 'decompress' || b.canCompress)) return b;
  }
  throw new PortarcError(NEED_COMPRESSOR, {}, 'PORTARC_UNSUPPORTED');
}

export interface ZstdBackendStatus {
  name: ZstdBackendName;
  available: boolean;
  compress: boolean;
  decompress: boolean;
  zstdVersion?: string;
  /** Why it is not available. */
  reason?: string;
}

/** Every backend and whether it works here, for `portarc --version` and diagnostics. */
export function zstdBackends(): ZstdBackendStatus[] {
  return NAMES.map((name) => {
    const b = make(name);
    if (!b) {
      const reason = name === 'builtin' ? `Node ${process.version} has no built-in zstd (needs >= 22.15)` : napiError ?? 'not installed';
      return { name, available: false, compress: false, decompress: false, reason };
    }
    return { name, available: true, compress: b.canCompress, decompress: true, ...(b.zstdVersion ? { zstdVersion: b.zstdVersion } : {}) };
  });
}

/** The spec a worker needs to compress as `backend` does. */
export function compressorSpec(backend: ZstdBackend): CompressorSpec {
  if (backend.name === 'builtin') return { backend: 'builtin' };
  if (backend.name === 'zstd-napi') return { backend: 'zstd-napi', napiBinding: loadNapi()!.path };
  throw new PortarcError(NEED_COMPRESSOR, {}, 'PORTARC_UNSUPPORTED');
}

// ---- frame compression: one source for this thread and the workers ----------------------------

/**
 * `makeFrameCompressor(require, spec)` returns `(src, level) => frame`: one whole zstd frame with the
 * content size and a checksum (the seek table copies that checksum: it is the low 32 bits of XXH64
 * of the content, exactly what the seekable format stores). Plain JS, as it is also the body of the
 * worker threads (a worker cannot load this TypeScript under the test runner).
 */
export const FRAME_COMPRESSOR_SOURCE = String.raw`
function makeFrameCompressor(require, spec) {
  // ZSTD_COMPRESSBOUND
  const bound = (n) => n + (n >>> 8) + (n < 131072 ? (131072 - n) >>> 11 : 0);
  if (spec.backend === 'builtin') {
    const zlib = require('node:zlib');
    const C = zlib.constants;
    return (src, level) => {
      const out = zlib.zstdCompressSync(src, {
        params: { [C.ZSTD_c_compressionLevel]: level, [C.ZSTD_c_checksumFlag]: 1 },
        // An output buffer that holds the whole frame lets zstd take its single-pass path, the one
        // ZSTD_compress2 (zstd-napi) takes: both backends then write the same bytes.
        chunkSize: Math.max(64, bound(src.length)),
      });
      // out is a view on that bound-sized buffer: shrink it now (transfer frees the old memory at
      // once; left to the GC, 4 MiB of garbage a frame cost ~45 MiB of RSS per thread). Small
      // results sit in a buffer Node pools, which cannot be detached: leave those alone.
      if (out.byteOffset !== 0 || out.buffer.byteLength === out.length) return out;
      try {
        return Buffer.from(out.buffer.transfer(out.length));
      } catch {
        return out;
      }
    };
  }
  const b = require(spec.napiBinding);
  const cctx = new b.CCtx();
  let level = NaN;
  let dst = Buffer.alloc(0);
  return (src, lvl, into) => {
    if (lvl !== level) {
      cctx.setParameter(b.CParameter.compressionLevel, lvl);
      cctx.setParameter(b.CParameter.checksumFlag, 1);
      level = lvl;
    }
    const need = bound(src.length);
    // Into the caller's buffer when it gave one big enough: the frame is then a view on it, and the
    // caller recycles that buffer (no fresh memory per frame).
    if (into && into.length >= need) return into.subarray(0, cctx.compress2(into, src));
    if (dst.length < need) dst = Buffer.allocUnsafe(need);
    return Buffer.from(dst.subarray(0, cctx.compress2(dst, src)));
  };
}
`;

/** `into`: a buffer to compress into (zstd-napi; builtin ignores it); the frame may be a view on it. */
export type FrameCompressor = (src: Uint8Array, level: number, into?: Buffer) => Buffer;

/** ZSTD_COMPRESSBOUND: the largest frame `n` bytes can compress to (as in FRAME_COMPRESSOR_SOURCE). */
export const compressBound = (n: number) => n + (n >>> 8) + (n < 131072 ? (131072 - n) >>> 11 : 0);

/** A frame compressor for this thread (threads: 0). */
export function inlineFrameCompressor(spec: CompressorSpec): FrameCompressor {
  const make = new Function('require', 'spec', `${FRAME_COMPRESSOR_SOURCE}\nreturn makeFrameCompressor(require, spec);`);
  return make(require, spec) as FrameCompressor;
}
