// Extra fields (APPNOTE 4.5/4.6, Info-ZIP extrafld.txt): the block list, and the standard blocks
// portarc writes (zip64 0x0001, extended timestamp 0x5455, Unix uid/gid 0x7875) or reads (also NTFS
// 0x000a, Info-ZIP 0x7855/0x5855, Unicode path 0x7075). Spec: spec/zip-profile.md §3.

import { crc32 } from './crc.js';
import { readU64, U16, U32 } from './records.js';

export const EXTRA = {
  zip64: 0x0001,
  ntfs: 0x000a,
  pkwareUnix: 0x000d,
  timestamp: 0x5455, // "UT"
  infoZipUnixOld: 0x5855, // "UX"
  infoZipUnix2: 0x7855, // "Ux"
  infoZipUnix3: 0x7875, // "ux"
  unicodePath: 0x7075, // "up"
  unicodeComment: 0x6375, // "uc"
  portarc: 0x5850, // "PX", see portarc-extra.ts
  libarchiveXl: 0x6c78, // libarchive "xl": central-only fields repeated in the local header
} as const;

/** Blocks that carry nothing portarc uses but are common and harmless: no warning. */
export const SILENT_EXTRAS = new Set([
  EXTRA.pkwareUnix,
  EXTRA.unicodeComment,
  EXTRA.libarchiveXl, // read by libarchive only; portarc has the same data in PX
  0xcafe, // Java JAR marker
  0xd935, // Android zipalign padding
]);

export interface ExtraBlock {
  id: number;
  data: Buffer;
}

/** Split extra data into blocks; `malformed` when a block runs past the end (the rest is dropped). */
export function parseExtra(buf: Buffer): { blocks: ExtraBlock[]; malformed: boolean } {
  const blocks: ExtraBlock[] = [];
  let at = 0;
  while (at + 4 <= buf.length) {
    const id = buf.readUInt16LE(at);
    const size = buf.readUInt16LE(at + 2);
    if (at + 4 + size > buf.length) return { blocks, malformed: true };
    blocks.push({ id, data: buf.subarray(at + 4, at + 4 + size) });
    at += 4 + size;
  }
  // Trailing bytes too short for a block header: some writers pad with zeros; not fatal.
  return { blocks, malformed: at !== buf.length && buf.subarray(at).some((x) => x !== 0) };
}

export function encodeExtra(blocks: ExtraBlock[]): Buffer {
  const parts: Buffer[] = [];
  for (const { id, data } of blocks) {
    if (data.length > U16) throw new RangeError(`extra field 0x${id.toString(16)} of ${data.length} bytes exceeds 65535`);
    const h = Buffer.allocUnsafe(4);
    h.writeUInt16LE(id, 0);
    h.writeUInt16LE(data.length, 2);
    parts.push(h, data);
  }
  return Buffer.concat(parts);
}

// ---- zip64 (0x0001) ----

/** The zip64 block: the given u64 values in order (usize, csize, offset; the caller picks). */
export function zip64Block(values: number[]): ExtraBlock {
  const data = Buffer.allocUnsafe(8 * values.length);
  values.forEach((v, i) => data.writeBigUInt64LE(BigInt(v), 8 * i));
  return { id: EXTRA.zip64, data };
}

export class Zip64Error extends Error {}

/**
 * Resolve the 32-bit fields that hold the 0xffffffff escape from a zip64 block. The block holds
 * only the escaped fields, in the fixed order usize, csize, offset, disk (APPNOTE 4.5.3).
 */
export function applyZip64(
  data: Buffer | undefined,
  h: { usize: number; csize: number; offset?: number; diskStart?: number },
): { usize: number; csize: number; offset?: number } {
  const out = { usize: h.usize, csize: h.csize, offset: h.offset };
  let at = 0;
  const take = (field: string): number => {
    if (!data || at + 8 > data.length) throw new Zip64Error(`${field} is 0xffffffff but the zip64 extra field does not hold it`);
    const v = readU64(data, at);
    if (v === undefined) throw new Zip64Error(`zip64 ${field} is beyond 2^53`);
    at += 8;
    return v;
  };
  if (h.usize === U32) out.usize = take('uncompressed size');
  if (h.csize === U32) out.csize = take('compressed size');
  if (h.offset === U32) out.offset = take('local header offset');
  return out;
}

// ---- extended timestamp "UT" (0x5455) ----

const I32_MAX = 2 ** 31 - 1;

const floorSec = (ns: bigint): bigint => (ns >= 0n ? ns / 1_000_000_000n : -((-ns + 999_999_999n) / 1_000_000_000n));

/**
 * The UT block: flags, then mtime and (local only) atime as 32-bit seconds. Info-ZIP defines them
 * as signed, but libarchive and 7-Zip read them unsigned (-1 s is year 2106 there) and UnZip 6.00
 * ignores any value with bit 31 set: only 1970-01-01..2038-01-19 means the same to all of them, so
 * a time outside that range is left out (its flag clear) and tools fall back to the DOS time.
 * Undefined when neither time fits.
 */
export function timestampBlock(mtimeNs: bigint, atimeNs: bigint | undefined, local: boolean): ExtraBlock | undefined {
  const fit = (ns: bigint | undefined) => {
    if (ns === undefined) return undefined;
    const s = floorSec(ns);
    return s >= 0n && s <= BigInt(I32_MAX) ? Number(s) : undefined;
  };
  const m = fit(mtimeNs);
  const a = fit(atimeNs);
  const flags = (m !== undefined ? 1 : 0) | (a !== undefined ? 2 : 0);
  if (!flags) return undefined;
  const times = local ? [m, a].filter((t) => t !== undefined) : m !== undefined ? [m] : [];
  const data = Buffer.allocUnsafe(1 + 4 * times.length);
  data[0] = flags;
  times.forEach((t, i) => data.writeInt32LE(t!, 1 + 4 * i));
  return { id: EXTRA.timestamp, data };
}

