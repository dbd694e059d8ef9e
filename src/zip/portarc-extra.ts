// The portarc extra field "PX" (header ID 0x5850): what the standard ZIP extra fields cannot carry
// (full st_mode with the file type, ns times, owner names, device numbers, hardlink targets, xattrs,
// the SELinux label, ACLs, sparse maps, archive-level data), as skippable type-length-value records.
// Spec: spec/zip-profile.md §5 (layout, types, overflow rule).
//
// Block data: signature "PRTA" (4 bytes, APPNOTE 4.6.3), version u8 = 1, then records of
// type u8, length u32 LE, value. Types 0x80..0xff are critical: a reader that does not know one
// must refuse the entry; unknown types below 0x80 are skipped with a warning.

import { formatAclText, parseAclText } from '../model/acl.js';
import { sortedXattrs, type Entry, type EntryType, type SparseRun } from '../model/entry.js';

export const PX_ID = 0x5850;
export const PX_SIGNATURE = Buffer.from('PRTA', 'latin1');
export const PX_VERSION = 1;
/** Signature + version. */
export const PX_HEAD = PX_SIGNATURE.length + 1;
/** type + length before each value. */
export const RECORD_HEAD = 5;

export const PX = {
  mode: 0x01, // u32 st_mode: file type and the 12 permission bits
  mtime: 0x02, // i64 seconds + u32 nanoseconds
  atime: 0x03,
  ctime: 0x04,
  uname: 0x05, // UTF-8
  gname: 0x06,
  device: 0x07, // u32 major, u32 minor
  hardlink: 0x08, // archive path bytes of the entry this one is a hard link to
  selinux: 0x09, // UTF-8 context, no NUL
  aclAccess: 0x0a, // star ACL text (model/acl.ts formatAclText)
  aclDefault: 0x0b,
  xattr: 0x0c, // name bytes, NUL, value bytes (one record per attribute)
  sparse: 0x0d, // (u64 offset, u64 length) per data run; the member data is stored dense
  size: 0x0e, // u64 uncompressed size; local header only, when flag bit 3 hides the sizes
  archive: 0x0f, // UTF-8 "key=value\n" lines: spec version, creator, features (first member only)
  overflowRef: 0x10, // u64 offset of the local header of this entry's overflow member
  overflowMember: 0x11, // empty: this member holds another entry's records, it is not an entry
} as const;

export const CRITICAL = 0x80;

export interface PxRecord {
  type: number;
  value: Buffer;
}

export const recordSize = (r: PxRecord) => RECORD_HEAD + r.value.length;

/** Signature, version, records: the data of a PX block, or the content of an overflow member. */
export function encodePx(records: PxRecord[]): Buffer {
  const parts: Buffer[] = [PX_SIGNATURE, Buffer.from([PX_VERSION])];
  for (const r of records) {
    const h = Buffer.allocUnsafe(RECORD_HEAD);
    h[0] = r.type;
    h.writeUInt32LE(r.value.length, 1);
    parts.push(h, r.value);
  }
  return Buffer.concat(parts);
}

export type PxDecoded = { records: PxRecord[] } | { problem: string };

export function decodePx(data: Buffer): PxDecoded {
  if (data.length < PX_HEAD || !data.subarray(0, 4).equals(PX_SIGNATURE)) {
    return { problem: 'extra field 0x5850 without the portarc signature (another program\'s use of the ID) ignored' };
  }
  if (data[4] !== PX_VERSION) return { problem: `portarc extra field version ${data[4]} is not known (this reader knows ${PX_VERSION}); ignored` };
  const records: PxRecord[] = [];
  let at = PX_HEAD;
  while (at < data.length) {
    if (at + RECORD_HEAD > data.length) return { problem: 'portarc extra field ends inside a record header; ignored' };
    const type = data[at]!;
    const len = data.readUInt32LE(at + 1);
    if (at + RECORD_HEAD + len > data.length) return { problem: `portarc extra record 0x${type.toString(16)} runs past the field; ignored` };
    records.push({ type, value: data.subarray(at + RECORD_HEAD, at + RECORD_HEAD + len) });
    at += RECORD_HEAD + len;
  }
  return { records };
}

