// PAR2 2.0 packets: the 64-byte header and the bodies portarc writes and reads (Main, File
// Description, Input File Slice Checksum, Recovery Slice, Creator). Spec: spec/recovery.md §2.
//
// Header: magic "PAR2\0PKT", u64 length of the whole packet (a multiple of 4), MD5 of everything
// from the recovery set ID to the end, the recovery set ID (MD5 of the Main packet's body), and a
// 16-byte type. All integers little-endian.

import { createHash, type Hash } from 'node:crypto';

export const MAGIC = Buffer.from('PAR2\0PKT', 'latin1');
export const HEADER_SIZE = 64;

export const TYPE = {
  main: Buffer.from('PAR 2.0\0Main\0\0\0\0', 'latin1'),
  fileDesc: Buffer.from('PAR 2.0\0FileDesc', 'latin1'),
  ifsc: Buffer.from('PAR 2.0\0IFSC\0\0\0\0', 'latin1'),
  recovery: Buffer.from('PAR 2.0\0RecvSlic', 'latin1'),
  creator: Buffer.from('PAR 2.0\0Creator\0', 'latin1'),
  // portarc's own type (PAR2 readers ignore types they do not know): where an embedded recovery
  // region and the archive before it end (spec/recovery.md §10).
  locator: Buffer.from('PORTARC\0EmbedLoc', 'latin1'),
} as const;

export type PacketKind = keyof typeof TYPE;

export function md5(...parts: Uint8Array[]): Buffer {
  const h = createHash('md5');
  for (const p of parts) h.update(p);
  return h.digest();
}

/** Pad to a multiple of 4 with zero bytes (names and the creator string). */
export function pad4(b: Buffer): Buffer {
  const n = (b.length + 3) & ~3;
  return n === b.length ? b : Buffer.concat([b, Buffer.alloc(n - b.length)]);
}

/** The header of a packet whose body is `parts` (written before them); the MD5 covers set ID, type and body. */
export function header(setId: Buffer, kind: PacketKind, parts: Uint8Array[]): Buffer {
  const h = openHeader(setId, kind, parts.reduce((n, p) => n + p.length, 0));
  for (const p of parts) h.hash.update(p);
  return sealHeader(h);
}

/** A header whose body the caller feeds to `hash` (a body too large to hold), then sealHeader(). */
export function openHeader(setId: Buffer, kind: PacketKind, bodyLength: number): { header: Buffer; hash: Hash } {
  if (bodyLength % 4 !== 0) throw new RangeError('PAR2 packet body not a multiple of 4 bytes');
  const h = Buffer.alloc(HEADER_SIZE);
  MAGIC.copy(h, 0);
  h.writeBigUInt64LE(BigInt(HEADER_SIZE + bodyLength), 8);
  setId.copy(h, 32);
  TYPE[kind].copy(h, 48);
  const hash = createHash('md5').update(h.subarray(32));
  return { header: h, hash };
}

export function sealHeader(h: { header: Buffer; hash: Hash }): Buffer {
  h.hash.digest().copy(h.header, 16);
  return h.header;
}

export function packet(setId: Buffer, kind: PacketKind, body: Buffer): Buffer {
  return Buffer.concat([header(setId, kind, [body]), body]);
}

export function mainBody(sliceSize: number, fileIds: Buffer[]): Buffer {
  const b = Buffer.alloc(12);
  b.writeBigUInt64LE(BigInt(sliceSize), 0);
  b.writeUInt32LE(fileIds.length, 8);
  return Buffer.concat([b, ...fileIds]);
}

export interface FileDesc {
  fileId: Buffer;
  md5: Buffer;
  md5_16k: Buffer;
  length: number;
  name: string;
}

/** The file ID: MD5 of [MD5 of the first 16 KiB, u64 length, name (unpadded)]. */
export function fileId(md5_16k: Buffer, length: number, name: Buffer): Buffer {
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(length));
  return md5(md5_16k, len, name);
}

export function fileDescBody(d: FileDesc): Buffer {
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(d.length));
  return Buffer.concat([d.fileId, d.md5, d.md5_16k, len, pad4(Buffer.from(d.name, 'utf8'))]);
}

export function creatorBody(text: string): Buffer {
  return pad4(Buffer.from(text, 'latin1'));
}

/** A packet found in a file: its kind (undefined for a type portarc does not use), set and body position. */
export interface FoundPacket {
  kind: PacketKind | undefined;
  setId: Buffer;
  /** The body (everything after the header); for recovery slices only the 4-byte exponent is read. */
  body: Buffer;
  /** Where the body starts in its file, and its length. */
  bodyAt: number;
  bodyLength: number;
}

export function kindOf(type: Buffer): PacketKind | undefined {
  for (const [k, t] of Object.entries(TYPE)) if (t.equals(type)) return k as PacketKind;
  return undefined;
}

