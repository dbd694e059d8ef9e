// Entry ↔ ZIP header fields: names (UTF-8 flag, Unicode path extra, CP437), the Unix mode in the
// external attributes, which entry types have a standard form, and how the extra fields of a
// header become an Entry. Spec: spec/zip-profile.md §4 (entry types) and §3 (extra fields read).

import { isUtf8 } from 'node:buffer';
import { displayName, makeEntry, type Entry } from '../model/entry.js';
import type { Limits } from '../model/limits.js';
import { cp437ToUtf8 } from './cp437.js';
import { fromDos } from './dostime.js';
import {
  EXTRA,
  SILENT_EXTRAS,
  parseExtra,
  readNtfs,
  readTimestamp,
  readUnicodePath,
  readUnix2,
  readUnixIds,
  readUnixOld,
} from './extra.js';
import { FLAG, HOST } from './records.js';
import { PX_ID, S_IF, applyPx, decodePx, typeOfMode, type PxFacts, type PxRecord } from './portarc-extra.js';

const SLASH = 0x2f;
const DOS_READONLY = 0x01;
const DOS_DIR = 0x10;
/** 7-Zip's FILE_ATTRIBUTE_UNIX_EXTENSION: the high 16 bits hold st_mode whatever the host. */
const UNIX_EXTENSION = 0x8000;

// ---- writing ----

/** The name as stored: the path bytes, with a trailing "/" for directories (APPNOTE 4.4.17). */
export function zipName(entry: Entry): Buffer {
  return entry.type === 'directory' ? Buffer.concat([entry.path, Buffer.from('/')]) : entry.path;
}

/** Bit 11 when the name is UTF-8 with non-ASCII bytes (as Info-ZIP sets it); raw bytes otherwise. */
export function nameFlag(name: Buffer): number {
  return name.some((b) => b >= 0x80) && isUtf8(name) ? FLAG.utf8 : 0;
}

/**
 * The st_mode other tools see. Entry types with no standard ZIP form (hardlink, fifo, devices)
 * appear as regular files with their permission bits: bsdtar would otherwise make device nodes
 * 0,0 (spec §4.2). The real type travels in the PX mode record.
 */
export function visibleMode(entry: Entry): number {
  const type = entry.type === 'directory' || entry.type === 'symlink' ? S_IF[entry.type] : S_IF.file;
  return type | (entry.mode & 0o7777);
}

/** st_mode << 16, the DOS directory bit, and the DOS read-only bit when the owner cannot write. */
export function externalAttr(entry: Entry): number {
  const mode = visibleMode(entry);
  const dos = (entry.type === 'directory' ? DOS_DIR : 0) | (mode & 0o200 ? 0 : DOS_READONLY);
  return ((mode << 16) | dos) >>> 0;
}

// ---- reading ----

const U32_SECONDS = 2n ** 32n * 1_000_000_000n;

/**
 * How to read UT times (32 bits) with bit 31 set (read signed: before 1970), given the header's
 * DOS date (zip-profile §3.2). Info-ZIP zip 3.0 and bsdtar write a time after 2038-01-19 so, and
 * a time before 1970 the same way: the DOS date tells them apart, as it holds 1980 to 2107 and is
 * clamped to 1980 below. From 2038 on, the value is unsigned (2038 to 2106), as unzip, bsdtar
 * and 7-Zip read it; a file of 2100 was restored as of 1963.
 */
function utBeyond2038(dosDate: number): (ns: bigint) => bigint {
  const late = (dosDate >> 9) + 1980 >= 2038;
  return (ns) => (late && ns < 0n ? ns + U32_SECONDS : ns);
}

/** What the extra fields of one header say, before it is merged into an entry. */
export interface ParsedExtras {
  zip64?: Buffer;
  uid?: number;
  gid?: number;
  mtime?: bigint;
  atime?: bigint;
  /** How good the times are: 1 old UX, 2 UT, 3 NTFS (the better source wins). */
  timeRank: number;
  unicodeName?: Buffer;
  px: PxRecord[];
  /** PX records were present and decoded (a portarc-written header). */
  hasPx: boolean;
}

/**
 * Parse a header's extra data. Malformed blocks are reported through `warn`; unknown IDs, skipped
 * by rule, through `notice` (spec §6.5 of portarc-1.md), each once per entry (`seen` is shared by
 * the local and central header of one entry).
 */
export function readExtras(extra: Buffer, local: boolean, name: Buffer, warn: (msg: string) => void, seen: Set<number>, notice: (msg: string) => void = warn): ParsedExtras {
  const out: ParsedExtras = { timeRank: 0, px: [], hasPx: false };
  const { blocks, malformed } = parseExtra(extra);
  if (malformed) warn(`${local ? 'local' : 'central'} extra field data is malformed; the rest of it was ignored`);
  const times = (t: { mtime?: bigint; atime?: bigint }, rank: number) => {
    if (rank <= out.timeRank || (t.mtime === undefined && t.atime === undefined)) return;
    out.timeRank = rank;
    out.mtime = t.mtime;
    out.atime = t.atime ?? out.atime;
  };
  let ids: { uid: number; gid: number } | undefined;
  let idsRank = 0;
  for (const { id, data } of blocks) {
    switch (id) {
      case EXTRA.zip64:
        out.zip64 = data;
        break;
      case EXTRA.ntfs:
        times(readNtfs(data), 3);
        break;
      case EXTRA.timestamp:
        times(readTimestamp(data), 2);
        break;
      case EXTRA.infoZipUnixOld: {
        const u = readUnixOld(data);
        times(u, 1);
        if (u.uid !== undefined && idsRank < 1) [ids, idsRank] = [{ uid: u.uid, gid: u.gid! }, 1];
        break;
      }
      case EXTRA.infoZipUnix2: {
        const u = readUnix2(data);
        if (u && idsRank < 2) [ids, idsRank] = [u, 2];
        break;
      }
      case EXTRA.infoZipUnix3: {
        const u = readUnixIds(data);
        if (u) [ids, idsRank] = [u, 3];
        else warn('Unix uid/gid extra field (0x7875) is malformed; ignored');
        break;
      }
      case EXTRA.unicodePath:
        out.unicodeName = readUnicodePath(data, name) ?? out.unicodeName;
        break;
      case PX_ID: {
        const d = decodePx(data);
        if ('problem' in d) warn(d.problem);
        else {
          for (const r of d.records) out.px.push(r);
          out.hasPx = true;
        }
        break;
      }
      default:
        if (!SILENT_EXTRAS.has(id) && !seen.has(id)) {
          seen.add(id);
          notice(`unknown extra field 0x${id.toString(16).padStart(4, '0')} ignored`);
        }
    }
  }
  if (ids) [out.uid, out.gid] = [ids.uid, ids.gid];
  return out;
}

