// XXH64 (seed 0) in plain JS, streaming. zstd frames and the zstd seekable format both store the
// low 32 bits of XXH64 of the decoded data as their checksum (FACTS §6). The native zstd backends
// check a frame's checksum themselves; this is for what they cannot do: the pure-JS fzstd decoder
// skips checksums, and a seek table's checksum must be checked against a frame that carries none.
// 64-bit arithmetic is done on pairs of uint32 (BigInt is far slower): low words with Math.imul,
// the high word of a 32x32 product from 16-bit halves, each partial product exact in a double.

const P1H = 0x9e3779b1, P1L = 0x85ebca87;
const P2H = 0xc2b2ae3d, P2L = 0x27d4eb4f;
const P3H = 0x165667b1, P3L = 0x9e3779f9;
const P4H = 0x85ebca77, P4L = 0xc2b2ae63;
const P5H = 0x27d4eb2f, P5L = 0x165667c5;

// Result registers of the helpers below (hi, lo), to avoid allocating a pair per operation.
let H = 0, L = 0;

function mul(ah: number, al: number, bh: number, bl: number): void {
  const a0 = al & 0xffff, a1 = al >>> 16, b0 = bl & 0xffff, b1 = bl >>> 16;
  const p01 = a0 * b1, p10 = a1 * b0; // each < 2^32, exact
  const carry = (((a0 * b0) >>> 16) + (p01 & 0xffff) + (p10 & 0xffff)) >>> 16;
  L = Math.imul(al, bl) >>> 0;
  H = (a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + carry + Math.imul(ah, bl) + Math.imul(al, bh)) >>> 0;
}

function add(ah: number, al: number, bh: number, bl: number): void {
  const lo = al + bl;
  L = lo >>> 0;
  H = (ah + bh + (lo > 0xffffffff ? 1 : 0)) >>> 0;
}

/** Rotate left by r, 0 < r < 32. */
function rotl(h: number, l: number, r: number): void {
  H = ((h << r) | (l >>> (32 - r))) >>> 0;
  L = ((l << r) | (h >>> (32 - r))) >>> 0;
}

/** acc = rotl(acc + lane * P2, 31) * P1; result in H, L. */
function round(ah: number, al: number, lh: number, ll: number): void {
  mul(lh, ll, P2H, P2L);
  add(ah, al, H, L);
  rotl(H, L, 31);
  mul(H, L, P1H, P1L);
}

/**
 * The hot loop: v[i..i+1] = round(v[i..i+1], the 8-byte lane at d[q]). The same as round(), written
 * out with locals: V8 keeps these in registers, ~8x faster than going through the H/L registers.
 */
function roundInto(v: Uint32Array, i: number, d: Uint8Array, q: number): void {
  const ll = (d[q]! | (d[q + 1]! << 8) | (d[q + 2]! << 16) | (d[q + 3]! << 24)) >>> 0;
  const lh = (d[q + 4]! | (d[q + 5]! << 8) | (d[q + 6]! << 16) | (d[q + 7]! << 24)) >>> 0;
  // m = lane * P2
  let a0 = ll & 0xffff, a1 = ll >>> 16;
  let p01 = a0 * (P2L >>> 16), p10 = a1 * (P2L & 0xffff);
  let c = (((a0 * (P2L & 0xffff)) >>> 16) + (p01 & 0xffff) + (p10 & 0xffff)) >>> 16;
  let l = Math.imul(ll, P2L) >>> 0;
  let h = (a1 * (P2L >>> 16) + (p01 >>> 16) + (p10 >>> 16) + c + Math.imul(lh, P2L) + Math.imul(ll, P2H)) >>> 0;
  // acc += m
  const t = v[i + 1]! + l;
  l = t >>> 0;
  h = (v[i]! + h + (t > 0xffffffff ? 1 : 0)) >>> 0;
  // rotl 31
  const r = ((h << 31) | (l >>> 1)) >>> 0;
  l = ((l << 31) | (h >>> 1)) >>> 0;
  h = r;
  // acc *= P1
  a0 = l & 0xffff, a1 = l >>> 16;
  p01 = a0 * (P1L >>> 16), p10 = a1 * (P1L & 0xffff);
  c = (((a0 * (P1L & 0xffff)) >>> 16) + (p01 & 0xffff) + (p10 & 0xffff)) >>> 16;
  v[i] = a1 * (P1L >>> 16) + (p01 >>> 16) + (p10 >>> 16) + c + Math.imul(h, P1L) + Math.imul(l, P1H);
  v[i + 1] = Math.imul(l, P1L);
}

function u32(d: Uint8Array, p: number): number {
  return (d[p]! | (d[p + 1]! << 8) | (d[p + 2]! << 16) | (d[p + 3]! << 24)) >>> 0;
}