// ---- values ----

export const S_IFMT = 0o170000;
export const S_IF: Record<EntryType, number> = {
  file: 0o100000,
  directory: 0o040000,
  symlink: 0o120000,
  hardlink: 0o100000,
  fifo: 0o010000,
  chardev: 0o020000,
  blockdev: 0o060000,
};
const TYPE_OF_IFMT = new Map<number, EntryType>([
  [0o100000, 'file'],
  [0o040000, 'directory'],
  [0o120000, 'symlink'],
  [0o010000, 'fifo'],
  [0o020000, 'chardev'],
  [0o060000, 'blockdev'],
]);

export function typeOfMode(mode: number): EntryType | undefined {
  return TYPE_OF_IFMT.get(mode & S_IFMT);
}

export const u32 = (v: number) => {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32LE(v >>> 0);
  return b;
};
export const u64 = (v: number) => {
  const b = Buffer.allocUnsafe(8);
  b.writeBigUInt64LE(BigInt(v));
  return b;
};

function timeValue(ns: bigint): Buffer {
  let sec = ns / 1_000_000_000n;
  let frac = ns % 1_000_000_000n;
  if (frac < 0n) {
    sec -= 1n;
    frac += 1_000_000_000n;
  }
  const b = Buffer.allocUnsafe(12);
  b.writeBigInt64LE(sec, 0);
  b.writeUInt32LE(Number(frac), 8);
  return b;
}

function readTime(v: Buffer): bigint | undefined {
  if (v.length !== 12) return undefined;
  const frac = v.readUInt32LE(8);
  if (frac >= 1_000_000_000) return undefined;
  return v.readBigInt64LE(0) * 1_000_000_000n + BigInt(frac);
}

/** Everything about an entry that PX carries (the writer adds size, archive and overflow records). */
export function metadataRecords(entry: Entry): PxRecord[] {
  const r: PxRecord[] = [];
  const add = (type: number, value: Buffer) => r.push({ type, value });
  add(PX.mode, u32(S_IF[entry.type] | (entry.mode & 0o7777)));
  add(PX.mtime, timeValue(entry.mtimeNs));
  if (entry.atimeNs !== undefined) add(PX.atime, timeValue(entry.atimeNs));
  if (entry.ctimeNs !== undefined) add(PX.ctime, timeValue(entry.ctimeNs));
  if (entry.uname) add(PX.uname, Buffer.from(entry.uname, 'utf8'));
  if (entry.gname) add(PX.gname, Buffer.from(entry.gname, 'utf8'));
  if (entry.type === 'chardev' || entry.type === 'blockdev') add(PX.device, Buffer.concat([u32(entry.devMajor ?? 0), u32(entry.devMinor ?? 0)]));
  if (entry.type === 'hardlink' && entry.linkTarget) add(PX.hardlink, entry.linkTarget);
  if (entry.selinux !== undefined) add(PX.selinux, Buffer.from(entry.selinux, 'utf8'));
  if (entry.aclAccess?.length) add(PX.aclAccess, Buffer.from(formatAclText(entry.aclAccess), 'utf8'));
  if (entry.aclDefault?.length) add(PX.aclDefault, Buffer.from(formatAclText(entry.aclDefault), 'utf8'));
  if (entry.type === 'file' && entry.sparse) {
    const v = Buffer.allocUnsafe(16 * entry.sparse.length);
    entry.sparse.forEach((run, i) => {
      v.writeBigUInt64LE(BigInt(run.offset), 16 * i);
      v.writeBigUInt64LE(BigInt(run.length), 16 * i + 8);
    });
    add(PX.sparse, v);
  }
  for (const [name, value] of sortedXattrs(entry)) add(PX.xattr, Buffer.concat([Buffer.from(name, 'utf8'), Buffer.from([0]), value]));
  return r;
}

