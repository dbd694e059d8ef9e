// Entry ↔ pax records: which keywords portarc writes for each field, and how every keyword that
// GNU tar, bsdtar and star write is read back. Spec: spec/portarc-1.md §5 (metadata encodings).

import { decodeAclXattr, formatAclText, parseAclText } from '../model/acl.js';
import { sortedXattrs, type Entry, type EntryType } from '../model/entry.js';
import { formatPaxTime, parsePaxDecimal, parsePaxTimeBytes } from './numbers.js';
import { formatPaxRecord, type PaxRecord } from './pax.js';

export const XATTR_SCHILY = 'SCHILY.xattr.';
export const XATTR_LIBARCHIVE = 'LIBARCHIVE.xattr.';
export const SELINUX_KEY = 'RHT.security.selinux';
export const ACL_ACCESS_KEY = 'SCHILY.acl.access';
export const ACL_DEFAULT_KEY = 'SCHILY.acl.default';
export const SELINUX_XATTR = 'security.selinux';
export const ACL_ACCESS_XATTR = 'system.posix_acl_access';
export const ACL_DEFAULT_XATTR = 'system.posix_acl_default';

// ---- xattr names inside keywords (spec §5.2) ----

/** GNU tar's rule, which portarc writes: only `%` and `=` are escaped. */
export function escapeXattrName(name: string): string {
  return name.replace(/%/g, '%25').replace(/=/g, '%3D');
}

/** Reverse of escapeXattrName; the only escapes GNU tar writes in SCHILY.xattr names. */
export function unescapeSchilyName(name: string): string {
  return name.replace(/%3D/gi, '=').replace(/%25/g, '%');
}

/** libarchive's rule: every byte outside 33–126, and `%` and `=`, as %XX. */
export function urlEncodeXattrName(name: string): string {
  let out = '';
  for (const b of Buffer.from(name, 'utf8')) {
    out += b < 33 || b > 126 || b === 0x25 || b === 0x3d ? '%' + b.toString(16).toUpperCase().padStart(2, '0') : String.fromCharCode(b);
  }
  return out;
}

export function urlDecodeXattrName(name: string): string {
  const bytes: number[] = [];
  const raw = Buffer.from(name, 'utf8');
  for (let i = 0; i < raw.length; i++) {
    const hex = raw.toString('latin1', i + 1, i + 3);
    if (raw[i] === 0x25 && /^[0-9a-fA-F]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else bytes.push(raw[i]!);
  }
  return Buffer.from(bytes).toString('utf8');
}

/** libarchive's base64: standard alphabet, `=` padding stripped on write, accepted on read. */
function base64Unpadded(value: Buffer): string {
  return value.toString('base64').replace(/=+$/, '');
}

// ---- reading (spec §5.6: keywords read and how) ----

/** Keywords that carry nothing portarc restores, and that are silently ignored. */
const IGNORED_KEYS = new Set([
  'comment',
  'charset',
  'hdrcharset',
  'SCHILY.dev',
  'SCHILY.ino',
  'SCHILY.nlink',
  'SCHILY.filetype',
  'LIBARCHIVE.symlinktype',
  'LIBARCHIVE.creationtime',
]);

/** Keywords applyPaxRecord handles itself (besides the xattr prefixes and IGNORED_KEYS). */
const HANDLED_KEYS = new Set([
  'path', 'linkpath', 'size', 'uid', 'gid', 'uname', 'gname', 'mtime', 'atime', 'ctime',
  'SCHILY.devmajor', 'SCHILY.devminor', 'SCHILY.realsize', 'SCHILY.fflags',
  'GNU.sparse.realsize', 'GNU.sparse.size', 'GNU.sparse.major', 'GNU.sparse.minor', 'GNU.sparse.name',
  'GNU.sparse.numblocks', 'GNU.sparse.offset', 'GNU.sparse.numbytes', 'GNU.sparse.map', 'GNU.dumpdir',
  SELINUX_KEY, ACL_ACCESS_KEY, ACL_DEFAULT_KEY,
]);

/** Whether a keyword means something to portarc (used or deliberately ignored). */
export function isKnownPaxKey(key: string): boolean {
  return (
    HANDLED_KEYS.has(key) ||
    IGNORED_KEYS.has(key) ||
    key.startsWith(XATTR_SCHILY) ||
    key.startsWith(XATTR_LIBARCHIVE) ||
    key.startsWith('GNU.volume.')
  );
}

/**
 * Keywords that only mean something for some entry types (spec §6.2 step 3): on any other type
 * they are ignored, with a notice when they come from the member's own `x` header.
 */
function appliesTo(key: string, type: EntryType): boolean {
  if (key === 'linkpath') return type === 'symlink' || type === 'hardlink';
  if (key === 'SCHILY.devmajor' || key === 'SCHILY.devminor') return type === 'chardev' || type === 'blockdev';
  if (key.startsWith('GNU.sparse.') || key === 'SCHILY.realsize') return type === 'file';
  return true;
}

/** libarchive's base64 (standard alphabet, padding optional, `_` read as `=` before); anything else is invalid (spec §5.2.2). */
function decodeBase64Strict(text: string): Buffer | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return undefined;
  const bare = text.replace(/=+$/, '');
  if (bare.length % 4 === 1 || (text.length > bare.length && text.length % 4 !== 0)) return undefined;
  return Buffer.from(bare, 'base64');
}

