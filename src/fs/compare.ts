// Compare entries with the tree a restore made: `verify -C` (spec/manifest.md §8.4).
// Read-only: lstat, readlink, xattrs, the files' bytes (opened O_NOATIME where allowed, so that a
// check leaves even atimes as they were). What is expected is what restore makes of the entry
// under the same profile (profile.ts), so a fresh extract always compares clean.

import { createHash } from 'node:crypto';
import { closeSync, constants, lstatSync, openSync, readSync, readlinkSync, type BigIntStats } from 'node:fs';
import { isUtf8 } from 'node:buffer';
import { decodeAclXattr, encodeAclXattr, formatAclText } from '../model/acl.js';
import { displayName, type AclEntry, type Entry, type EntryType } from '../model/entry.js';
import { hostPathRules, keyOf, memberPath, symlinkOutside, type PathRules } from './paths.js';
import { accessAclOf, modeOf, ownerOf, resolveAcl, restoreProfile, settableAcl, specialRefused, storedAccessAcl, withheldXattr, type Profile, type ProfileOptions } from './profile.js';
import { DeepPaths } from './deep-paths.js';
import { NameList } from './names.js';
import { KeySet } from './keyset.js';
import { hostPlatform, type Platform } from './platform.js';
import { describeErrno } from '../model/errors.js';
import { processRuns } from '../io/own-files.js';
import { kindOfMode } from './scan.js';
import { loadSys, type Sys, type XattrMap } from './sys.js';

/** The property a difference is about. */
export type TreeProperty =
  | 'missing'
  | 'extra'
  | 'type'
  | 'size'
  | 'content'
  | 'mode'
  | 'uid'
  | 'gid'
  | 'mtime'
  | 'atime'
  | 'target'
  | 'hardlink'
  | 'device'
  | 'xattr'
  | 'selinux'
  | 'acl'
  | 'default-acl'
  | 'unreadable';

export interface TreeDifference {
  /** Path relative to the directory, for display (`.` for the directory itself). */
  path: string;
  property: TreeProperty;
  /** The xattr's name, for `xattr`. */
  name?: string;
  /** What the archive says (as restore would make it), `none` when it has nothing. */
  archive: string;
  /** What is on disk, `none` when there is nothing. */
  disk: string;
}

/**
 * What an extra name is when it is a restore's temporary file (`.portarc-PID-N.tmp`, restore.ts):
 * left by an extraction that was killed (its process is gone: safe to remove), or one still running.
 */
function leftTemporary(name: string): string {
  const m = /^\.portarc-(\d+)-\d+\.tmp$/.exec(name);
  if (!m) return '';
  const pid = Number(m[1]);
  return processRuns(pid)
    ? ` (a temporary file of an extraction still running, process ${pid})`
    : ` (a temporary file left by an extraction that was stopped: process ${pid} is not running; remove it)`;
}

/** One line: `PATH: PROPERTY: archive A, disk B`. */
export function describeDifference(d: TreeDifference): string {
  return `${d.path}: ${d.property}${d.name === undefined ? '' : ` ${d.name}`}: archive ${d.archive}, disk ${d.disk}`;
}

export interface CompareOptions extends ProfileOptions {
  /** Compare atimes too, except of directories and symlinks (listing or reading them moves theirs). */
  atime?: boolean;
  /** Do not look for files the archive does not hold. */
  ignoreExtra?: boolean;
  pathRules?: PathRules;
  sys?: Sys;
  /**
   * The platform adapter restore used (default: this process's; spec §9.7): its names on disk
   * (Windows: the name rule), the mode bits it holds, what metadata it cannot hold.
   */
  platform?: Platform;
}

interface Pending {
  entry: Entry;
  /** The member's path components, and the names they have on disk (the platform's name rule). */
  parts: Buffer[];
  disk: Buffer[];
  abs: Buffer;
  key: string;
  /** Expected content digest (files). */
  sha256?: string;
}

const SLASH = Buffer.from('/');
const BATCH = 256;
const CHUNK = 1 << 20;
/** Xattrs compared on their own, not as plain xattrs. */
const OWN = new Set(['security.selinux', 'system.posix_acl_access', 'system.posix_acl_default']);