/** What the records say beyond plain entry fields: the reader acts on these. */
export interface PxFacts {
  mode?: number;
  size?: number;
  archive?: string;
  overflowRef?: number;
  overflowMember?: boolean;
  /** A critical record type this reader does not know (the entry must not be restored). */
  critical?: number;
}

/**
 * Apply records to an entry (later records win; xattrs accumulate). Problems become entry warnings;
 * unknown types are entry notices (skipped by rule), once each.
 */
export function applyPx(entry: Entry, records: PxRecord[]): PxFacts {
  const facts: PxFacts = {};
  const unknown = new Set<number>();
  const bad = (type: number) => entry.warnings.push(`portarc extra record 0x${type.toString(16).padStart(2, '0')} is malformed; ignored`);
  const time = (v: Buffer, type: number, set: (ns: bigint) => void) => {
    const t = readTime(v);
    if (t === undefined) bad(type);
    else set(t);
  };
  for (const { type, value } of records) {
    switch (type) {
      case PX.mode:
        if (value.length === 4) facts.mode = value.readUInt32LE(0);
        else bad(type);
        break;
      case PX.mtime:
        time(value, type, (t) => (entry.mtimeNs = t));
        break;
      case PX.atime:
        time(value, type, (t) => (entry.atimeNs = t));
        break;
      case PX.ctime:
        time(value, type, (t) => (entry.ctimeNs = t));
        break;
      case PX.uname:
        entry.uname = value.toString('utf8');
        break;
      case PX.gname:
        entry.gname = value.toString('utf8');
        break;
      case PX.device:
        if (value.length === 8) {
          entry.devMajor = value.readUInt32LE(0);
          entry.devMinor = value.readUInt32LE(4);
        } else bad(type);
        break;
      case PX.hardlink:
        entry.type = 'hardlink';
        entry.linkTarget = Buffer.from(value);
        break;
      case PX.selinux:
        entry.selinux = value.toString('utf8');
        break;
      case PX.aclAccess:
      case PX.aclDefault:
        try {
          entry[type === PX.aclAccess ? 'aclAccess' : 'aclDefault'] = parseAclText(value.toString('utf8'));
        } catch (err) {
          entry.warnings.push(`ACL in the portarc extra field not readable: ${(err as Error).message}`);
        }
        break;
      case PX.xattr: {
        const nul = value.indexOf(0);
        if (nul <= 0) bad(type);
        else entry.xattrs.set(value.toString('utf8', 0, nul), Buffer.from(value.subarray(nul + 1)));
        break;
      }
      case PX.sparse: {
        if (value.length % 16) {
          bad(type);
          break;
        }
        const runs: SparseRun[] = [];
        for (let at = 0; at < value.length; at += 16) {
          runs.push({ offset: Number(value.readBigUInt64LE(at)), length: Number(value.readBigUInt64LE(at + 8)) });
        }
        entry.sparse = runs;
        break;
      }
      case PX.size:
        if (value.length === 8) facts.size = Number(value.readBigUInt64LE(0));
        else bad(type);
        break;
      case PX.archive:
        facts.archive = value.toString('utf8');
        break;
      case PX.overflowRef:
        if (value.length === 8) facts.overflowRef = Number(value.readBigUInt64LE(0));
        else bad(type);
        break;
      case PX.overflowMember:
        facts.overflowMember = true;
        break;
      default:
        if (type & CRITICAL) facts.critical ??= type;
        else if (!unknown.has(type)) {
          unknown.add(type);
          entry.notices.push(`unknown portarc extra record type 0x${type.toString(16).padStart(2, '0')} ignored`);
        }
    }
  }
  return facts;
}
