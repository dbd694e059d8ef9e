// The fixed ZIP records (APPNOTE 6.3.10 §4.3): local file header, data descriptor, central
// directory header, zip64 end of central directory record and locator, end of central directory.
// Pure encoders and decoders, little-endian throughout. Spec: spec/zip-profile.md §2.

export const SIG = {
  local: 0x04034b50,
  central: 0x02014b50,
  descriptor: 0x08074b50,
  zip64Eocd: 0x06064b50,
  zip64Locator: 0x07064b50,
  eocd: 0x06054b50,
} as const;

export const FLAG = {
  encrypted: 1 << 0,
  descriptor: 1 << 3,
  strongEncryption: 1 << 6,
  utf8: 1 << 11,
} as const;

export const U16 = 0xffff;
export const U32 = 0xffffffff;

/** Host systems in the high byte of "version made by" (APPNOTE 4.4.2.2). */
export const HOST = { dos: 0, unix: 3, ntfs: 10, vfat: 14, osx: 19 } as const;
/** portarc writes Unix host, APPNOTE 6.3. */
export const MADE_BY = (HOST.unix << 8) | 63;

export const LOCAL_SIZE = 30;
export const CENTRAL_SIZE = 46;
export const EOCD_SIZE = 22;
export const ZIP64_EOCD_SIZE = 56;
export const ZIP64_LOCATOR_SIZE = 20;

export interface LocalHeader {
  versionNeeded: number;
  flags: number;
  method: number;
  dosTime: number;
  dosDate: number;
  crc: number;
  /** The 32-bit fields as stored (0xffffffff when the zip64 extra holds the value). */
  csize: number;
  usize: number;
  name: Buffer;
  extra: Buffer;
}

export interface CentralHeader extends LocalHeader {
  madeBy: number;
  comment: Buffer;
  diskStart: number;
  internalAttr: number;
  externalAttr: number;
  /** As stored (0xffffffff when the zip64 extra holds it). */
  offset: number;
}

export function encodeLocal(h: LocalHeader): Buffer {
  const b = Buffer.allocUnsafe(LOCAL_SIZE + h.name.length + h.extra.length);
  b.writeUInt32LE(SIG.local, 0);
  b.writeUInt16LE(h.versionNeeded, 4);
  b.writeUInt16LE(h.flags, 6);
  b.writeUInt16LE(h.method, 8);
  b.writeUInt16LE(h.dosTime, 10);
  b.writeUInt16LE(h.dosDate, 12);
  b.writeUInt32LE(h.crc >>> 0, 14);
  b.writeUInt32LE(h.csize, 18);
  b.writeUInt32LE(h.usize, 22);
  b.writeUInt16LE(h.name.length, 26);
  b.writeUInt16LE(h.extra.length, 28);
  h.name.copy(b, LOCAL_SIZE);
  h.extra.copy(b, LOCAL_SIZE + h.name.length);
  return b;
}

/** The 30 fixed bytes of a local header (the caller checked the signature). */
export function decodeLocalFixed(b: Buffer): Omit<LocalHeader, 'name' | 'extra'> & { nameLength: number; extraLength: number } {
  return {
    versionNeeded: b.readUInt16LE(4),
    flags: b.readUInt16LE(6),
    method: b.readUInt16LE(8),
    dosTime: b.readUInt16LE(10),
    dosDate: b.readUInt16LE(12),
    crc: b.readUInt32LE(14),
    csize: b.readUInt32LE(18),
    usize: b.readUInt32LE(22),
    nameLength: b.readUInt16LE(26),
    extraLength: b.readUInt16LE(28),
  };
}

export function encodeCentral(h: CentralHeader): Buffer {
  const b = Buffer.allocUnsafe(CENTRAL_SIZE + h.name.length + h.extra.length + h.comment.length);
  b.writeUInt32LE(SIG.central, 0);
  b.writeUInt16LE(h.madeBy, 4);
  b.writeUInt16LE(h.versionNeeded, 6);
  b.writeUInt16LE(h.flags, 8);
  b.writeUInt16LE(h.method, 10);
  b.writeUInt16LE(h.dosTime, 12);
  b.writeUInt16LE(h.dosDate, 14);
  b.writeUInt32LE(h.crc >>> 0, 16);
  b.writeUInt32LE(h.csize, 20);
  b.writeUInt32LE(h.usize, 24);
  b.writeUInt16LE(h.name.length, 28);
  b.writeUInt16LE(h.extra.length, 30);
  b.writeUInt16LE(h.comment.length, 32);
  b.writeUInt16LE(h.diskStart, 34);
  b.writeUInt16LE(h.internalAttr, 36);
  b.writeUInt32LE(h.externalAttr >>> 0, 38);
  b.writeUInt32LE(h.offset, 42);
  h.name.copy(b, CENTRAL_SIZE);
  h.extra.copy(b, CENTRAL_SIZE + h.name.length);
  h.comment.copy(b, CENTRAL_SIZE + h.name.length + h.extra.length);
  return b;
}

/** Length of the central header starting at `at`, from its fixed part (46 bytes must be there). */
export function centralLength(b: Buffer, at: number): number {
  return CENTRAL_SIZE + b.readUInt16LE(at + 28) + b.readUInt16LE(at + 30) + b.readUInt16LE(at + 32);
}