export class TreeComparer {
  readonly differences: TreeDifference[] = [];
  /** What was not compared, and why (the profile does not restore it, a refused member). */
  readonly notes: string[] = [];
  /** Entries compared. */
  compared = 0;
  private root: Buffer;
  /** Paths past PATH_MAX, named through directories held open (deep-paths.ts). */
  private paths: DeepPaths;
  private platform: Platform;
  private sys: Sys;
  private profile: Profile;
  private rules: PathRules;
  private pending: Pending[] = [];
  /** Paths (keys) of the entries, and of their parent directories: what is not `extra`. */
  private entryKeys = new KeySet();
  private parentKeys = new KeySet();
  /** Directories the archive holds: only below these is anything extra. */
  private held = new KeySet();
  /** Members not expected on disk (refused by the profile): not compared. */
  private refusedKeys = new KeySet();
  /** Without the addon restore sets times through Node's float seconds: within a microsecond (two on Windows). */
  private timeSlack: bigint;
  private noatime = constants.O_NOATIME ?? 0;
  /** Names the archive gives a file that hardlinks name (key → count), for files with hardlinks. */
  private names = new Map<string, number>();
  /** Files whose inode has more than one link on disk, judged at the end against `names`. */
  private linked: { p: Pending; nlink: number; ino: bigint }[] = [];
  /** What each directory above a member is on disk (key → kind), looked at once. */
  private parentKinds = new Map<string, string>();

  constructor(
    dir: string,
    private opts: CompareOptions = {},
  ) {
    this.root = Buffer.from(dir);
    this.platform = opts.platform ?? hostPlatform();
    this.paths = new DeepPaths(this.root, this.platform.dirAlias);
    this.sys = opts.sys ?? loadSys();
    this.profile = restoreProfile(opts);
    this.rules = opts.pathRules ?? hostPathRules();
    // Windows keeps 100 ns units, reached from the microsecond seconds through a double: measured
    // up to 1.1 µs off (Wine, Node 20).
    this.timeSlack = this.sys.kind === 'native' ? 0n : this.platform.name === 'windows' ? 2000n : 1000n;
    // Said, so that a clean result claims no more than was compared (a change below it is not seen).
    if (this.timeSlack) this.notes.push(`times compared to the ${this.timeSlack === 1000n ? 'microsecond' : `${this.timeSlack / 1000n} microseconds`}: without portarc's native addon a restore cannot set nanoseconds`);
    if (!this.profile.sameOwner) this.notes.push('owners not compared: this profile does not restore them (the extracting user owns the files)');
  }

  /**
   * Queue an entry for comparison; `sha256` is its content digest (files). `optional`: compared only
   * when it is on disk (the manifest members, restored only when asked).
   */
  async add(entry: Entry, sha256?: string, optional = false): Promise<void> {
    const mp = memberPath(entry.path, { absolute: this.opts.absoluteNames, rules: this.rules });
    if (typeof mp === 'string') {
      this.notes.push(`${entry.name}: not compared: ${mp} (restore refuses it)`);
      return;
    }
    const { parts } = mp;
    const key = keyOf(parts);
    const disk = this.onDisk(parts);
    const abs = this.paths.path(disk);
    if (optional && !lstatSync(abs, { throwIfNoEntry: false })) return;
    // The manifest members on disk (extract --manifest): their directory holds nothing else, so
    // what else is there is extra (it was never looked at: evil files beside the manifest passed).
    if (optional && parts.length > 1) this.held.add(keyOf(parts.slice(0, -1)));
    // A later member of the same name replaces the earlier one on restore (tar's rule): only the
    // last is compared.
    if (this.entryKeys.has(key)) this.forget(key);
    const refused = specialRefused(entry.type, this.profile) ?? this.refusedLink(entry, parts);
    // A member restore refuses is not expected on disk: found there, it is extra (a device node,
    // a symlink out of the tree under --untrusted), never taken for the member.
    this.remember(parts, refused ? undefined : key, entry.type === 'directory');
    if (refused) {
      this.refusedKeys.add(key);
      this.notes.push(`${entry.name}: not expected on disk: ${refused.reason}`);
      return;
    }
    this.countLink(entry);
    this.pending.push({ entry, parts, disk, abs, key, sha256 });
    if (this.pending.length >= BATCH) await this.flush();
  }

  /**
   * How many names the archive gives each file: a file's link count on disk must be no more. A
   * hardlink outside the paths compared (verify -C PATH) still names its target's file.
   */
  countLink(entry: Entry): void {
    if (entry.type !== 'hardlink' || !entry.linkTarget) return;
    const t = memberPath(entry.linkTarget, { absolute: this.opts.absoluteNames, rules: this.rules });
    if (typeof t === 'string') return;
    const tk = keyOf(t.parts);
    this.names.set(tk, (this.names.get(tk) ?? 1) + 1);
  }

