// Restore entries onto disk: contents, modes, owners, xattrs, SELinux labels, ACLs, links, fifos,
// devices and nanosecond times; directories' metadata after their contents. Whatever cannot be
// restored is reported per entry, never dropped silently. Spec: spec/portarc-1.md §9 (restore).

// Synchronous fs calls on purpose: one extraction is a sequence of small syscalls, and Node's
// promise-based fs adds a thread-pool round trip and a promise to each (measured: 20x slower for
// many small files). Only the archive's bytes arrive asynchronously.
import {
  chmodSync, closeSync, existsSync, fsyncSync, ftruncateSync, lchownSync, linkSync, lstatSync, mkdirSync,
  openSync, realpathSync, renameSync, rmdirSync, rmSync, symlinkSync, unlinkSync, writeFileSync, writeSync,
} from 'node:fs';
import { encodeAclXattr } from '../model/acl.js';
import type { AclEntry, Entry } from '../model/entry.js';
import { ArchiveError, IoError, describeErrno, isStorageFailure, LimitError } from '../model/errors.js';
import { DEFAULT_LIMITS, type Limits } from '../model/limits.js';
import { keyOf, memberPath, symlinkEscapes } from './paths.js';
import { loadSys, type Sys } from './sys.js';
import { groupId, userId } from './users.js';

export interface RestoreOptions {
  /**
   * tar's -p: restore everything the archive says. Turns on samePermissions, and sameOwner when
   * running as root. Without it an untrusted archive cannot plant setuid files or devices.
   */
  preserve?: boolean;
  /** Restore owners (default: preserve and root). */
  sameOwner?: boolean;
  /** Restore setuid/setgid bits and device nodes (default: preserve). */
  samePermissions?: boolean;
  /** Map owners by numeric id only, ignoring the names in the archive. */
  numericOwner?: boolean;
  /** Unsafe, like tar's -P: keep `..` components and symlinks pointing outside the destination. */
  absoluteNames?: boolean;
  /** fsync each file before it is renamed into place, and each directory at the end (default on). */
  fsync?: boolean;
  limits?: Partial<Limits>;
  /**
   * Treat names that differ only in case or Unicode normalisation as the same file (detected by
   * probing the destination when not given: macOS and Windows filesystems fold them).
   */
  foldNames?: boolean;
  sys?: Sys;
}

/** Something the archive holds that could not be put on disk. */
export interface Loss {
  path: string;
  what: 'owner' | 'xattr' | 'selinux' | 'acl' | 'device' | 'time' | 'entry' | 'mode';
  reason: string;
}

interface Deferred {
  abs: Buffer;
  entry: Entry;
  ino: number;
}

/** Refusal to touch a path: the entry is reported and skipped, the extraction goes on. */
class UnsafePath extends Error {}

const SLASH = Buffer.from('/');
/** Files, and bytes, per durability batch (one syncfs each). */
const RENAME_BATCH = 512;
const RENAME_BATCH_BYTES = 256 * 1024 * 1024;

export class Restorer {
  readonly losses: Loss[] = [];
  readonly warnings: string[] = [];
  private sys: Sys;
  private root: Buffer;
  private sameOwner: boolean;
  private samePermissions: boolean;
  /** Entries whose setuid/setgid bits were dropped because permissions were not preserved. */
  private strippedSetid = 0;
  private dirs: Deferred[] = [];
  /** Directories under the root known to be real directories (not symlinks), by key → inode. */
  private verified = new Map<string, number>();
  private pendingXattrs: Array<{ path: Buffer; name: string; value: Buffer; entry: string; what: Loss['what'] }> = [];
  private tmpCounter = 0;
  /** Files written under temporary names, waiting for their batch to be made durable. */
  private pendingRenames: Array<{ tmp: Buffer; abs: Buffer; entry: Entry }> = [];
  private pendingTargets = new Set<string>();
  private pendingBytes = 0;
  private limits: Limits;
  private bytesWritten = 0;
  /** Directories that received renamed files: fsynced at the end so the renames are durable. */
  private touchedDirs = new Set<string>();
  /** On folding filesystems: folded name → the exact name that took it first. */
  private folded: Map<string, string> | undefined;

