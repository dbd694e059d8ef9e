// Arithmetic in GF(2^16) with the PAR2 2.0 generator polynomial x^16+x^12+x^3+x+1 (0x1100B), and
// the Reed–Solomon pieces built on it. Spec: spec/recovery.md §3 (PAR2 2.0 "Reed-Solomon coding").
//
// Multiplication goes through log/antilog tables (128 KiB each); a slice times a constant through
// two byte tables (mulAdd). Slices are little-endian 16-bit words, as PAR2 requires; Node runs on
// little-endian hosts only, so a Uint32Array view of a slice holds two of them, low one first.

export const GF_LIMIT = 65535;

const EXP = new Uint16Array(2 * GF_LIMIT + 2); // doubled: exp[a + b] needs no modulo
const LOG = new Uint16Array(GF_LIMIT + 1);
{
  let x = 1;
  for (let i = 0; i < GF_LIMIT; i++) {
    EXP[i] = x;
    LOG[x] = i;
    x <<= 1;
    if (x & 0x10000) x ^= 0x1100b;
  }
  for (let i = GF_LIMIT; i < EXP.length; i++) EXP[i] = EXP[i - GF_LIMIT];
}

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

const LO = new Uint32Array(256);
const HI = new Uint32Array(256);

/**
 * dst ^= factor * src, both viewed as 32-bit words (two 16-bit PAR2 words each, little-endian).
 * Multiplying by a constant is linear over GF(2), so factor * w = LO[low byte] ^ HI[high byte]:
 * two 256-entry tables built from 16 products, then four lookups per 32 bits, no branch on zero
 * words. About 2.5 times the speed of log/antilog lookups per word (spec/recovery.md §8).
 */
export function mulAdd(dst: Uint32Array, src: Uint32Array, factor: number): void {
  if (factor === 0) return;
  const n = src.length;
  if (factor === 1) {
    for (let i = 0; i < n; i++) dst[i] ^= src[i];
    return;
  }
  LO[0] = 0;
  HI[0] = 0;
  for (let b = 0; b < 8; b++) {
    const lo = gfMul(1 << b, factor);
    const hi = gfMul(1 << (b + 8), factor);
    const bit = 1 << b;
    for (let i = 0; i < bit; i++) {
      LO[bit | i] = LO[i] ^ lo;
      HI[bit | i] = HI[i] ^ hi;
    }
  }
  for (let i = 0; i < n; i++) {
    const x = src[i];
    if (x === 0) continue;
    dst[i] ^= (LO[x & 255] ^ HI[(x >>> 8) & 255]) | ((LO[(x >>> 16) & 255] ^ HI[x >>> 24]) << 16);
  }
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