export class Xxh64 {
  // Accumulators v1..v4 as (hi, lo) pairs.
  private v = new Uint32Array(8);
  private buf = Buffer.alloc(32);
  private buffered = 0;
  private total = 0;

  constructor() {
    const v = this.v;
    add(P1H, P1L, P2H, P2L);
    v[0] = H, v[1] = L;
    v[2] = P2H, v[3] = P2L;
    v[4] = 0, v[5] = 0;
    // seed - P1 = two's complement of P1
    add(~P1H >>> 0, ~P1L >>> 0, 0, 1);
    v[6] = H, v[7] = L;
  }

  update(data: Uint8Array): this {
    const d = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    this.total += d.length;
    let p = 0;
    if (this.buffered) {
      const take = Math.min(32 - this.buffered, d.length);
      d.copy(this.buf, this.buffered, 0, take);
      this.buffered += take;
      p = take;
      if (this.buffered < 32) return this;
      this.stripes(this.buf, 0, 32);
      this.buffered = 0;
    }
    const end = p + ((d.length - p) & ~31);
    this.stripes(d, p, end);
    if (end < d.length) {
      d.copy(this.buf, 0, end);
      this.buffered = d.length - end;
    }
    return this;
  }

  private stripes(d: Uint8Array, p: number, end: number): void {
    const v = this.v;
    for (; p < end; p += 32) {
      roundInto(v, 0, d, p);
      roundInto(v, 2, d, p + 8);
      roundInto(v, 4, d, p + 16);
      roundInto(v, 6, d, p + 24);
    }
  }

  /** Computes the digest (state is not changed); returns the low 32 bits, keeps the high ones in `hi`. */
  private finish(): number {
    const v = this.v;
    let hh: number, hl: number;
    if (this.total >= 32) {
      rotl(v[0]!, v[1]!, 1);
      let ah = H, al = L;
      rotl(v[2]!, v[3]!, 7);
      add(ah, al, H, L), (ah = H), (al = L);
      rotl(v[4]!, v[5]!, 12);
      add(ah, al, H, L), (ah = H), (al = L);
      rotl(v[6]!, v[7]!, 18);
      add(ah, al, H, L), (hh = H), (hl = L);
      for (let i = 0; i < 8; i += 2) {
        round(0, 0, v[i]!, v[i + 1]!);
        hh = (hh ^ H) >>> 0, hl = (hl ^ L) >>> 0;
        mul(hh, hl, P1H, P1L);
        add(H, L, P4H, P4L), (hh = H), (hl = L);
      }
    } else (hh = P5H), (hl = P5L);
    add(hh, hl, Math.floor(this.total / 0x100000000) >>> 0, this.total >>> 0), (hh = H), (hl = L);

    const b = this.buf, n = this.buffered;
    let p = 0;
    for (; p + 8 <= n; p += 8) {
      round(0, 0, b.readUInt32LE(p + 4), b.readUInt32LE(p));
      hh = (hh ^ H) >>> 0, hl = (hl ^ L) >>> 0;
      rotl(hh, hl, 27);
      mul(H, L, P1H, P1L);
      add(H, L, P4H, P4L), (hh = H), (hl = L);
    }
    if (p + 4 <= n) {
      mul(0, b.readUInt32LE(p), P1H, P1L);
      hh = (hh ^ H) >>> 0, hl = (hl ^ L) >>> 0;
      rotl(hh, hl, 23);
      mul(H, L, P2H, P2L);
      add(H, L, P3H, P3L), (hh = H), (hl = L);
      p += 4;
    }
    for (; p < n; p++) {
      mul(0, b[p]!, P5H, P5L);
      hh = (hh ^ H) >>> 0, hl = (hl ^ L) >>> 0;
      rotl(hh, hl, 11);
      mul(H, L, P1H, P1L), (hh = H), (hl = L);
    }
    // Avalanche.
    hl = (hl ^ (hh >>> 1)) >>> 0; // h ^= h >> 33
    mul(hh, hl, P2H, P2L), (hh = H), (hl = L);
    hl = (hl ^ ((hl >>> 29) | (hh << 3))) >>> 0; // h ^= h >> 29
    hh = (hh ^ (hh >>> 29)) >>> 0;
    mul(hh, hl, P3H, P3L), (hh = H), (hl = L);
    hl = (hl ^ hh) >>> 0; // h ^= h >> 32
    this.hi = hh;
    return hl;
  }

  private hi = 0;

  /** The low 32 bits of the digest: what zstd frames and seek tables store. */
  low32(): number {
    return this.finish();
  }

  /** The full 64-bit digest. */
  digest(): bigint {
    const lo = this.finish();
    return (BigInt(this.hi) << 32n) | BigInt(lo);
  }
}
