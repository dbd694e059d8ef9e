// The GF(2^16) multiply-accumulate kernels (native/gf16.c through the addon, and kernel.ts's JS
// kernel) against a word-by-word reference: random data, random constants and 0, 1, 0xFFFF, odd
// word counts, unaligned offsets, several sources and destinations, and the threaded path.
// Spec: spec/recovery.md §3, §8.
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { gfMul } from '../src/integrity/par2/gf16.js';
import { ADDON_PATH, gf16Module, type Gf16Kernel } from '../src/integrity/par2/kernel.js';

interface Addon {
  gf16Kernels(): string[];
  gf16MulAdd(dsts: Uint8Array[], srcs: Uint8Array[], coef: Uint16Array, kernel?: string | null, threads?: number): void | Promise<void>;
}
const addon = createRequire(import.meta.url)(ADDON_PATH) as Addon;

/** dsts[r] ^= Σ_s coef[s·R + r] · srcs[s], one 16-bit word at a time with log tables. */
function reference(dsts: Uint8Array[], srcs: Uint8Array[], coef: Uint16Array): Buffer[] {
  const len = srcs[0].length;
  return dsts.map((d, r) => {
    const out = Buffer.from(d.subarray(0, len));
    for (let s = 0; s < srcs.length; s++) {
      const c = coef[s * dsts.length + r];
      for (let i = 0; i < len; i += 2) {
        const p = gfMul(c, srcs[s][i] | (srcs[s][i + 1] << 8));
        out[i] ^= p & 255;
        out[i + 1] ^= p >>> 8;
      }
    }
    return out;
  });
}

/** A view of `len` random bytes starting at byte offset `at` of a larger buffer (unaligned when at % 4 != 0). */
function view(len: number, at: number): Uint8Array {
  return new Uint8Array(randomBytes(len + at + 8).buffer, at, len);
}

const SPECIAL = [0, 1, 0xffff, 2, 0x8000];

interface Case {
  dsts: Uint8Array[];
  srcs: Uint8Array[];
  coef: Uint16Array;
}

/** Cases: word counts from 1 to past several SIMD steps and the kernel's chunk, odd ones included. */
function cases(): Case[] {
  const out: Case[] = [];
  const words = [1, 2, 3, 31, 32, 33, 63, 64, 65, 127, 129, 1001, 8191, 8193, 40_001];
  words.forEach((w, k) => {
    const ns = 1 + (k % 3);
    const nd = 1 + ((k * 5) % 4);
    const srcs = Array.from({ length: ns }, (_, s) => view(2 * w, (k + s) % 5));
    const dsts = Array.from({ length: nd }, (_, r) => view(2 * w, (k + 2 * r + 1) % 7));
    const coef = new Uint16Array(ns * nd);
    for (let i = 0; i < coef.length; i++) coef[i] = k % 2 === 0 ? SPECIAL[(i + k) % SPECIAL.length] : randomBytes(2).readUInt16LE();
    out.push({ dsts, srcs, coef });
  });
  return out;
}

function copy(c: Case): Case {
  return { dsts: c.dsts.map((d) => new Uint8Array(d)), srcs: c.srcs, coef: c.coef };
}

describe('GF(2^16) multiply-accumulate kernels agree with the word-by-word reference', () => {
  const all = cases();

  it('the JS kernel', () => {
    const js: Gf16Kernel = gf16Module().js;
    for (const c of all) {
      const want = reference(c.dsts, c.srcs, c.coef);
      const got = copy(c);
      js.mulAdd(got.dsts, got.srcs, got.coef);
      got.dsts.forEach((d, r) => expect(Buffer.from(d).equals(want[r]), `${c.srcs[0].length} bytes, dst ${r}`).toBe(true));
    }
  });

  it('every native kernel this CPU runs (at least the portable one), called directly and on threads', async () => {
    const kernels = addon.gf16Kernels();
    expect(kernels).toContain('scalar');
    for (const name of kernels) {
      for (const c of all) {
        const want = reference(c.dsts, c.srcs, c.coef);
        const got = copy(c);
        addon.gf16MulAdd(got.dsts, got.srcs, got.coef, name);
        got.dsts.forEach((d, r) => expect(Buffer.from(d).equals(want[r]), `${name}: ${c.srcs[0].length} bytes, dst ${r}`).toBe(true));
        const threaded = copy(c);
        await addon.gf16MulAdd(threaded.dsts, threaded.srcs, threaded.coef, name, 3);
        threaded.dsts.forEach((d, r) => expect(Buffer.from(d).equals(want[r]), `${name} on 3 threads: ${c.srcs[0].length} bytes, dst ${r}`).toBe(true));
      }
    }
  });

  it('the default kernel is the native one when the addon is built, and bad arguments are errors', () => {
    expect(gf16Module().kernel.name).toBe(`native-${addon.gf16Kernels()[0]}`);
    const b = new Uint8Array(6);
    expect(() => addon.gf16MulAdd([b], [new Uint8Array(5)], new Uint16Array(1))).toThrow(/whole 16-bit words/);
    expect(() => addon.gf16MulAdd([new Uint8Array(4)], [b], new Uint16Array(1))).toThrow(/as long as the sources/);
    expect(() => addon.gf16MulAdd([b], [b], new Uint16Array(2))).toThrow(/srcs.length \* dsts.length/);
    expect(() => addon.gf16MulAdd([b], [b], new Uint16Array(1), 'no-such-kernel')).toThrow(/no such kernel/);
    expect(() => gf16Module().js.mulAdd([b], [new Uint8Array(5)], new Uint16Array(1))).toThrow(/whole 16-bit words/);
  });
});