export function parseMain(body: Buffer): { sliceSize: number; fileIds: Buffer[]; recoveryCount: number } | undefined {
  if (body.length < 12) return undefined;
  const sliceSize = Number(body.readBigUInt64LE(0));
  const recoveryCount = body.readUInt32LE(8);
  if (sliceSize === 0 || sliceSize % 4 !== 0 || body.length < 12 + 16 * recoveryCount) return undefined;
  const fileIds: Buffer[] = [];
  for (let i = 0; i < recoveryCount; i++) fileIds.push(body.subarray(12 + 16 * i, 28 + 16 * i));
  return { sliceSize, fileIds, recoveryCount };
}

export function parseFileDesc(body: Buffer): FileDesc | undefined {
  if (body.length < 56) return undefined;
  let nameBytes = body.subarray(56);
  const nul = nameBytes.indexOf(0);
  if (nul >= 0) nameBytes = nameBytes.subarray(0, nul);
  return {
    fileId: body.subarray(0, 16),
    md5: body.subarray(16, 32),
    md5_16k: body.subarray(32, 48),
    length: Number(body.readBigUInt64LE(48)),
    name: nameBytes.toString('utf8'),
  };
}

/** IFSC body: the file ID, then MD5 (16) + CRC32 (4) per slice. */
export function parseIfsc(body: Buffer): { fileId: Buffer; slices: { md5: Buffer; crc: number }[] } | undefined {
  if (body.length < 16 || (body.length - 16) % 20 !== 0) return undefined;
  const slices = [];
  for (let at = 16; at < body.length; at += 20) slices.push({ md5: body.subarray(at, at + 16), crc: body.readUInt32LE(at + 16) });
  return { fileId: body.subarray(0, 16), slices };
}

/** The locator of an embedded recovery region (spec/recovery.md §10.3): 32 bytes of body. */
export interface Locator {
  /** The archive's length: the protected bytes are [0, archiveLength). */
  archiveLength: number;
  /** Bytes of the recovery region, from archiveLength to where the tail starts. */
  regionLength: number;
  /** Bytes after the region (the container's end records again). */
  tailLength: number;
  /** The layout's version: 1 is this document's. */
  version: number;
  /** Recovery slices written in the region. */
  recoveryCount: number;
}

export const LOCATOR_BODY = 32;
export const LOCATOR_PACKET = HEADER_SIZE + LOCATOR_BODY;

export function locatorBody(l: Locator): Buffer {
  const b = Buffer.alloc(LOCATOR_BODY);
  b.writeBigUInt64LE(BigInt(l.archiveLength), 0);
  b.writeBigUInt64LE(BigInt(l.regionLength), 8);
  b.writeBigUInt64LE(BigInt(l.tailLength), 16);
  b.writeUInt32LE(l.version, 24);
  b.writeUInt32LE(l.recoveryCount, 28);
  return b;
}

export function parseLocator(body: Buffer): Locator | undefined {
  if (body.length < LOCATOR_BODY) return undefined;
  const n = (at: number) => {
    const v = body.readBigUInt64LE(at);
    return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : undefined;
  };
  const [archiveLength, regionLength, tailLength] = [n(0), n(8), n(16)];
  if (archiveLength === undefined || regionLength === undefined || tailLength === undefined) return undefined;
  return { archiveLength, regionLength, tailLength, version: body.readUInt32LE(24), recoveryCount: body.readUInt32LE(28) };
}

/** A whole packet in `b` at `at` whose MD5 is right: its kind, set ID and body; undefined otherwise. */
export function packetAt(b: Buffer, at: number): { kind: PacketKind | undefined; setId: Buffer; body: Buffer; length: number } | undefined {
  if (at < 0 || at + HEADER_SIZE > b.length || !b.subarray(at, at + 8).equals(MAGIC)) return undefined;
  const length = Number(b.readBigUInt64LE(at + 8));
  if (length < HEADER_SIZE || length % 4 !== 0 || at + length > b.length) return undefined;
  if (!md5(b.subarray(at + 32, at + length)).equals(b.subarray(at + 16, at + 32))) return undefined;
  return { kind: kindOf(b.subarray(at + 48, at + 64)), setId: b.subarray(at + 32, at + 48), body: b.subarray(at + HEADER_SIZE, at + length), length };
}

/**
 * Where embedded recovery data that starts at `at` ends, from its first locator (`packet`: at
 * least its 96 bytes; spec/recovery.md §10.3): P + R + T, when the packet is a locator whose P is
 * `at`; else undefined. Its MD5 is not checked: this only says where other data may begin.
 */
export function regionEnd(packet: Buffer, at: number): number | undefined {
  if (packet.length < LOCATOR_PACKET || !packet.subarray(48, HEADER_SIZE).equals(TYPE.locator)) return undefined;
  const l = parseLocator(packet.subarray(HEADER_SIZE, LOCATOR_PACKET));
  if (!l || l.archiveLength !== at || l.regionLength < LOCATOR_PACKET) return undefined;
  const end = l.archiveLength + l.regionLength + l.tailLength;
  return Number.isSafeInteger(end) ? end : undefined;
}