  /** `dest` must exist; symlinks in the destination path itself are resolved once, here. */
  constructor(
    dest: string,
    private opts: RestoreOptions = {},
  ) {
    this.root = Buffer.from(realpathSync.native(dest));
    this.sys = opts.sys ?? loadSys();
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    if (opts.foldNames ?? foldsNames(this.root)) this.folded = new Map();
    const root = process.getuid?.() === 0;
    this.samePermissions = opts.samePermissions ?? opts.preserve ?? false;
    this.sameOwner = opts.sameOwner ?? (opts.preserve === true && root);
  }

  private lose(entry: Entry, what: Loss['what'], reason: string): void {
    this.losses.push({ path: entry.name, what, reason });
  }

  private abs(parts: Buffer[]): Buffer {
    return parts.length ? Buffer.concat([this.root, ...parts.flatMap((p) => [SLASH, p])]) : this.root;
  }

  /** The entry's components under the root, or undefined (reported) when it must not be extracted. */
  private place(path: Buffer, entry: Entry): Buffer[] | undefined {
    const mp = memberPath(path, { absolute: this.opts.absoluteNames });
    if (typeof mp === 'string') {
      this.lose(entry, 'entry', `${mp}; not extracted (-P allows it)`);
      return undefined;
    }
    for (const note of mp.notes) this.warnings.push(`${entry.name}: ${note}`);
    if (this.folded && mp.parts.length) {
      // Two members that the filesystem would make one file: the second could overwrite the first,
      // or (when the first is a symlink) be written through it. The second is refused.
      const exact = keyOf(mp.parts);
      const fold = Buffer.from(exact, 'latin1').toString('utf8').normalize('NFC').toLowerCase();
      const first = this.folded.get(fold);
      if (first !== undefined && first !== exact) {
        this.lose(entry, 'entry', `name collides with "${Buffer.from(first, 'latin1').toString('utf8')}" on this filesystem (case or Unicode normalisation); not extracted`);
        return undefined;
      }
      this.folded.set(fold, exact);
    }
    const bytes = mp.parts.reduce((n, p) => n + p.length + 1, 0);
    if (bytes > this.limits.pathBytes || mp.parts.length > this.limits.depth) {
      this.lose(entry, 'entry', `path of ${bytes} bytes and ${mp.parts.length} components exceeds the limits "pathBytes"/"depth"; not extracted`);
      return undefined;
    }
    return mp.parts;
  }

  /**
   * Make sure every parent of `parts` is a real directory under the root, creating missing ones
   * as tar does (0755 less the umask). A symlink or a file on the way is refused: nothing is ever
   * written through a link, whether the archive planted it or it was there before.
   */
  private ensureParents(parts: Buffer[]): void {
    for (let n = 1; n < parts.length; n++) {
      const key = keyOf(parts.slice(0, n));
      if (this.verified.has(key)) continue;
      const abs = this.abs(parts.slice(0, n));
      let st = lstatSync(abs, { throwIfNoEntry: false });
      if (!st) {
        mkdirSync(abs, { mode: 0o755 });
        st = lstatSync(abs);
      }
      if (st.isSymbolicLink()) throw new UnsafePath(`"${key}" is a symlink; nothing is extracted through it`);
      if (!st.isDirectory()) throw new UnsafePath(`"${key}" is not a directory`);
      this.verified.set(key, st.ino);
    }
  }

  /** Clear the way for a new non-directory: unlink a file or link, remove an empty directory. */
  private clear(parts: Buffer[]): void {
    const abs = this.abs(parts);
    const st = lstatSync(abs, { throwIfNoEntry: false });
    if (!st) return;
    if (!st.isDirectory()) return unlinkSync(abs);
    if (parts.length === 0) throw new UnsafePath('the destination itself cannot be replaced');
    try {
      rmdirSync(abs);
    } catch {
      throw new UnsafePath('a non-empty directory is in the way');
    }
    const key = keyOf(parts);
    for (const k of this.verified.keys()) if (k === key || k.startsWith(key + '/')) this.verified.delete(k);
  }