export interface HeaderFacts {
  name: Buffer;
  flags: number;
  dosTime: number;
  dosDate: number;
  usize: number;
  /** Central headers only: local headers have neither. */
  madeBy?: number;
  externalAttr?: number;
}

/** The path bytes a header names (see spec §4.1 for the order of the rules). */
export function entryPath(h: HeaderFacts, x: ParsedExtras): Buffer {
  if (h.flags & FLAG.utf8) return h.name;
  if (x.unicodeName) return x.unicodeName;
  const host = h.madeBy === undefined ? undefined : h.madeBy >> 8;
  const unixLike = host === undefined || host === HOST.unix || host === HOST.osx;
  if (!unixLike && h.name.some((b) => b >= 0x80)) return cp437ToUtf8(h.name);
  return h.name;
}

/** The st_mode in the external attributes, when the writer put one there. */
export function unixModeOf(h: HeaderFacts): number | undefined {
  if (h.madeBy === undefined || h.externalAttr === undefined) return undefined;
  const host = h.madeBy >> 8;
  const mode = h.externalAttr >>> 16;
  if (!mode) return undefined;
  if (host === HOST.unix || host === HOST.osx || h.externalAttr & UNIX_EXTENSION) return mode;
  return undefined;
}

/** Build the entry a header describes. `facts` carries the PX data the reader acts on. */
export function buildEntry(h: HeaderFacts, x: ParsedExtras): { entry: Entry; facts: PxFacts } {
  let path = entryPath(h, x);
  const slash = path.length > 0 && path[path.length - 1] === SLASH;
  let end = path.length;
  while (end > 1 && path[end - 1] === SLASH) end--;
  path = path.subarray(0, end);

  const stMode = unixModeOf(h);
  const dosDir = h.externalAttr !== undefined && (h.externalAttr & DOS_DIR) !== 0 && stMode === undefined;
  let type = stMode !== undefined ? typeOfMode(stMode) : undefined;
  const entry = makeEntry({ path: Buffer.from(path), type: 'file' });
  // No type bits at all (Python's ZipFile.writestr stores 0o600 << 16) is a regular file, as
  // unzip takes it; a type portarc has no entry for (a socket) is said.
  if (stMode !== undefined && type === undefined && stMode & 0o170000) entry.warnings.push(`unsupported file type 0o${(stMode & 0o170000).toString(8)} in the Unix mode; read as a regular file`);
  if (slash || dosDir) type = 'directory';
  entry.type = type ?? 'file';
  if (stMode !== undefined) entry.mode = stMode & 0o7777;
  else {
    entry.mode = entry.type === 'directory' ? 0o755 : 0o644;
    if (h.externalAttr !== undefined && h.externalAttr & DOS_READONLY) entry.mode &= ~0o222;
  }
  if (x.uid !== undefined) entry.uid = x.uid;
  if (x.gid !== undefined) entry.gid = x.gid;
  const ut = x.timeRank === 2 ? utBeyond2038(h.dosDate) : (t: bigint) => t;
  entry.mtimeNs = x.mtime !== undefined ? ut(x.mtime) : fromDos(h.dosTime, h.dosDate);
  if (x.atime !== undefined) entry.atimeNs = ut(x.atime);
  entry.size = h.usize;

  const facts = applyPx(entry, x.px);
  if (facts.mode !== undefined && entry.type !== 'hardlink') {
    const t = typeOfMode(facts.mode);
    if (t) entry.type = t;
    entry.mode = facts.mode & 0o7777;
  } else if (facts.mode !== undefined) entry.mode = facts.mode & 0o7777;
  if (entry.type !== 'file') {
    delete entry.sparse;
    entry.size = 0;
  }
  if (entry.type !== 'chardev' && entry.type !== 'blockdev') {
    delete entry.devMajor;
    delete entry.devMinor;
  }
  entry.name = displayName(entry.path);
  return { entry, facts };
}

/** The xattr bounds every reader applies (a lying archive must not cost unbounded memory). */
export function checkXattrLimits(entry: Entry, limits: Limits, fail: (reason: string) => never): void {
  let bytes = 0;
  for (const v of entry.xattrs.values()) bytes += v.length;
  if (entry.xattrs.size > limits.xattrs || bytes > limits.xattrBytes) {
    fail(`${entry.xattrs.size} xattrs of ${bytes} bytes exceed the limits "xattrs"/"xattrBytes"`);
  }
}