/** State carried across the records of one member: sparse keys and xattr sources come in groups. */
export interface PaxState {
  sparseMajor?: number;
  sparseMinor?: number;
  sparseName?: Buffer;
  sparseRealSize?: number;
  sparseMap?: number[]; // 0.0 pairs (offset, numbytes...) or 0.1 map
  /** SCHILY.xattr values by the name as written (still escaped: decoded once, in finishPax). */
  schily?: Map<string, Buffer>;
  libarchive?: Map<string, Buffer>;
  rhtSelinux?: string;
  aclTextAccess?: string;
  aclTextDefault?: string;
}

export function newPaxState(): PaxState {
  return {};
}

function badValue(entry: Entry, rec: PaxRecord): void {
  entry.warnings.push(`pax keyword "${rec.key}" has an invalid value "${rec.value.toString('utf8').slice(0, 40)}"; ignored`);
}

/** The record's decimal value, or undefined (and a warning) when it is not one. */
function decimalOf(entry: Entry, rec: PaxRecord): number | undefined {
  const n = parsePaxDecimal(rec.value.toString('latin1'));
  if (n === undefined) badValue(entry, rec);
  return n;
}

/** The record's time in ns, or undefined (and a warning) when it is not one. */
function timeOf(entry: Entry, rec: PaxRecord): bigint | undefined {
  const ns = parsePaxTimeBytes(rec.value);
  if (ns === undefined) badValue(entry, rec);
  return ns;
}

/**
 * Apply one record to the entry. Standard keys override the header fields; vendor keys are
 * gathered in `state` and resolved by finishPax once all records are in. `global` marks records of
 * a `g` header: they are defaults for every later member, so one that does not apply to this
 * member's type is skipped silently.
 */