  async restore(entry: Entry, body?: AsyncIterable<Buffer>): Promise<void> {
    const parts = this.place(entry.path, entry);
    if (!parts) return;
    const abs = this.abs(parts);
    try {
      await this.settle(parts);
      this.ensureParents(parts);
      if (entry.type === 'directory') {
        const ino = this.makeDir(parts);
        this.dirs.push({ abs, entry, ino });
        return;
      }
      this.clear(parts);
      switch (entry.type) {
        case 'file': {
          const tmp = await this.writeFile(abs, entry, body);
          // Metadata goes on the inode before it gets its name: a crash leaves no half-dressed file.
          await this.applyMetadata(tmp, entry);
          await this.queueRename(tmp, abs, entry, entry.size);
          return;
        }
        case 'symlink': {
          const target = entry.linkTarget ?? Buffer.alloc(0);
          if (!this.opts.absoluteNames && symlinkEscapes(parts, target)) {
            this.lose(entry, 'entry', `symlink target "${target.toString('utf8')}" points outside the destination; not extracted (-P allows it)`);
            return;
          }
          symlinkSync(target, abs);
          break;
        }
        case 'hardlink': {
          const targetParts = entry.linkTarget && this.place(entry.linkTarget, entry);
          if (!targetParts) return;
          await this.flushRenames(); // the target may still be under its temporary name
          this.ensureParents(targetParts);
          linkSync(this.abs(targetParts), abs);
          return; // The link shares the inode, and with it all metadata, with its target.
        }
        case 'fifo':
        case 'chardev':
        case 'blockdev':
          if (entry.type !== 'fifo' && !this.samePermissions) {
            this.lose(entry, 'device', 'device node not made: it needs -p (--preserve)');
            return;
          }
          if (entry.type !== 'fifo' && process.getuid?.() !== 0) {
            this.lose(entry, 'device', 'device nodes can only be made by root');
            return;
          }
          this.sys.mknod(abs, entry.type, 0o600, entry.devMajor ?? 0, entry.devMinor ?? 0);
          break;
      }
      await this.applyMetadata(abs, entry);
    } catch (err) {
      // A damaged archive or an exceeded limit ends the extraction; so does a full, read-only or
      // failing disk (every later entry would fail the same way); anything else costs one entry.
      if (err instanceof ArchiveError) throw err;
      if (isStorageFailure(err)) throw new IoError(`cannot write into ${this.root.toString()}: ${describeErrno(err)}`, { entry: entry.name, cause: err });
      this.lose(entry, 'entry', `not extracted: ${(err as Error).message}`);
    }
  }

  /** Count content bytes against the limit before they are written. */
  private count(n: number, entry: Entry): void {
    this.bytesWritten += n;
    if (this.bytesWritten > this.limits.bytes) {
      throw new LimitError(`extraction would write more than ${this.limits.bytes} bytes (limit "bytes")`, { entry: entry.name });
    }
  }

  /** A directory entry: reuse a real directory, replace anything else (a symlink is removed, not followed). */
  private makeDir(parts: Buffer[]): number {
    const abs = this.abs(parts);
    let st = lstatSync(abs, { throwIfNoEntry: false });
    if (st && !st.isDirectory()) {
      unlinkSync(abs);
      st = undefined;
    }
    if (!st) {
      mkdirSync(abs, { mode: 0o700 });
      st = lstatSync(abs);
    }
    if (parts.length) this.verified.set(keyOf(parts), st.ino);
    return st.ino;
  }

  /**
   * Write the content under a temporary name beside the target, then rename it into place: a crash
   * never leaves a truncated file under the real name.
   */
  private async writeFile(abs: Buffer, entry: Entry, body?: AsyncIterable<Buffer>): Promise<Buffer> {
    const slash = abs.lastIndexOf(0x2f);
    const tmp = Buffer.concat([abs.subarray(0, slash + 1), Buffer.from(`.portarc-${process.pid}-${this.tmpCounter++}.tmp`)]);
    const fd = openSync(tmp, 'wx', 0o600);
    let done = false;
    try {
      if (entry.sparse) {
        // Runs go to their offsets; the gaps stay holes. The file is then cut to its real size.
        let run = 0;
        let filled = 0;
        const runs = entry.sparse;
        for await (const part of body ?? []) {
          let off = 0;
          while (off < part.length) {
            while (run < runs.length && filled >= runs[run]!.length) {
              run++;
              filled = 0;
            }
            if (run >= runs.length) break;
            const take = Math.min(part.length - off, runs[run]!.length - filled);
            this.count(take, entry);
            writeAll(fd, part.subarray(off, off + take), runs[run]!.offset + filled);
            off += take;
            filled += take;
          }
        }
        ftruncateSync(fd, entry.size);
      } else {
        for await (const part of body ?? []) {
          this.count(part.length, entry);
          writeAll(fd, part);
        }
      }
      done = true;
    } finally {
      closeSync(fd);
      if (!done) rmSync(tmp, { force: true });
    }
    return tmp;
  }