  /** Compare what is queued, then (unless ignoreExtra) list what is on disk and not in the archive. */
  async finish(): Promise<void> {
    try {
      await this.flush();
      // A file with more links than the archive gives it names shares its content with another
      // name (two files hardlinked together, or to a file outside the tree): a write to one
      // changes the other. (Fewer: a hardlink entry reports itself as a separate file.)
      for (const { p, nlink, ino } of this.linked) {
        const want = this.names.get(p.key) ?? 1;
        if (nlink > want) this.diff(p, 'hardlink', `${want} name${want === 1 ? '' : 's'} for this file`, `${nlink} links to its inode (${ino})`);
      }
      if (!this.opts.ignoreExtra) this.findExtras();
    } finally {
      this.paths.close();
    }
  }

  /** A member path's components as restore names them on disk (the platform's name rule, §9.7). */
  private onDisk(parts: Buffer[]): Buffer[] {
    return this.platform.name === 'windows' ? parts.map((part) => this.platform.diskName(part)) : parts;
  }

  private refusedLink(entry: Entry, parts: Buffer[]): { reason: string } | undefined {
    if (!this.profile.untrusted || entry.type !== 'symlink') return undefined;
    const outside = symlinkOutside(parts, entry.linkTarget ?? Buffer.alloc(0), this.rules);
    return outside ? { reason: `symlink target ${outside}; refused by --untrusted` } : undefined;
  }

  private remember(parts: Buffer[], key: string | undefined, directory: boolean): void {
    let k = '';
    for (let n = 0; n < parts.length - 1; n++) {
      k = n ? `${k}/${parts[n]!.toString('latin1')}` : parts[n]!.toString('latin1');
      this.parentKeys.add(k);
    }
    if (key === undefined) return;
    this.entryKeys.add(key);
    if (directory) this.held.add(key);
  }

  /** Drop what an earlier member of this name was found (or queued) to be. */
  private forget(key: string): void {
    const queued = this.pending.findIndex((p) => p.key === key);
    if (queued >= 0) this.pending.splice(queued, 1);
    else if (!this.refusedKeys.has(key)) {
      this.compared--;
      const path = show(key);
      for (let i = this.differences.length - 1; i >= 0; i--) if (this.differences[i]!.path === path) this.differences.splice(i, 1);
    }
    this.notes.push(`${show(key)}: in the archive more than once: the last one is compared (restore keeps it)`);
  }

  private diff(p: Pending, property: TreeProperty, archive: string, disk: string, name?: string): void {
    this.differences.push({ path: show(p.key), property, name, archive, disk });
  }

  private async flush(): Promise<void> {
    const batch = this.pending.splice(0);
    if (!batch.length) return;
    // Through a parent that is a symlink on disk, lstat would compare what it points to (outside
    // the tree, maybe): restore refuses to extract through one, so its members are not there.
    // One that cannot be looked at (a directory above it the user may not search) is unreadable:
    // that entry's difference, the rest still compared.
    const stats = batch.map((p) => {
      try {
        return this.parentsReal(p) ? lstatSync(p.abs, { bigint: true, throwIfNoEntry: false }) : undefined;
      } catch (err) {
        return err as Error;
      }
    });
    const present = batch.filter((_, i) => stats[i] && !(stats[i] instanceof Error));
    const xattrs = await this.sys.getXattrs(present.map((p) => p.abs));
    const byItem = new Map(present.map((p, i) => [p, xattrs[i]!]));
    for (const [i, p] of batch.entries()) {
      this.compared++;
      const st = stats[i];
      if (st instanceof Error) this.diff(p, 'unreadable', p.entry.type, `cannot be looked at: ${describeErrno(st as NodeJS.ErrnoException)}`);
      else this.compare(p, st, byItem.get(p));
    }
  }