/** Times present in a UT block (the central copy holds mtime only, whatever the flags say). */
export function readTimestamp(data: Buffer): { mtime?: bigint; atime?: bigint; birth?: bigint } {
  const out: { mtime?: bigint; atime?: bigint; birth?: bigint } = {};
  if (data.length < 1) return out;
  const flags = data[0]!;
  let at = 1;
  for (const [bit, key] of [[1, 'mtime'], [2, 'atime'], [4, 'birth']] as const) {
    if (!(flags & bit)) continue;
    if (at + 4 > data.length) break;
    out[key] = BigInt(data.readInt32LE(at)) * 1_000_000_000n;
    at += 4;
  }
  return out;
}

// ---- libarchive "xl" (0x6c78) ----

/**
 * libarchive's local copy of central-directory fields: a bitmap byte (bit 0 version made by u16,
 * bit 2 external attributes u32), then those fields. Its streaming reader takes the file type
 * and mode from it; without it, `bsdtar -x < archive.zip` makes every symlink a file and every
 * mode 0664 (spec §3.1).
 */
export function libarchiveXlBlock(madeBy: number, externalAttr: number): ExtraBlock {
  const data = Buffer.allocUnsafe(7);
  data[0] = 0x05;
  data.writeUInt16LE(madeBy, 1);
  data.writeUInt32LE(externalAttr >>> 0, 3);
  return { id: EXTRA.libarchiveXl, data };
}

// ---- Unix uid/gid ----

/**
 * Info-ZIP "ux" (0x7875), version 1, with 4-byte ids as Info-ZIP Zip 3.0 writes them; an id past
 * 32 bits (pax allows any) takes 8 bytes, which ux allows, rather than being cut to 4.
 */
export function unixIdsBlock(uid: number, gid: number): ExtraBlock {
  const id = (v: number) => {
    const wide = v > 0xffffffff;
    const b = Buffer.alloc(wide ? 9 : 5);
    b[0] = wide ? 8 : 4;
    if (wide) b.writeBigUInt64LE(BigInt(v), 1);
    else b.writeUInt32LE(v, 1);
    return b;
  };
  return { id: EXTRA.infoZipUnix3, data: Buffer.concat([Buffer.from([1]), id(uid), id(gid)]) };
}

/** ux: version 1, then (size, little-endian id) twice; ids up to 2^53 are taken, whatever their size. */
export function readUnixIds(data: Buffer): { uid: number; gid: number } | undefined {
  if (data.length < 3 || data[0] !== 1) return undefined;
  const read = (at: number): [number, number] | undefined => {
    const size = data[at];
    if (size === undefined || at + 1 + size > data.length) return undefined;
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + data[at + 1 + i]!;
    return Number.isSafeInteger(v) ? [v, at + 1 + size] : undefined;
  };
  const u = read(1);
  const g = u && read(u[1]);
  return u && g ? { uid: u[0], gid: g[0] } : undefined;
}

/** Info-ZIP "Ux" (0x7855): uid u16, gid u16 in the local header; empty in the central one. */
export function readUnix2(data: Buffer): { uid: number; gid: number } | undefined {
  return data.length >= 4 ? { uid: data.readUInt16LE(0), gid: data.readUInt16LE(2) } : undefined;
}

/** Old Info-ZIP "UX" (0x5855): atime u32, mtime u32, then (local only) uid u16, gid u16. */
export function readUnixOld(data: Buffer): { atime?: bigint; mtime?: bigint; uid?: number; gid?: number } {
  if (data.length < 8) return {};
  const out: { atime?: bigint; mtime?: bigint; uid?: number; gid?: number } = {
    atime: BigInt(data.readUInt32LE(0)) * 1_000_000_000n,
    mtime: BigInt(data.readUInt32LE(4)) * 1_000_000_000n,
  };
  if (data.length >= 12) {
    out.uid = data.readUInt16LE(8);
    out.gid = data.readUInt16LE(10);
  }
  return out;
}

// ---- NTFS (0x000a) ----

/** 100 ns ticks between 1601-01-01 and 1970-01-01. */
const FILETIME_EPOCH = 116444736000000000n;

/** Attribute tag 1 of the NTFS block: mtime, atime, creation time as FILETIME (100 ns since 1601). */
export function readNtfs(data: Buffer): { mtime?: bigint; atime?: bigint; birth?: bigint } {
  let at = 4; // reserved
  while (at + 4 <= data.length) {
    const tag = data.readUInt16LE(at);
    const size = data.readUInt16LE(at + 2);
    if (at + 4 + size > data.length) break;
    if (tag === 1 && size >= 24) {
      const t = (k: number) => {
        const v = data.readBigUInt64LE(at + 4 + 8 * k);
        return v === 0n ? undefined : (v - FILETIME_EPOCH) * 100n;
      };
      return { mtime: t(0), atime: t(1), birth: t(2) };
    }
    at += 4 + size;
  }
  return {};
}

// ---- Info-ZIP Unicode path (0x7075) ----

/** The UTF-8 name, if the block is version 1 and its CRC matches the header's name bytes. */
export function readUnicodePath(data: Buffer, headerName: Buffer): Buffer | undefined {
  if (data.length < 5 || data[0] !== 1) return undefined;
  if (data.readUInt32LE(1) !== crc32(headerName)) return undefined;
  return Buffer.from(data.subarray(5));
}