export function applyPaxRecord(entry: Entry, state: PaxState, rec: PaxRecord, global = false): void {
  const { key, value } = rec;
  if (!appliesTo(key, entry.type)) {
    if (!global) entry.notices.push(`pax keyword "${key}" does not apply to a ${entry.type}; ignored`);
    return;
  }
  let n: number | undefined;
  let ns: bigint | undefined;
  switch (key) {
    // An empty path or link target is no name at all (spec §4.3.3: not POSIX's "delete").
    case 'path':
      if (value.length === 0) return void badValue(entry, rec);
      entry.path = Buffer.from(value);
      return;
    case 'linkpath':
      if (value.length === 0) return void badValue(entry, rec);
      entry.linkTarget = Buffer.from(value);
      return;
    case 'size':
      if ((n = decimalOf(entry, rec)) !== undefined) entry.size = n;
      return;
    case 'uid':
      if ((n = decimalOf(entry, rec)) !== undefined) entry.uid = n;
      return;
    case 'gid':
      if ((n = decimalOf(entry, rec)) !== undefined) entry.gid = n;
      return;
    case 'uname':
      entry.uname = value.toString('utf8');
      return;
    case 'gname':
      entry.gname = value.toString('utf8');
      return;
    case 'mtime':
      if ((ns = timeOf(entry, rec)) !== undefined) entry.mtimeNs = ns;
      return;
    case 'atime':
      if ((ns = timeOf(entry, rec)) !== undefined) entry.atimeNs = ns;
      return;
    case 'ctime':
      if ((ns = timeOf(entry, rec)) !== undefined) entry.ctimeNs = ns;
      return;
    case 'SCHILY.devmajor':
      if ((n = decimalOf(entry, rec)) !== undefined) entry.devMajor = n;
      return;
    case 'SCHILY.devminor':
      if ((n = decimalOf(entry, rec)) !== undefined) entry.devMinor = n;
      return;
    case 'SCHILY.realsize':
    case 'GNU.sparse.realsize':
    case 'GNU.sparse.size':
      if ((n = decimalOf(entry, rec)) !== undefined) state.sparseRealSize = n;
      return;
    case 'GNU.sparse.major':
      if ((n = decimalOf(entry, rec)) !== undefined) state.sparseMajor = n;
      return;
    case 'GNU.sparse.minor':
      if ((n = decimalOf(entry, rec)) !== undefined) state.sparseMinor = n;
      return;
    case 'GNU.sparse.name':
      state.sparseName = Buffer.from(value);
      return;
    case 'GNU.sparse.numblocks':
      state.sparseMap = [];
      return;
    case 'GNU.sparse.offset':
    case 'GNU.sparse.numbytes':
      // Sparse 0.0 repeats these keys in pairs, against pax's "last one wins".
      if ((n = decimalOf(entry, rec)) !== undefined) (state.sparseMap ??= []).push(n);
      return;
    case 'GNU.sparse.map': {
      const fields = value.toString('utf8').split(',').filter((s) => s !== '');
      const nums = fields.map(Number);
      if (fields.some((f) => !/^\d{1,16}$/.test(f)) || nums.some((n) => !Number.isSafeInteger(n)) || nums.length % 2) return void badValue(entry, rec);
      state.sparseMap = nums;
      return;
    }
    case SELINUX_KEY:
      state.rhtSelinux = stripNul(value).toString('utf8');
      return;
    case ACL_ACCESS_KEY:
      state.aclTextAccess = value.toString('utf8');
      return;
    case ACL_DEFAULT_KEY:
      state.aclTextDefault = value.toString('utf8');
      return;
    case 'SCHILY.fflags':
      if (value.length) entry.warnings.push(`file flags "${value.toString('utf8')}" (SCHILY.fflags) are not restored by portarc`);
      return;
  }
  if (key.startsWith(XATTR_SCHILY)) {
    (state.schily ??= new Map()).set(key.slice(XATTR_SCHILY.length), Buffer.from(value));
    return;
  }
  if (key.startsWith(XATTR_LIBARCHIVE)) {
    const decoded = decodeBase64Strict(value.toString('latin1').replace(/_/g, '='));
    if (!decoded) return void entry.warnings.push(`pax keyword "${key}" is not valid base64; ignored`);
    (state.libarchive ??= new Map()).set(urlDecodeXattrName(key.slice(XATTR_LIBARCHIVE.length)), decoded);
    return;
  }
  if (!isKnownPaxKey(key)) entry.notices.push(`unknown pax keyword "${key}" ignored`);
}

function stripNul(v: Buffer): Buffer {
  let end = v.length;
  while (end > 0 && v[end - 1] === 0) end--;
  return v.subarray(0, end);
}

