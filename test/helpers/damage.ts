// Seeded randomness and byte damage for the recovery tests: a failing case replays with its seed.
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