  /**
   * Put a written file under its name. With fsync on, renames wait in a batch: one syncfs (or,
   * without the addon, an fsync per file) makes the whole batch's data durable, then the renames
   * happen. Either way, a name never points at data that a crash could lose.
   */
  private async queueRename(tmp: Buffer, abs: Buffer, entry: Entry, size: number): Promise<void> {
    if (this.opts.fsync === false) {
      renameSync(tmp, abs);
      return;
    }
    this.pendingRenames.push({ tmp, abs, entry });
    this.pendingTargets.add(abs.toString('latin1'));
    this.pendingBytes += size;
    if (this.pendingRenames.length >= RENAME_BATCH || this.pendingBytes >= RENAME_BATCH_BYTES) await this.flushRenames();
  }

  private async flushRenames(): Promise<void> {
    if (!this.pendingRenames.length) return;
    await this.flushXattrs(); // the fallback's queued xattrs name the temporary paths
    const batch = this.pendingRenames.splice(0);
    this.pendingTargets.clear();
    this.pendingBytes = 0;
    if (!this.sys.syncFs(this.root)) {
      for (const { tmp } of batch) {
        const fd = openSync(tmp, 'r');
        try {
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
      }
    }
    for (const { tmp, abs, entry } of batch) {
      try {
        renameSync(tmp, abs);
        this.touchedDirs.add(abs.subarray(0, abs.lastIndexOf(0x2f)).toString('latin1'));
      } catch (err) {
        rmSync(tmp, { force: true });
        this.lose(entry, 'entry', `not extracted: ${(err as Error).message}`);
      }
    }
  }

  /** Something is about to touch `parts` (or a path below it): renames waiting for it go first. */
  private async settle(parts: Buffer[]): Promise<void> {
    if (!this.pendingTargets.size) return;
    let key = this.root.toString('latin1');
    for (const p of parts) {
      key += '/' + p.toString('latin1');
      if (this.pendingTargets.has(key)) return await this.flushRenames();
    }
  }

  private async applyMetadata(abs: Buffer, entry: Entry, deferredAcl = false): Promise<void> {
    const isLink = entry.type === 'symlink';
    if (this.sameOwner) {
      const byName = !this.opts.numericOwner;
      const uid = (byName ? userId(entry.uname) : undefined) ?? entry.uid;
      const gid = (byName ? groupId(entry.gname) : undefined) ?? entry.gid;
      try {
        lchownSync(abs, uid, gid);
      } catch (e) {
        this.lose(entry, 'owner', (e as Error).message);
      }
    }
    for (const [name, value] of entry.xattrs) {
      // File capabilities and trusted.* grant privileges as surely as a setuid bit: only with -p.
      if (!this.samePermissions && (name === 'security.capability' || name.startsWith('trusted.'))) {
        this.lose(entry, 'xattr', `${name} grants privileges: not restored without -p`);
        continue;
      }
      this.queueXattr(abs, entry, name, value, 'xattr');
    }
    if (entry.selinux) this.queueXattr(abs, entry, 'security.selinux', Buffer.from(entry.selinux + '\0'), 'selinux');
    this.queueAcl(abs, entry, 'system.posix_acl_access', entry.aclAccess);
    if (deferredAcl) this.queueAcl(abs, entry, 'system.posix_acl_default', entry.aclDefault);
    else if (entry.aclDefault?.length) this.lose(entry, 'acl', 'only directories carry default ACLs');
    if (this.sys.kind === 'native' || this.pendingXattrs.length > 2000) await this.flushXattrs();
    // chmod after chown (chown clears setuid/setgid) and after the ACL (which rewrites group bits).
    // With an ACL mask, the group bits of st_mode are the mask: take them from the ACL, since
    // bsdtar stores the group:: entry's bits in the mode field and chmod would overwrite the mask.
    const mask = entry.aclAccess?.find((e) => e.tag === 'mask');
    let mode = mask ? (entry.mode & ~0o070) | ((mask.perm & 7) << 3) : entry.mode;
    if (!this.samePermissions && mode & 0o6000) {
      mode &= ~0o6000;
      this.strippedSetid++;
    }
    if (!isLink) {
      try {
        chmodSync(abs, mode & 0o7777);
      } catch (e) {
        this.lose(entry, 'mode', (e as Error).message);
      }
    }
    if (this.setTimes(abs, entry) === 'microseconds') this.lose(entry, 'time', 'times rounded to microseconds (no native addon)');
  }

  private setTimes(abs: Buffer, entry: Entry): 'exact' | 'microseconds' | undefined {
    try {
      return this.sys.setTimes(abs, entry.atimeNs ?? entry.mtimeNs, entry.mtimeNs);
    } catch (err) {
      this.lose(entry, 'time', (err as Error).message);
      return undefined;
    }
  }

  private queueXattr(abs: Buffer, entry: Entry, name: string, value: Buffer, what: Loss['what']): void {
    this.pendingXattrs.push({ path: abs, name, value, entry: entry.name, what });
  }

  private queueAcl(abs: Buffer, entry: Entry, name: string, acl: AclEntry[] | undefined): void {
    if (!acl?.length) return;
    const resolved = acl.map((e) => {
      if (e.tag !== 'user' && e.tag !== 'group') return e;
      const local = this.opts.numericOwner ? undefined : e.tag === 'user' ? userId(e.name ?? '') : groupId(e.name ?? '');
      return { ...e, id: local ?? e.id };
    });
    const unresolved = resolved.find((e) => (e.tag === 'user' || e.tag === 'group') && e.id === undefined);
    if (unresolved) {
      this.lose(entry, 'acl', `${name}: ${unresolved.tag} "${unresolved.name}" has no id here`);
      return;
    }
    this.queueXattr(abs, entry, name, encodeAclXattr(resolved), 'acl');
  }

  private async flushXattrs(): Promise<void> {
    const items = this.pendingXattrs.splice(0);
    if (!items.length) return;
    const failures = await this.sys.setXattrs(items);
    for (const f of failures) {
      const item = items.find((i) => i.path.equals(f.path) && i.name === f.name);
      this.losses.push({ path: item?.entry ?? f.path.toString(), what: item?.what ?? 'xattr', reason: `${f.name}: ${f.error}` });
    }
  }

  /** Directories last and deepest first, so that writing their contents cannot disturb them. */
  async finish(): Promise<void> {
    await this.flushXattrs();
    await this.flushRenames();
    const dirs = this.dirs.splice(0).sort((a, b) => b.abs.length - a.abs.length);
    for (const d of dirs) {
      // A later entry may have replaced the directory (with a symlink, say): never follow it.
      const st = lstatSync(d.abs, { throwIfNoEntry: false });
      if (!st?.isDirectory() || st.ino !== d.ino) {
        this.lose(d.entry, 'entry', 'directory was replaced by a later entry; its metadata is not applied');
        continue;
      }
      await this.applyMetadata(d.abs, d.entry, true).catch((e: Error) => this.lose(d.entry, 'entry', e.message));
    }
    await this.flushXattrs();
    // The fallback sets xattrs in batches after times; setting an xattr changes ctime only.
    if (this.opts.fsync !== false) await this.syncDirs();
    if (this.strippedSetid) {
      const n = this.strippedSetid;
      this.warnings.push(`setuid/setgid bits not restored on ${n} ${n === 1 ? 'entry' : 'entries'} (use -p to keep them)`);
      this.strippedSetid = 0;
    }
  }

  /** Make the renames durable: fsync every directory that received a file, and the root. */
  private async syncDirs(): Promise<void> {
    this.touchedDirs.add(this.root.toString('latin1'));
    for (const d of this.touchedDirs) {
      try {
        const fd = openSync(Buffer.from(d, 'latin1'), 'r');
        try {
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
      } catch {
        // A directory that went away or cannot be synced: nothing more to make durable there.
      }
    }
  }
}

/** Does the filesystem at `root` fold case or Unicode normalisation? Probed with a scratch file. */
function foldsNames(root: Buffer): boolean {
  const base = `.portarc-probe-${process.pid}-`;
  const made = Buffer.concat([root, Buffer.from(`/${base}a\u00e9`)]);
  const variants = [`${base}A\u00e9`, `${base}ae\u0301`].map((n) => Buffer.concat([root, Buffer.from('/' + n)]));
  try {
    writeFileSync(made, '', { flag: 'wx' });
  } catch {
    return false; // Cannot probe (read-only, exists): assume the common case, a case-sensitive one.
  }
  try {
    return variants.some((v) => existsSync(v));
  } finally {
    rmSync(made, { force: true });
  }
}

/** pwrite/write until the whole buffer is out (a short write is legal). */
function writeAll(fd: number, buf: Buffer, position?: number): void {
  for (let off = 0; off < buf.length; ) {
    const n = writeSync(fd, buf, off, buf.length - off, position === undefined ? null : position + off);
    off += n;
  }
}
