// The entry model: the one shape every layer (tar, fs, api, cli) meets at.
// Spec: spec/portarc-1.md §3 (entry model). Nothing here knows about containers or disks.

import { isUtf8 } from 'node:buffer';

/** What kind of filesystem object an entry describes. */
export type EntryType =
  | 'file'
  | 'directory'
  | 'symlink'
  | 'hardlink'
  | 'fifo'
  | 'chardev'
  | 'blockdev';

/** One POSIX.1e ACL entry. `id` and `name` are only set for named user/group entries. */
export interface AclEntry {
  tag: 'user_obj' | 'user' | 'group_obj' | 'group' | 'mask' | 'other';
  /** rwx bits: r=4, w=2, x=1 */
  perm: number;
  id?: number;
  name?: string;
}

/** A run of real data in a sparse file; everything outside the runs is a hole. */
export interface SparseRun {
  offset: number;
  length: number;
}

export interface Entry {
  /** The path as raw bytes, relative, `/`-separated, no trailing slash. Byte-exact. */
  path: Buffer;
  /** The path for display: UTF-8 where valid, `\xNN` escapes for the other bytes. */
  name: string;
  type: EntryType;
  /** Permission bits including setuid, setgid and sticky (the low 12 bits of st_mode). */
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  /** Times in nanoseconds since the Unix epoch; may be negative (before 1970). */
  mtimeNs: bigint;
  atimeNs?: bigint;
  ctimeNs?: bigint;
  /** Logical size of the content in bytes (the real size for sparse files); 0 for non-files. */
  size: number;
  /** Symlink target, or for hardlinks the archive path of the entry it links to. */
  linkTarget?: Buffer;
  devMajor?: number;
  devMinor?: number;
  /** Extended attributes other than the SELinux label and the POSIX ACLs, name → raw value. */
  xattrs: Map<string, Buffer>;
  /** SELinux context as text, without the trailing NUL the kernel may store. */
  selinux?: string;
  aclAccess?: AclEntry[];
  aclDefault?: AclEntry[];
  /** Data runs for sparse files; absent for dense files. */
  sparse?: SparseRun[];
  /**
   * Something in the archive that could not be used as written (an invalid value dropped,
   * metadata that cannot be restored...). Never fatal; the CLI exits 1. Spec §6.5.
   */
  warnings: string[];
  /**
   * Something the reader skipped by rule, losing nothing it knows of: an unknown keyword or extra
   * field, a keyword that does not apply to the entry's type. Printed, but the CLI exits 0 (as GNU
   * tar does for unknown keywords). Spec §6.5.
   */
  notices: string[];
  /**
   * Create: what of the file on disk this entry does not carry (an xattr whose name is not UTF-8,
   * left out). The archive is written without it and the CLI exits 2, naming it: a backup that is
   * not exact is a failure, never a warning.
   */
  losses?: string[];
}

/** Fill in the defaults so that callers only name what they know. */
export function makeEntry(init: Omit<Partial<Entry>, 'path'> & { path: Buffer | string; type: EntryType }): Entry {
  const path = typeof init.path === 'string' ? Buffer.from(init.path, 'utf8') : init.path;
  return {
    mode: init.type === 'directory' ? 0o755 : 0o644,
    uid: 0,
    gid: 0,
    uname: '',
    gname: '',
    mtimeNs: 0n,
    size: 0,
    xattrs: new Map(),
    warnings: [],
    notices: [],
    ...init,
    path,
    name: displayName(path),
  };
}

/**
 * UTF-8 where the bytes are valid UTF-8; each byte outside a valid sequence, and each control
 * character (0x00–0x1f, 0x7f: a name must not drive the terminal it is printed on), as `\xNN`.
 */
/**
 * The entry's xattrs in ascending order of name (UTF-16 code units), the order both containers
 * write them in (spec/portarc-1.md §5.1.3, spec/zip-profile.md): the bytes do not depend on the
 * order a filesystem listed them in.
 */
export function sortedXattrs(entry: Entry): Array<[string, Buffer]> {
  return [...entry.xattrs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

export function displayName(bytes: Buffer): string {
  if (isUtf8(bytes) && !/[\x00-\x1f\x7f]/.test(bytes.toString('latin1'))) return bytes.toString('utf8');
  let out = '';
  let i = 0;
  while (i < bytes.length) {
    const len = utf8SeqLen(bytes, i);
    if (len > 0 && (len > 1 || (bytes[i]! >= 0x20 && bytes[i] !== 0x7f))) {
      out += bytes.subarray(i, i + len).toString('utf8');
      i += len;
    } else {
      out += '\\x' + bytes[i]!.toString(16).padStart(2, '0');
      i += 1;
    }
  }
  return out;
}


/** Length of the valid UTF-8 sequence starting at i, or 0 if the byte there does not start one. */
function utf8SeqLen(b: Buffer, i: number): number {
  const c = b[i]!;
  if (c < 0x80) return 1;
  const len = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
  if (len === 0 || i + len > b.length) return 0;
  return isUtf8(b.subarray(i, i + len)) ? len : 0;
}
