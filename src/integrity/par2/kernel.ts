// The GF(2^16) multiply-accumulate kernel of PAR2 (spec/recovery.md §3, §8): dsts[r] ^= Σ_s
// coef[s·R + r] · srcs[s], word by word (little-endian 16-bit words). The native addon's SIMD
// kernel (native/gf16.c: GFNI or AVX2 split-nibble tables, chosen at run time) when it is built,
// else the JS kernel below.
//
// DESIGN: the JS kernel is source text (like compress/backend.ts's frame compressor) because
// worker threads (par2/parity.ts) evaluate it too: one copy of the code serves the calling thread
// and the workers, from src/ (vitest) and dist/ alike.

import { createRequire } from 'node:module';
import { addonPath, nativeWanted } from '../../model/native.js';

export interface Gf16Kernel {
  /** 'js', or 'native-' and the SIMD kernel's name ('native-avx2', ...). */
  readonly name: string;
  /**
   * dsts[r] ^= Σ_s coef[s · dsts.length + r] · srcs[s] over srcs[0].length bytes (even; every
   * src and dst at least that long).
   */
  mulAdd(dsts: Uint8Array[], srcs: Uint8Array[], coef: Uint16Array): void;
  /**
   * The same off the JS thread, the destinations split over `threads` native threads (native
   * kernel only). The buffers must be left alone until the promise settles.
   */
  mulAddAsync?(dsts: Uint8Array[], srcs: Uint8Array[], coef: Uint16Array, threads: number): Promise<void>;
}

/**
 * Constants per kernel call at most (srcs.length × dsts.length): the native kernel builds a
 * 168-byte table for each before it starts (16384 of them: 2.6 MiB), so parity.ts and repair.ts
 * cut their batches to stay within it, whatever the number of rows.
 */
export const MAX_COEFS = 16384;

/** The addon holding the kernel (its workers load it by this path). */
export const ADDON_PATH = addonPath('portarc_sys');

export const GF16_KERNEL_SOURCE = String.raw`
function makeGf16(require, addonPath, native) {
  // Log/antilog tables, polynomial 0x1100B; EXP doubled so that EXP[a + b] needs no modulo.
  const EXP = new Uint16Array(2 * 65535 + 2), LOG = new Uint16Array(65536);
  for (let i = 0, x = 1; i < 65535; i++) {
    EXP[i] = x;
    LOG[x] = i;
    x <<= 1;
    if (x & 0x10000) x ^= 0x1100b;
  }
  for (let i = 65535; i < EXP.length; i++) EXP[i] = EXP[i - 65535];
  const gfMul = (a, b) => (a === 0 || b === 0 ? 0 : EXP[LOG[a] + LOG[b]]);

  // Times a constant is linear over GF(2): c * w = LO[low byte] ^ HI[high byte], two tables built
  // from 16 products; four lookups per 32 bits, no branch on zero words.
  const LO = new Uint32Array(256), HI = new Uint32Array(256);
  function tables(c) {
    for (let b = 0; b < 8; b++) {
      const lo = gfMul(1 << b, c), hi = gfMul(1 << (b + 8), c), bit = 1 << b;
      for (let i = 0; i < bit; i++) {
        LO[bit | i] = LO[i] ^ lo;
        HI[bit | i] = HI[i] ^ hi;
      }
    }
  }
  function mulAddOne(dst, src, len, c) {
    if (c === 0) return;
    const aligned = src.byteOffset % 4 === 0 && dst.byteOffset % 4 === 0 && len % 4 === 0;
    if (c === 1 && aligned) {
      const d = new Uint32Array(dst.buffer, dst.byteOffset, len >>> 2), s = new Uint32Array(src.buffer, src.byteOffset, len >>> 2);
      for (let i = 0; i < s.length; i++) d[i] ^= s[i];
      return;
    }
    tables(c);
    if (aligned) {
      const d = new Uint32Array(dst.buffer, dst.byteOffset, len >>> 2), s = new Uint32Array(src.buffer, src.byteOffset, len >>> 2);
      for (let i = 0; i < s.length; i++) {
        const x = s[i];
        if (x === 0) continue;
        d[i] ^= (LO[x & 255] ^ HI[(x >>> 8) & 255]) | ((LO[(x >>> 16) & 255] ^ HI[x >>> 24]) << 16);
      }
      return;
    }
    for (let i = 0; i + 1 < len; i += 2) {
      const p = LO[src[i]] ^ HI[src[i + 1]];
      dst[i] ^= p & 255;
      dst[i + 1] ^= p >>> 8;
    }
  }
  const js = {
    name: 'js',
    mulAdd(dsts, srcs, coef) {
      if (srcs.length === 0) return;
      const len = srcs[0].length;
      if (len % 2 !== 0) throw new RangeError('gf16 mulAdd: sources must hold whole 16-bit words');
      if (coef.length !== srcs.length * dsts.length) throw new RangeError('gf16 mulAdd: one constant per source and destination');
      for (let s = 0; s < srcs.length; s++) {
        for (let r = 0; r < dsts.length; r++) mulAddOne(dsts[r], srcs[s], len, coef[s * dsts.length + r]);
      }
    },
  };
  let kernel = js;
  if (native) {
    try {
      const addon = require(addonPath);
      // An addon built before the kernel existed lacks it: then JS.
      if (typeof addon.gf16MulAdd === 'function') {
        kernel = {
          name: 'native-' + addon.gf16Kernels()[0],
          mulAdd: (dsts, srcs, coef) => addon.gf16MulAdd(dsts, srcs, coef),
          mulAddAsync: (dsts, srcs, coef, threads) => addon.gf16MulAdd(dsts, srcs, coef, null, threads),
        };
      }
    } catch {
      // not built: JS
    }
  }
  return { EXP, LOG, gfMul, js, kernel };
}
`;

interface Gf16Module {
  EXP: Uint16Array;
  LOG: Uint16Array;
  gfMul(a: number, b: number): number;
  js: Gf16Kernel;
  kernel: Gf16Kernel;
}

const make = new Function('require', 'addonPath', 'native', `${GF16_KERNEL_SOURCE}\nreturn makeGf16(require, addonPath, native);`);
const requireHere = createRequire(import.meta.url);
const withNative = (): Gf16Module => make(requireHere, ADDON_PATH, true) as Gf16Module;
let loaded: Gf16Module | undefined;

/** The tables and kernels on this thread (the addon is loaded once, at first use). */
export function gf16Module(): Gf16Module {
  return (loaded ??= withNative());
}

/** The kernel to use: the native one when built and not turned off, else JS. */
export function gf16Kernel(): Gf16Kernel {
  return nativeWanted() ? gf16Module().kernel : gf16Module().js;
}