  /**
   * Whether each directory above `p` is a directory on disk, not a symlink to one (one lstat per
   * directory, remembered); one that is not is reported once, as restore would have refused it.
   */
  private parentsReal(p: Pending): boolean {
    let key = '';
    for (let n = 0; n < p.parts.length - 1; n++) {
      key = n ? `${key}/${p.parts[n]!.toString('latin1')}` : p.parts[n]!.toString('latin1');
      let kind = this.parentKinds.get(key);
      if (kind === undefined) {
        const st = lstatSync(this.paths.path(p.disk.slice(0, n + 1)), { throwIfNoEntry: false });
        kind = !st ? 'none' : st.isDirectory() ? 'directory' : st.isSymbolicLink() ? 'symlink' : (kindOfMode(BigInt(st.mode)) ?? 'unknown');
        this.parentKinds.set(key, kind);
        // (A directory the archive holds is reported as itself, of another type.)
        if (kind === 'symlink' && !this.held.has(key)) this.differences.push({ path: show(key), property: 'type', archive: 'directory', disk: 'symlink (not followed: restore does not extract through one)' });
      }
      if (kind !== 'directory') return false;
    }
    return true;
  }

  private compare(p: Pending, st: BigIntStats | undefined, xattrs: Map<string, Buffer> | Error | undefined): void {
    const { entry } = p;
    if (!st) return this.diff(p, 'missing', entry.type, 'none');
    if (entry.type === 'hardlink') return this.compareLink(p, st);
    const type = kindOfMode(st.mode) ?? 'unknown';
    if (type !== entry.type) return this.diff(p, 'type', entry.type, type);
    if (entry.type === 'file') {
      // Checked at the end, when every hardlink naming it has been counted.
      if (st.nlink > 1n) this.linked.push({ p, nlink: Number(st.nlink), ino: st.ino });
      if (st.size !== BigInt(entry.size)) this.diff(p, 'size', String(entry.size), String(st.size));
      else if (p.sha256 !== undefined) {
        const got = this.hashFile(p);
        if (got !== undefined && got !== p.sha256) this.diff(p, 'content', `sha256 ${p.sha256}`, `sha256 ${got}`);
      }
    }
    if (entry.type !== 'symlink') {
      // As restore sets it: the header's mode where the access ACL cannot be set here.
      const aclSet = !!entry.aclAccess?.length && settableAcl(entry.aclAccess, this.profile.numericOwner).cannot === undefined;
      // As the platform holds it (Windows: a read-only flag; restore notes or reports the rest).
      const dir = entry.type === 'directory';
      const want = this.platform.keptMode(modeOf(entry, this.profile, aclSet).mode, dir);
      const got = this.platform.keptMode(Number(st.mode & 0o7777n), dir);
      if (got !== want) this.diff(p, 'mode', octal(want), octal(got));
    }
    if (this.profile.sameOwner) {
      const { uid, gid } = ownerOf(entry, this.profile.numericOwner);
      if (BigInt(uid) !== st.uid) this.diff(p, 'uid', owner(uid, entry.uid, entry.uname, 'user'), String(st.uid));
      if (BigInt(gid) !== st.gid) this.diff(p, 'gid', owner(gid, entry.gid, entry.gname, 'group'), String(st.gid));
    }
    if (!this.sameTime(entry.mtimeNs, st.mtimeNs)) this.diff(p, 'mtime', time(entry.mtimeNs), time(st.mtimeNs));
    // A directory's atime moves whenever it is listed, a symlink's when it is read (this check
    // does both): atimes are compared for the others, whose content is read with O_NOATIME.
    if (this.opts.atime && entry.type !== 'directory' && entry.type !== 'symlink') {
      const want = entry.atimeNs ?? entry.mtimeNs;
      if (!this.sameTime(want, st.atimeNs)) this.diff(p, 'atime', time(want), time(st.atimeNs));
    }
    if (entry.type === 'symlink') {
      const target = readlinkSync(p.abs, { encoding: 'buffer' });
      const want = entry.linkTarget ?? Buffer.alloc(0);
      if (!target.equals(want)) this.diff(p, 'target', JSON.stringify(displayName(want)), JSON.stringify(displayName(target)));
    }
    if (entry.type === 'chardev' || entry.type === 'blockdev') {
      const want = `${entry.devMajor ?? 0},${entry.devMinor ?? 0}`;
      const got = `${Number(((st.rdev >> 8n) & 0xfffn) | ((st.rdev >> 32n) & ~0xfffn))},${Number((st.rdev & 0xffn) | ((st.rdev >> 12n) & ~0xffn))}`;
      if (want !== got) this.diff(p, 'device', want, got);
    }
    if (xattrs instanceof Error) return this.diff(p, 'unreadable', 'xattrs', xattrs.message);
    this.compareXattrs(p, xattrs ?? new Map());
  }

