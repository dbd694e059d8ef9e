// Platform adapters: what a restore can put on this system's disk, and under which names. One
// interface, three adapters (Linux, macOS, Windows), chosen by process.platform; the rules are pure
// functions so that every platform's rules are unit-tested on every platform.
// Spec: spec/portarc-1.md §9.7 (platforms: Windows names, what each platform cannot hold).
//
// The Restorer asks the adapter; it never tests process.platform itself. Linux is today's code:
// every answer below is "as POSIX" for it. What an adapter cannot hold is a loss, reported per
// entry by the Restorer (or a note, for what the profile leaves out by design: §9.4).

import { POSIX_RULES, type PathRules } from './paths.js';
import { fromWindowsName, fromWindowsTarget, toWindowsName, toWindowsTarget, windowsTraversal } from './winnames.js';

export interface Platform {
  readonly name: 'linux' | 'macos' | 'windows';
  /** How member paths split: `/` only on every platform (names are POSIX bytes, §9.2). */
  readonly pathRules: PathRules;
  /** Why a member path is refused here although POSIX would take it (Windows traversal), or undefined. */
  refusePath(path: Buffer): string | undefined;
  /** The on-disk name (bytes, as Node takes them) of one member path component. */
  diskName(part: Buffer): Buffer;
  /** The inverse, for scan: the member name component of a name read from disk. */
  memberName(name: Buffer): Buffer;
  /** The symlink target to give the OS for a member's target. */
  diskTarget(target: Buffer): Buffer | string;
  /** The inverse, for scan: the member's target of a link read from disk. */
  memberTarget(target: Buffer): Buffer;
  /**
   * Whether names that differ in case (and, on macOS, Unicode normalisation) are one file:
   * 'always' for the platform's default filesystems, 'probe' to ask the destination.
   */
  readonly folds: 'always' | 'probe';
  /** The key two names share when the filesystem makes them one file (input: a name's UTF-8 text). */
  foldKey(name: string): string;
  /** Why owners (uid/gid) cannot be set here, or undefined. */
  readonly owners: string | undefined;
  /**
   * The permission bits this platform keeps of `mode` (type: 'directory' or another), to compare
   * with what the archive says: POSIX keeps all of them; Windows only a read-only flag.
   */
  keptMode(mode: number, isDir: boolean): number;
  /** Why this xattr cannot be restored here, or undefined when it is to be tried. */
  xattr(name: string): string | undefined;
  /** Why an SELinux label cannot be restored here, or undefined. */
  readonly selinux: string | undefined;
  /** Why POSIX ACLs cannot be restored here, or undefined. */
  readonly acls: string | undefined;
  /** Why fifos and device nodes cannot be made here, or undefined. */
  readonly specials: string | undefined;
  /**
   * Symlinks are made after every other entry, and may fail for want of a privilege. Windows: a
   * link is a file or a directory link, decided by what its target is when it is made, so the
   * target must exist by then; and without Developer Mode creation fails (EPERM; Wine makes
   * nothing and says yes): then a file target is copied and the link reported (§9.7).
   */
  readonly symlinksLast: boolean;
  /**
   * fsync a file while its writing descriptor is open: on Windows FlushFileBuffers needs write
   * access, which a read-only file (mode applied before the rename) no longer grants.
   */
  readonly fsyncWhileOpen: boolean;
  /**
   * A short path naming a directory held open as `fd`, for a scan whose paths grow past what the
   * system takes in one path (PATH_MAX: GNU tar archives such trees through directory
   * descriptors): Linux's /proc/self/fd/N. Undefined where there is none: such a path then fails.
   */
  readonly dirAlias: ((fd: number) => Buffer) | undefined;
}

const same = (b: Buffer) => b;

