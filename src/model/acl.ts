// POSIX.1e ACLs in their two encodings: the Linux binary xattr (`system.posix_acl_access`,
// `system.posix_acl_default`) and star's text form (`SCHILY.acl.access`, `SCHILY.acl.default`).
// Spec: spec/portarc-1.md §5.4 (ACLs). Name resolution is the filesystem layer's job, not this one.

import type { AclEntry } from './entry.js';

const TAG_CODE: Record<AclEntry['tag'], number> = {
  user_obj: 0x01,
  user: 0x02,
  group_obj: 0x04,
  group: 0x08,
  mask: 0x10,
  other: 0x20,
};
const CODE_TAG = new Map(Object.entries(TAG_CODE).map(([tag, code]) => [code, tag as AclEntry['tag']]));
const ACL_VERSION = 2;
const UNDEFINED_ID = 0xffffffff;

export class AclError extends Error {}

/** Decode the kernel's binary form: u32 version 2, then (u16 tag, u16 perm, u32 id) entries, LE. */
export function decodeAclXattr(buf: Buffer): AclEntry[] {
  if (buf.length < 4 || (buf.length - 4) % 8 !== 0) throw new AclError(`ACL xattr of ${buf.length} bytes is malformed`);
  if (buf.readUInt32LE(0) !== ACL_VERSION) throw new AclError(`ACL xattr version ${buf.readUInt32LE(0)} is not 2`);
  const out: AclEntry[] = [];
  for (let at = 4; at < buf.length; at += 8) {
    const tag = CODE_TAG.get(buf.readUInt16LE(at));
    if (!tag) throw new AclError(`unknown ACL tag 0x${buf.readUInt16LE(at).toString(16)}`);
    const entry: AclEntry = { tag, perm: buf.readUInt16LE(at + 2) & 7 };
    if (tag === 'user' || tag === 'group') entry.id = buf.readUInt32LE(at + 4);
    out.push(entry);
  }
  return out;
}

/** Kernel order: USER_OBJ, USER (by id), GROUP_OBJ, GROUP (by id), MASK, OTHER. */
export function sortAcl(entries: AclEntry[]): AclEntry[] {
  return [...entries].sort((a, b) => TAG_CODE[a.tag] - TAG_CODE[b.tag] || (a.id ?? 0) - (b.id ?? 0));
}

/** Encode for lsetxattr. Named entries must have numeric ids by now. */
export function encodeAclXattr(entries: AclEntry[]): Buffer {
  const sorted = sortAcl(entries);
  const buf = Buffer.alloc(4 + 8 * sorted.length);
  buf.writeUInt32LE(ACL_VERSION, 0);
  sorted.forEach((e, i) => {
    const at = 4 + 8 * i;
    buf.writeUInt16LE(TAG_CODE[e.tag], at);
    buf.writeUInt16LE(e.perm & 7, at + 2);
    const named = e.tag === 'user' || e.tag === 'group';
    if (named && e.id === undefined) throw new AclError(`ACL entry ${e.tag}:${e.name ?? ''} has no numeric id`);
    buf.writeUInt32LE(named ? e.id! : UNDEFINED_ID, at + 4);
  });
  return buf;
}

function permText(perm: number): string {
  return (perm & 4 ? 'r' : '-') + (perm & 2 ? 'w' : '-') + (perm & 1 ? 'x' : '-');
}

/**
 * star's text form: comma-separated short entries; named entries carry the name (or the id when
 * no name is known) and the numeric id as a 4th field, e.g. `user:lisa:r-x:502`.
 */
export function formatAclText(entries: AclEntry[]): string {
  return sortAcl(entries)
    .map((e) => {
      const kind = e.tag.startsWith('user') ? 'user' : e.tag.startsWith('group') ? 'group' : e.tag;
      if (e.tag !== 'user' && e.tag !== 'group') return `${kind}::${permText(e.perm)}`;
      const qualifier = e.name || String(e.id);
      const idField = e.name && e.id !== undefined ? `:${e.id}` : '';
      return `${kind}:${qualifier}:${permText(e.perm)}${idField}`;
    })
    .join(',');
}