/**
 * Resolve the gathered vendor records into the entry's xattrs, label and ACLs.
 * - libarchive writes every xattr twice (SCHILY with URL-escaped names, LIBARCHIVE in base64);
 *   LIBARCHIVE is exact, so a SCHILY name that URL-decodes (once, from the bytes as written) to a
 *   LIBARCHIVE name is the same xattr. Any other SCHILY name is read by GNU tar's rule.
 * - RHT.security.selinux wins over an xattr copy of the label (GNU tar's rule).
 * - SCHILY.acl text wins over a raw system.posix_acl_* xattr (GNU tar --xattrs writes both).
 */
export function finishPax(entry: Entry, state: PaxState): void {
  const { schily, libarchive } = state;
  // Most members have none of these: nothing to resolve.
  if (!schily && !libarchive && state.rhtSelinux === undefined && state.aclTextAccess === undefined && state.aclTextDefault === undefined) return;
  const xattrs = new Map<string, Buffer>();
  for (const [raw, value] of schily ?? []) {
    if (!libarchive?.has(urlDecodeXattrName(raw))) xattrs.set(unescapeSchilyName(raw), value);
  }
  for (const [name, value] of libarchive ?? []) xattrs.set(name, value);

  const label = xattrs.get(SELINUX_XATTR);
  xattrs.delete(SELINUX_XATTR);
  if (state.rhtSelinux !== undefined) entry.selinux = state.rhtSelinux;
  else if (label !== undefined) entry.selinux = stripNul(label).toString('utf8');

  for (const [xattr, text, field] of [
    [ACL_ACCESS_XATTR, state.aclTextAccess, 'aclAccess'],
    [ACL_DEFAULT_XATTR, state.aclTextDefault, 'aclDefault'],
  ] as const) {
    const raw = xattrs.get(xattr);
    xattrs.delete(xattr);
    try {
      if (text !== undefined) entry[field] = parseAclText(text);
      else if (raw !== undefined) entry[field] = decodeAclXattr(raw);
    } catch (err) {
      entry.warnings.push(`${field === 'aclAccess' ? 'access' : 'default'} ACL not readable: ${(err as Error).message}`);
    }
  }
  for (const [name, value] of xattrs) entry.xattrs.set(name, value);
}

// ---- writing (spec §5.1: keywords written and when) ----

export interface PaxPlan {
  records: Buffer[];
  /** True when the ustar fields alone put the member at the right path with the right size. */
  ustarLocates: boolean;
}

/**
 * The metadata records for an entry, other than path/linkpath/size/uid/gid (decided by the writer
 * from the ustar limits). `ustarLocates` tells whether a reader that drops the whole x header
 * (7-Zip does when any record holds a NUL byte) still extracts the member to the right place.
 */
export function metadataRecords(entry: Entry, ustarLocates: boolean): Buffer[] {
  const out: Buffer[] = [];
  const ns = (key: string, v: bigint | undefined) => v !== undefined && out.push(formatPaxRecord(key, formatPaxTime(v)));
  if (entry.mtimeNs % 1_000_000_000n !== 0n || entry.mtimeNs < 0n || entry.mtimeNs > 8589934591_000_000_000n) ns('mtime', entry.mtimeNs);
  ns('atime', entry.atimeNs);
  ns('ctime', entry.ctimeNs);
  for (const [name, value] of sortedXattrs(entry)) {
    if (value.includes(0) && !ustarLocates) {
      // A NUL would make 7-Zip drop the header and with it the long path: use libarchive's base64.
      out.push(formatPaxRecord(XATTR_LIBARCHIVE + urlEncodeXattrName(name), base64Unpadded(value)));
    } else {
      out.push(formatPaxRecord(XATTR_SCHILY + escapeXattrName(name), value));
    }
  }
  if (entry.selinux !== undefined && entry.selinux !== '') out.push(formatPaxRecord(SELINUX_KEY, entry.selinux));
  if (entry.aclAccess?.length) out.push(formatPaxRecord(ACL_ACCESS_KEY, formatAclText(entry.aclAccess)));
  if (entry.aclDefault?.length) out.push(formatPaxRecord(ACL_DEFAULT_KEY, formatAclText(entry.aclDefault)));
  return out;
}