/** Linux (and every other POSIX system): names are bytes, everything is restored. */
export const LINUX: Platform = {
  name: 'linux',
  pathRules: POSIX_RULES,
  refusePath: () => undefined,
  diskName: same,
  memberName: same,
  diskTarget: same,
  memberTarget: same,
  folds: 'probe',
  // ext4 casefold and the like: case, and canonical equivalence.
  foldKey: (name) => name.normalize('NFC').toLowerCase(),
  owners: undefined,
  keptMode: (mode) => mode & 0o7777,
  xattr: () => undefined,
  selinux: undefined,
  acls: undefined,
  specials: undefined,
  symlinksLast: false,
  fsyncWhileOpen: false,
  dirAlias: (fd) => Buffer.from(`/proc/self/fd/${fd}`),
};

/** Linux namespaces that mean nothing on macOS (whose xattr names have no namespace). */
const LINUX_ONLY_XATTR = /^(security|system|trusted)\./;

/**
 * macOS: xattrs kept verbatim (com.apple.* included: resource forks, quarantine, Finder info; a
 * Linux `user.x` keeps its name); no SELinux; POSIX ACLs are not mapped to macOS's NFSv4-style
 * ones; APFS and HFS+ fold case and Unicode normalisation by default (probed anyway: a volume may
 * be case-sensitive).
 */
export const MACOS: Platform = {
  ...LINUX,
  name: 'macos',
  folds: 'probe',
  // APFS/HFS+ compare canonically decomposed, case-folded names.
  foldKey: (name) => name.normalize('NFD').toLowerCase(),
  xattr: (name) => (LINUX_ONLY_XATTR.test(name) ? `"${name}" is a Linux-only namespace; macOS has no equivalent` : undefined),
  selinux: 'macOS has no SELinux labels',
  acls: 'POSIX ACLs are not mapped to macOS ACLs',
  dirAlias: undefined,
};

/**
 * Windows: names mapped by the reversible rule of winnames.ts, `\`-traversal and drive letters
 * refused; no owners, Unix modes (only read-only), xattrs, SELinux, POSIX ACLs, fifos or devices;
 * symlinks where the process may make them, else the fallback; NTFS folds case, not normalisation.
 */
/**
 * NTFS's case folding: each character to its upper case, one for one (NTFS's upcase table). Not
 * String#toUpperCase, which expands some (ß → SS, ﬀ → FF): names NTFS holds side by side were
 * refused as collisions.
 */
function upcase(name: string): string {
  let out = '';
  for (const ch of name) {
    const up = ch.toUpperCase();
    out += up.length === ch.length ? up : ch;
  }
  return out;
}

export const WINDOWS: Platform = {
  name: 'windows',
  pathRules: POSIX_RULES,
  refusePath: windowsTraversal,
  diskName: (part) => Buffer.from(toWindowsName(part), 'utf8'),
  memberName: (name) => fromWindowsName(name.toString('utf8')),
  diskTarget: toWindowsTarget,
  memberTarget: (target) => fromWindowsTarget(target.toString('utf8')),
  folds: 'always',
  foldKey: upcase,
  owners: 'Windows has no uid/gid owners',
  keptMode: (mode, isDir) => {
    // What Windows gives back (libuv): rw for all, or r only with the read-only attribute; x on directories.
    const base = mode & 0o200 ? 0o666 : 0o444;
    return isDir ? base | 0o111 : base;
  },
  xattr: (name) => `Windows has no extended attributes ("${name}")`,
  selinux: 'Windows has no SELinux labels',
  acls: 'POSIX ACLs are not mapped to Windows ACLs',
  specials: 'Windows has no fifos or device nodes',
  symlinksLast: true,
  fsyncWhileOpen: true,
  dirAlias: undefined,
};

/** The adapter for `platform` (default: this process's). */
export function platformFor(platform: NodeJS.Platform = process.platform): Platform {
  if (platform === 'win32') return WINDOWS;
  if (platform === 'darwin') return MACOS;
  return LINUX;
}

/** This process's adapter. */
export function hostPlatform(): Platform {
  return platformFor();
}

/** A disk name as it may be shown: escape-range characters as U+F0xx (they render as nothing). */
export function showName(name: string): string {
  return name.replace(/[\uf000-\uf0ff]/g, (c) => `<U+${c.charCodeAt(0).toString(16).toUpperCase()}>`);
}