  /** A hardlink is right when it is the same inode as its target; its metadata is the target's. */
  private compareLink(p: Pending, st: BigIntStats): void {
    const target = p.entry.linkTarget ?? Buffer.alloc(0);
    const mp = memberPath(target, { absolute: this.opts.absoluteNames, rules: this.rules });
    const want = `same file as "${displayName(target)}"`;
    if (typeof mp === 'string') return this.diff(p, 'hardlink', want, `not checked: the target's ${mp}`);
    const tabs = this.paths.path(this.onDisk(mp.parts));
    const tst = quietLstat(tabs);
    if (!tst) return this.diff(p, 'hardlink', want, 'the target is missing');
    if (tst.ino !== st.ino || tst.dev !== st.dev) this.diff(p, 'hardlink', want, `a separate ${kindOfMode(st.mode) ?? 'object'} (inode ${st.ino}, target's ${tst.ino})`);
  }

  private compareXattrs(p: Pending, disk: Map<string, Buffer>): void {
    const { entry } = p;
    const want = new Map([...entry.xattrs].filter(([name]) => !OWN.has(name) && !withheldXattr(name, this.profile)));
    for (const [name, value] of want) {
      const got = disk.get(name);
      if (!got) this.diff(p, 'xattr', bytes(value), 'none', name);
      else if (!got.equals(value)) this.diff(p, 'xattr', bytes(value), bytes(got), name);
    }
    for (const [name, value] of disk) {
      if (OWN.has(name) || want.has(name)) continue;
      // Withheld by the profile and there anyway: restore would not have put it there either.
      this.diff(p, 'xattr', 'none', bytes(value), name);
    }
    // A name that is not UTF-8 no archive holds (create refuses it, spec §5.2): still a difference.
    for (const name of (disk as XattrMap).unnamed ?? []) this.diff(p, 'xattr', 'none', 'present (its name is not UTF-8)', `${name} (as Latin-1)`);
    // A label is compared where the archive has one: without, the system gives files its default.
    if (entry.selinux !== undefined) {
      const raw = disk.get('security.selinux');
      const got = raw && stripNuls(raw).toString('utf8');
      if (got !== entry.selinux) this.diff(p, 'selinux', JSON.stringify(entry.selinux), got === undefined ? 'none' : JSON.stringify(got));
    }
    if (entry.type === 'symlink') return; // Linux has no ACLs on symlinks
    this.compareAcl(p, 'acl', accessAclOf(entry, this.profile), disk.get('system.posix_acl_access'));
    // Only directories carry default ACLs (restore reports one on anything else as a loss).
    if (entry.type === 'directory') {
      this.compareAcl(p, 'default-acl', entry.aclDefault?.length ? resolveAcl(entry.aclDefault, this.profile.numericOwner).acl : undefined, disk.get('system.posix_acl_default'));
    }
  }

  private compareAcl(p: Pending, property: 'acl' | 'default-acl', want: AclEntry[] | undefined, raw: Buffer | undefined): void {
    let got: AclEntry[] | undefined;
    try {
      got = raw ? decodeAclXattr(raw) : undefined;
    } catch (err) {
      return this.diff(p, property, want ? formatAclText(want) : 'none', `unreadable (${(err as Error).message})`);
    }
    if (property === 'acl') got = storedAccessAcl(got);
    const same = want === undefined || got === undefined ? want === got : canEncode(want) && encodeAclXattr(want).equals(encodeAclXattr(got));
    if (!same) this.diff(p, property, want ? formatAclText(want) : 'none', got ? formatAclText(got) : 'none');
  }

  private sameTime(a: bigint, b: bigint): boolean {
    const d = a - b;
    return (d < 0n ? -d : d) <= this.timeSlack;
  }

  /** SHA-256 of the file on disk; undefined (reported) when it cannot be read. */
  private hashFile(p: Pending): string | undefined {
    let fd: number;
    try {
      fd = openSync(p.abs, constants.O_RDONLY | constants.O_NOFOLLOW | this.noatime);
    } catch (err) {
      // O_NOATIME is for the owner (or root) only.
      if ((err as NodeJS.ErrnoException).code !== 'EPERM' || !this.noatime) return void this.diff(p, 'unreadable', 'content', (err as Error).message);
      this.noatime = 0;
      return this.hashFile(p);
    }
    const hash = createHash('sha256');
    const buf = Buffer.allocUnsafe(CHUNK);
    try {
      for (;;) {
        const n = readSync(fd, buf, 0, CHUNK, null);
        if (n === 0) break;
        hash.update(buf.subarray(0, n));
      }
    } catch (err) {
      return void this.diff(p, 'unreadable', 'content', (err as Error).message);
    } finally {
      closeSync(fd);
    }
    return hash.digest('hex');
  }

