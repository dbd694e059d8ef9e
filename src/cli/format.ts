// How entries are shown: `ls -l`-style lines and the JSON objects of `list --json`.

import { isUtf8 } from 'node:buffer';
import { effectiveMode, formatAclText } from '../model/acl.js';
import { displayName, type Entry } from '../model/entry.js';

const TYPE_CHAR: Record<Entry['type'], string> = {
  file: '-',
  directory: 'd',
  symlink: 'l',
  hardlink: 'h',
  fifo: 'p',
  chardev: 'c',
  blockdev: 'b',
};

/** `ls -l` mode letters of the mode `extract` produces (with an access ACL, the group bits are the mask's). */
export function modeString(e: Entry): string {
  const m = effectiveMode(e.mode, e.aclAccess);
  const rwx = (shift: number, special: number, ch: string) =>
    (m & (4 << shift) ? 'r' : '-') +
    (m & (2 << shift) ? 'w' : '-') +
    (m & special ? (m & (1 << shift) ? ch : ch.toUpperCase()) : m & (1 << shift) ? 'x' : '-');
  return TYPE_CHAR[e.type] + rwx(6, 0o4000, 's') + rwx(3, 0o2000, 's') + rwx(0, 0o1000, 't');
}

function isoTime(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
}

export function lsLine(e: Entry): string {
  const owner = `${e.uname || e.uid}/${e.gname || e.gid}`;
  const size = e.type === 'chardev' || e.type === 'blockdev' ? `${e.devMajor},${e.devMinor}` : String(e.size);
  // Escaped as names are: a newline in a target would split the line, a byte that is not UTF-8 be lost.
  const link = e.linkTarget ? (e.type === 'symlink' ? ' -> ' : ' link to ') + displayName(e.linkTarget) : '';
  // '+': the entry carries more than the mode says: xattrs, an SELinux label or ACLs (a directory's
  // default ACL too, which the mode never shows).
  const extras = e.xattrs.size || e.selinux || e.aclAccess?.length || e.aclDefault?.length ? '+' : ' ';
  return `${modeString(e)}${extras} ${owner.padEnd(17)} ${size.padStart(10)} ${isoTime(e.mtimeNs)} ${e.name}${link}`;
}

/** A path or link target: text where it is UTF-8, plus the exact bytes in base64 where it is not. */
function bytesField(out: Record<string, unknown>, key: string, b: Buffer | undefined): void {
  if (!b) return;
  out[key] = b.toString('utf8');
  if (!isUtf8(b)) out[`${key}Base64`] = b.toString('base64');
}

/** Every field of the entry; times as strings of nanoseconds (they exceed 2^53), xattr values in base64. */
export function entryJson(e: Entry & { offset?: number }): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  bytesField(o, 'path', e.path);
  if (!isUtf8(e.path)) o.path = e.name;
  Object.assign(o, {
    type: e.type,
    size: e.size,
    mode: effectiveMode(e.mode, e.aclAccess),
    uid: e.uid,
    gid: e.gid,
    uname: e.uname,
    gname: e.gname,
    mtimeNs: e.mtimeNs.toString(),
  });
  if (e.atimeNs !== undefined) o.atimeNs = e.atimeNs.toString();
  if (e.ctimeNs !== undefined) o.ctimeNs = e.ctimeNs.toString();
  bytesField(o, 'linkTarget', e.linkTarget);
  if (e.devMajor !== undefined) Object.assign(o, { devMajor: e.devMajor, devMinor: e.devMinor });
  o.xattrs = Object.fromEntries([...e.xattrs].map(([k, v]) => [k, v.toString('base64')]));
  if (e.selinux !== undefined) o.selinux = e.selinux;
  if (e.aclAccess) o.aclAccess = formatAclText(e.aclAccess);
  if (e.aclDefault) o.aclDefault = formatAclText(e.aclDefault);
  if (e.sparse) o.sparse = e.sparse;
  if (e.offset !== undefined) o.offset = e.offset;
  if (e.warnings.length) o.warnings = e.warnings;
  if (e.notices.length) o.notices = e.notices;
  return o;
}