/** A whole central header at `at` (the caller checked the signature and the length). */
export function decodeCentral(b: Buffer, at: number): CentralHeader {
  const n = b.readUInt16LE(at + 28);
  const e = b.readUInt16LE(at + 30);
  const c = b.readUInt16LE(at + 32);
  const s = at + CENTRAL_SIZE;
  return {
    madeBy: b.readUInt16LE(at + 4),
    versionNeeded: b.readUInt16LE(at + 6),
    flags: b.readUInt16LE(at + 8),
    method: b.readUInt16LE(at + 10),
    dosTime: b.readUInt16LE(at + 12),
    dosDate: b.readUInt16LE(at + 14),
    crc: b.readUInt32LE(at + 16),
    csize: b.readUInt32LE(at + 20),
    usize: b.readUInt32LE(at + 24),
    diskStart: b.readUInt16LE(at + 34),
    internalAttr: b.readUInt16LE(at + 36),
    externalAttr: b.readUInt32LE(at + 38),
    offset: b.readUInt32LE(at + 42),
    name: Buffer.from(b.subarray(s, s + n)),
    extra: Buffer.from(b.subarray(s + n, s + n + e)),
    comment: Buffer.from(b.subarray(s + n + e, s + n + e + c)),
  };
}

/** Data descriptor with its signature; 8-byte sizes when the local header had a zip64 extra. */
export function encodeDescriptor(crc: number, csize: number, usize: number, zip64: boolean): Buffer {
  const b = Buffer.allocUnsafe(zip64 ? 24 : 16);
  b.writeUInt32LE(SIG.descriptor, 0);
  b.writeUInt32LE(crc >>> 0, 4);
  if (zip64) {
    b.writeBigUInt64LE(BigInt(csize), 8);
    b.writeBigUInt64LE(BigInt(usize), 16);
  } else {
    b.writeUInt32LE(csize, 8);
    b.writeUInt32LE(usize, 12);
  }
  return b;
}

/**
 * Length of the data descriptor at the start of `b` that states exactly (crc, csize, usize), trying
 * the four forms readers meet (signature or not, 4- or 8-byte sizes); 0 when none matches.
 */
export function matchDescriptor(b: Buffer, crc: number | undefined, csize: number, usize: number): number {
  const forms: Array<[number, boolean]> = [
    [4, false],
    [4, true],
    [0, false],
    [0, true],
  ];
  for (const [skip, wide] of forms) {
    const len = skip + 4 + (wide ? 16 : 8);
    if (b.length < len) continue;
    if (skip && b.readUInt32LE(0) !== SIG.descriptor) continue;
    if (crc !== undefined && b.readUInt32LE(skip) !== crc >>> 0) continue;
    const c = wide ? Number(b.readBigUInt64LE(skip + 4)) : b.readUInt32LE(skip + 4);
    const u = wide ? Number(b.readBigUInt64LE(skip + 12)) : b.readUInt32LE(skip + 8);
    if (c === csize && u === usize) return len;
  }
  return 0;
}

/** The CRC a descriptor at the start of `b` states, if one with these sizes is there. */
export function descriptorCrc(b: Buffer, csize: number, usize: number): number | undefined {
  const len = matchDescriptor(b, undefined, csize, usize);
  if (!len) return undefined;
  return b.readUInt32LE(len === 16 || len === 24 ? 4 : 0);
}

export interface EndRecord {
  entries: number;
  cdSize: number;
  cdOffset: number;
}

export function encodeEocd(entries: number, cdSize: number, cdOffset: number, commentLength = 0): Buffer {
  const b = Buffer.alloc(EOCD_SIZE);
  b.writeUInt32LE(SIG.eocd, 0);
  // Disk numbers 0; values that do not fit are -1 and live in the zip64 record (APPNOTE 4.4.1.4).
  b.writeUInt16LE(Math.min(entries, U16), 8);
  b.writeUInt16LE(Math.min(entries, U16), 10);
  b.writeUInt32LE(Math.min(cdSize, U32), 12);
  b.writeUInt32LE(Math.min(cdOffset, U32), 16);
  b.writeUInt16LE(commentLength, 20);
  return b;
}

export function decodeEocd(b: Buffer, at: number): EndRecord & { disk: number; cdDisk: number; diskEntries: number; commentLength: number } {
  return {
    disk: b.readUInt16LE(at + 4),
    cdDisk: b.readUInt16LE(at + 6),
    diskEntries: b.readUInt16LE(at + 8),
    entries: b.readUInt16LE(at + 10),
    cdSize: b.readUInt32LE(at + 12),
    cdOffset: b.readUInt32LE(at + 16),
    commentLength: b.readUInt16LE(at + 20),
  };
}

export function encodeZip64Eocd(entries: number, cdSize: number, cdOffset: number): Buffer {
  const b = Buffer.alloc(ZIP64_EOCD_SIZE);
  b.writeUInt32LE(SIG.zip64Eocd, 0);
  b.writeBigUInt64LE(BigInt(ZIP64_EOCD_SIZE - 12), 4);
  b.writeUInt16LE(MADE_BY, 12);
  b.writeUInt16LE(45, 14);
  // disk 0, disk with the central directory 0
  b.writeBigUInt64LE(BigInt(entries), 24);
  b.writeBigUInt64LE(BigInt(entries), 32);
  b.writeBigUInt64LE(BigInt(cdSize), 40);
  b.writeBigUInt64LE(BigInt(cdOffset), 48);
  return b;
}

export function encodeZip64Locator(zip64EocdOffset: number): Buffer {
  const b = Buffer.alloc(ZIP64_LOCATOR_SIZE);
  b.writeUInt32LE(SIG.zip64Locator, 0);
  b.writeBigUInt64LE(BigInt(zip64EocdOffset), 8);
  b.writeUInt32LE(1, 16);
  return b;
}

/** A u64 field as a Number, or undefined when it is beyond 2^53 (no real archive is that big). */
export function readU64(b: Buffer, at: number): number | undefined {
  const v = b.readBigUInt64LE(at);
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : undefined;
}