  /**
   * Below each directory the archive holds: what is on disk and not in the archive. The walk goes
   * down from DIR through the directories the archive holds or passes through, and no further.
   */
  private findExtras(): void {
    const stack = [''];
    while (stack.length) {
      const key = stack.pop()!;
      const abs = this.paths.path(this.onDisk(key ? key.split('/').map((k) => Buffer.from(k, 'latin1')) : []));
      if (!quietLstat(abs)?.isDirectory()) continue; // reported as missing, unreadable or of another type
      const holds = this.held.has(key);
      let names: NameList;
      try {
        // Packed (names.ts): a directory of a million names listed as Buffers took ~400 MiB.
        names = NameList.ofDirectory(abs);
      } catch (err) {
        if (holds) this.differences.push({ path: show(key), property: 'unreadable', archive: 'directory listing', disk: `cannot be listed: ${describeErrno(err as NodeJS.ErrnoException)}` });
        continue;
      }
      const below: string[] = [];
      for (let n = 0; n < names.count; n++) {
        const name = names.name(n);
        // The member name a name on disk stands for (Windows: the name rule's inverse).
        const member = this.platform.memberName(name).toString('latin1');
        const child = key ? `${key}/${member}` : member;
        const parent = this.parentKeys.has(child);
        if (parent || this.entryKeys.has(child)) {
          if (parent || this.held.has(child)) below.push(child);
          continue;
        }
        if (!holds) continue;
        const cst = quietLstat(Buffer.concat([abs, SLASH, name]));
        const type = cst ? (kindOfMode(cst.mode) ?? 'unknown') : 'none';
        this.differences.push({ path: show(child), property: 'extra', archive: 'none', disk: type + leftTemporary(member) });
      }
      for (let k = below.length - 1; k >= 0; k--) stack.push(below[k]!); // (a spread of 100,000 names overflows the stack)
    }
  }
}

/** lstat, or undefined when the name is not there or cannot be looked at (reported where it matters). */
function quietLstat(path: Buffer): BigIntStats | undefined {
  try {
    return lstatSync(path, { bigint: true, throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

function show(key: string): string {
  return key ? displayName(Buffer.from(key, 'latin1')) : '.';
}

function octal(mode: number): string {
  return mode.toString(8).padStart(4, '0');
}

function owner(local: number, stored: number, name: string, kind: 'user' | 'group'): string {
  return local === stored ? String(local) : `${local} (${kind} "${name}"; ${stored} in the archive)`;
}

/** ns since the epoch as UTC with nine decimals: 2023-11-14T22:13:20.123456789Z. */
export function time(ns: bigint): string {
  let s = ns / 1_000_000_000n;
  let frac = ns % 1_000_000_000n;
  if (frac < 0n) (frac += 1_000_000_000n), s--;
  if (s > 8_000_000_000_000n || s < -8_000_000_000_000n) return `${ns} ns`; // beyond Date's range
  const iso = new Date(Number(s) * 1000).toISOString();
  return `${iso.slice(0, 19)}.${frac.toString().padStart(9, '0')}Z`;
}

/** An xattr value: quoted text when it is printable UTF-8, else hex (at most 64 bytes shown). */
function bytes(v: Buffer): string {
  const text = v.toString('utf8');
  if (isUtf8(v) && !/[\x00-\x1f\x7f]/.test(text)) return JSON.stringify(text);
  const shown = v.subarray(0, 64).toString('hex');
  return `0x${shown}${v.length > 64 ? `… (${v.length} bytes)` : ''}`;
}

function stripNuls(v: Buffer): Buffer {
  let end = v.length;
  while (end > 0 && v[end - 1] === 0) end--;
  return v.subarray(0, end);
}

/** Named entries without an id (a name that maps to nothing here) cannot be set, nor equal anything. */
function canEncode(acl: AclEntry[]): boolean {
  return acl.every((e) => (e.tag !== 'user' && e.tag !== 'group') || e.id !== undefined);
}
