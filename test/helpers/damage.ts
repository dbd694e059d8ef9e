// Seeded randomness and byte damage for the recovery and property tests: a failing case replays
// with its seed.
import { closeSync, openSync, readSync, writeSync } from 'node:fs';

/** A deterministic pseudo-random generator (xorshift32), so that a failure can be replayed. */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
}

/** Overwrite [at, at+len) with bytes that differ from what is there (every byte flipped). */
export function burst(file: string, at: number, len: number): void {
  const fd = openSync(file, 'r+');
  try {
    const b = Buffer.alloc(len);
    const n = readSync(fd, b, 0, len, at);
    for (let i = 0; i < n; i++) b[i] ^= 0xa5;
    writeSync(fd, b, 0, n, at);
  } finally {
    closeSync(fd);
  }
}

/** Deterministic PRNG (mulberry32) of the verify and extract property tests. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A copy of `orig` with one bit flipped or 512 bytes rewritten at random, at a random byte or
 * (half the time, where `ranges` are given) in one of `ranges`. `first`: the first byte that
 * differs (orig.length when a burst rewrote the same bytes).
 */
export function flipOrBurst(orig: Buffer, r: () => number, ranges: [number, number][] = []): { bytes: Buffer; first: number; kind: string } {
  const bytes = Buffer.from(orig);
  const h = ranges.length && r() < 0.5 ? ranges[Math.floor(r() * ranges.length)]! : undefined;
  const at = h ? h[0] + Math.floor(r() * (h[1] - h[0])) : Math.floor(r() * orig.length);
  if (r() < 0.5) {
    bytes[at] ^= 1 << Math.floor(r() * 8);
    return { bytes, first: at, kind: `bit flip at ${at}` };
  }
  for (let i = at; i < Math.min(orig.length, at + 512); i++) bytes[i] = Math.floor(r() * 256);
  let first = at;
  while (first < orig.length && bytes[first] === orig[first]) first++;
  return { bytes, first, kind: `512-byte burst at ${at}` };
}
