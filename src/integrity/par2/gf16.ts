// Arithmetic in GF(2^16) with the PAR2 2.0 generator polynomial x^16+x^12+x^3+x+1 (0x1100B), and
// the Reed–Solomon pieces built on it. Spec: spec/recovery.md §3 (PAR2 2.0 "Reed-Solomon coding").
//
// Multiplication goes through log/antilog tables (128 KiB each); slices times constants are
// kernel.ts's job (native SIMD or JS). Slices are little-endian 16-bit words, as PAR2 requires.

import { gf16Module } from './kernel.js';

export const GF_LIMIT = 65535;

// EXP is doubled: exp[a + b] needs no modulo. Built by kernel.ts, which the worker threads share.
const { EXP, LOG } = gf16Module();

export function gfMul(a: number, b: number): number {
  return a === 0 || b === 0 ? 0 : EXP[LOG[a] + LOG[b]];
}

export function gfInv(a: number): number {
  if (a === 0) throw new RangeError('GF(2^16): 0 has no inverse');
  return EXP[(GF_LIMIT - LOG[a]) % GF_LIMIT];
}

/**
 * The logs of the input slice constants: the j-th integer n >= 1 with gcd(n, 65535) = 1 (n not
 * divisible by 3, 5, 17 or 257), as par2cmdline's ReedSolomon<Galois16>::SetInput chooses them.
 * Slice j's constant is 2^n.
 */
export function inputLogs(count: number): Uint16Array {
  const out = new Uint16Array(count);
  let n = 0;
  for (let j = 0; j < count; j++) {
    do n++;
    while (n % 3 === 0 || n % 5 === 0 || n % 17 === 0 || n % 257 === 0);
    if (n >= GF_LIMIT) throw new RangeError('PAR2: too many input slices');
    out[j] = n;
  }
  return out;
}

/** The coefficient of input slice j (constant 2^logJ) in the recovery slice with this exponent. */
export function coefficient(logJ: number, exponent: number): number {
  return EXP[(logJ * exponent) % GF_LIMIT];
}

/**
 * Invert a square matrix over GF(2^16) (Gauss–Jordan), rows of plain numbers. Returns undefined
 * when it is singular (PAR2's matrix can be, for rare choices of slices: then another set of
 * recovery slices has to be tried).
 */
export function invert(m: number[][]): Uint16Array[] | undefined {
  const n = m.length;
  // Rows of 16-bit words: a 1000 x 2000 work matrix is 4 MB, not 16.
  const a = m.map((row, i) => {
    const r = new Uint16Array(2 * n);
    r.set(row);
    r[n + i] = 1;
    return r;
  });
  for (let col = 0; col < n; col++) {
    let p = col;
    while (p < n && a[p][col] === 0) p++;
    if (p === n) return undefined;
    [a[col], a[p]] = [a[p], a[col]];
    const inv = gfInv(a[col][col]);
    const pr = a[col];
    for (let k = col; k < 2 * n; k++) pr[k] = gfMul(pr[k], inv);
    for (let r = 0; r < n; r++) {
      if (r === col || a[r][col] === 0) continue;
      const f = a[r][col];
      const row = a[r];
      for (let k = col; k < 2 * n; k++) row[k] ^= gfMul(f, pr[k]);
    }
  }
  return a.map((row) => row.slice(n));
}
