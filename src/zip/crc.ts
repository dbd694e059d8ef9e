// CRC-32 (ISO-HDLC, the ZIP and gzip polynomial) over Buffers, incrementally.
// Spec: spec/zip-profile.md §2 (records). `zlib.crc32` (Node >= 20.15 / 22.2) runs in native code;
// older Node 20 releases fall back to a slice-by-8 table in JS.

import * as zlib from 'node:zlib';

type Crc = (data: Uint8Array, prev?: number) => number;

const native = (zlib as { crc32?: Crc }).crc32;

let tables: Uint32Array[] | undefined;

function makeTables(): Uint32Array[] {
  const t: Uint32Array[] = Array.from({ length: 8 }, () => new Uint32Array(256));
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[0]![n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[0]![n]!;
    for (let k = 1; k < 8; k++) {
      c = t[0]![c & 0xff]! ^ (c >>> 8);
      t[k]![n] = c >>> 0;
    }
  }
  return t;
}

/** The table version, exported for the test that checks it against the native one. */
export function crc32Table(data: Uint8Array, prev = 0): number {
  const t = (tables ??= makeTables());
  const [t0, t1, t2, t3, t4, t5, t6, t7] = t as [Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array];
  let c = ~prev >>> 0;
  let i = 0;
  const n = data.length;
  for (; i + 8 <= n; i += 8) {
    const a = (c ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24))) >>> 0;
    c =
      t7[a & 0xff]! ^ t6[(a >>> 8) & 0xff]! ^ t5[(a >>> 16) & 0xff]! ^ t4[a >>> 24]! ^
      t3[data[i + 4]!]! ^ t2[data[i + 5]!]! ^ t1[data[i + 6]!]! ^ t0[data[i + 7]!]!;
  }
  for (; i < n; i++) c = t0[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** CRC-32 of `data`, continuing from `prev` (the CRC of everything before it). */
export const crc32: Crc = native ? (data, prev = 0) => native(data, prev) : crc32Table;

export const nativeCrc = native !== undefined;