const KIND: Record<string, 'user' | 'group' | 'mask' | 'other'> = {
  user: 'user',
  u: 'user',
  group: 'group',
  g: 'group',
  mask: 'mask',
  m: 'mask',
  other: 'other',
  o: 'other',
};

/**
 * Parse the text forms GNU tar (newline-separated, names only), bsdtar and star (comma-separated,
 * 4th numeric field) write. A numeric qualifier is an id; a name with a 4th field gives both.
 * The result is in kernel order.
 */
export function parseAclText(text: string): AclEntry[] {
  const out: AclEntry[] = [];
  for (const raw of text.split(/[,\n]/)) {
    const item = raw.replace(/#.*/, '').trim();
    if (!item) continue;
    const parts = item.split(':');
    const kind = KIND[parts[0]!];
    if (!kind || parts.length < 3 || parts.length > 4) throw new AclError(`ACL entry "${item}" is malformed`);
    const qualifier = parts[1]!;
    const perm = parsePerm(parts[2]!, item);
    if (kind === 'mask' || kind === 'other') {
      out.push({ tag: kind, perm });
      continue;
    }
    if (qualifier === '') {
      out.push({ tag: kind === 'user' ? 'user_obj' : 'group_obj', perm });
      continue;
    }
    const entry: AclEntry = { tag: kind, perm };
    if (/^\d+$/.test(qualifier)) entry.id = Number(qualifier);
    else entry.name = qualifier;
    if (parts[3] !== undefined && parts[3] !== '') {
      if (!/^\d+$/.test(parts[3])) throw new AclError(`ACL entry "${item}" has a non-numeric id field`);
      entry.id = Number(parts[3]);
    }
    out.push(entry);
  }
  // bsdtar writes entries in no fixed order: keep the kernel's (§5.4), so ACLs compare equal.
  return sortAcl(out);
}

function parsePerm(text: string, item: string): number {
  let perm = 0;
  for (const c of text) {
    if (c === 'r') perm |= 4;
    else if (c === 'w') perm |= 2;
    else if (c === 'x') perm |= 1;
    else if (c !== '-') throw new AclError(`ACL entry "${item}" has bad permissions "${text}"`);
  }
  return perm;
}

/** True when the ACL says nothing beyond the mode bits (only the three base entries). */
export function isTrivialAcl(entries: AclEntry[]): boolean {
  return entries.every((e) => e.tag === 'user_obj' || e.tag === 'group_obj' || e.tag === 'other');
}

/**
 * The mask an access ACL takes on disk: its `mask::` entry, or, when it has named entries but no
 * mask (Python and some tools write such ACLs; the kernel refuses them with EINVAL), the one
 * `setfacl` computes: the union of the named users', named groups' and owning group's perms.
 * Undefined for an ACL of the three base entries only (it needs no mask).
 */
export function aclMask(entries: AclEntry[]): number | undefined {
  const mask = entries.find((e) => e.tag === 'mask');
  if (mask) return mask.perm & 7;
  if (isTrivialAcl(entries)) return undefined;
  return entries.reduce((m, e) => (e.tag === 'user' || e.tag === 'group' || e.tag === 'group_obj' ? m | (e.perm & 7) : m), 0);
}

/** The access ACL as it is set on disk: a computed `mask::` added where one is needed and missing. */
export function completeAcl(entries: AclEntry[]): AclEntry[] {
  if (entries.some((e) => e.tag === 'mask')) return entries;
  const mask = aclMask(entries);
  return mask === undefined ? entries : sortAcl([...entries, { tag: 'mask', perm: mask }]);
}

/**
 * The mode bits a restore produces (spec §9.1): with an access ACL that has (or needs) a mask, the
 * group bits are the mask's; bsdtar stores the `group::` entry's bits in the mode field instead.
 * `list` shows this mode, so it matches what `extract` makes.
 */
export function effectiveMode(mode: number, access: AclEntry[] | undefined): number {
  const mask = access?.length ? aclMask(access) : undefined;
  return mask === undefined ? mode : (mode & ~0o070) | (mask << 3);
}
