// Restore entries onto disk: contents, modes, owners, xattrs, SELinux labels, ACLs, links, fifos,
// devices and nanosecond times; directories' metadata after their contents. Whatever cannot be
// restored is reported per entry, never dropped silently. Spec: spec/portarc-1.md §9 (restore):
// the profiles of §9.4 (root and user defaults, `untrusted`), paths as bytes (§9.2), symlinks
// verbatim and never followed (§9.3). What this platform cannot hold, and the names it needs, are
// the platform adapter's answers (platform.ts, §9.7).

// Synchronous fs calls on purpose: one extraction is a sequence of small syscalls, and Node's
// promise-based fs adds a thread-pool round trip and a promise to each (measured: 20x slower for
// many small files). Only the archive's bytes arrive asynchronously. With the addon, small files go
// in batches to native/restore.c instead (one call per batch, on the libuv threadpool, while the
// next entries are read): about ten crossings per file become one per 32 files.
import {
  closeSync, constants as fsConstants, copyFileSync, existsSync, fstatSync, fsyncSync, ftruncateSync, lchownSync, linkSync, lstatSync, mkdirSync,
  openSync, readFileSync, realpathSync, renameSync, rmdirSync, rmSync, symlinkSync, unlinkSync, writeFileSync, writeSync, write,
} from 'node:fs';
import { promisify } from 'node:util';
import { encodeAclXattr } from '../model/acl.js';
import { displayName, type AclEntry, type Entry } from '../model/entry.js';
import { ArchiveError, IoError, PortarcError, describeErrno, isStorageFailure, LimitError } from '../model/errors.js';
import { DEFAULT_LIMITS, type Limits } from '../model/limits.js';
import { time as nsTime } from './compare.js';
import { DeepPaths } from './deep-paths.js';
import { keyOf, memberPath, symlinkOutside, type PathRules } from './paths.js';
import { hostPlatform, showName, type Platform } from './platform.js';
import { kindOfMode } from './scan.js';
import { BATCH_PARAMS, BP, chmodNoFollow, procFds, DIGEST_COMPARE, DIGEST_NONE, DIGEST_REPORT, loadSys, type BatchFailure, type BatchResult, type FileBatch, type Sys } from './sys.js';
import { MAX_ID, modeOf, ownerOf, restoreProfile, settableAcl, specialRefused, withheldXattr, type Profile, type ProfileOptions } from './profile.js';

/** What a restore restores (ProfileOptions: -p, owners, permissions, --untrusted, ids, -P), and how. */
export interface RestoreOptions extends ProfileOptions {
  /** How member paths are split (default: this platform's; POSIX splits at `/` only). */
  pathRules?: PathRules;
  /** fsync each file before it is renamed into place, and each directory at the end (default on). */
  fsync?: boolean;
  limits?: Partial<Limits>;
  /**
   * Treat names that differ only in case or Unicode normalisation as the same file (detected by
   * probing the destination when not given: macOS and Windows filesystems fold them).
   */
  foldNames?: boolean;
  /**
   * A file whose content fails its check (restore()'s `verdict`) is kept as `NAME.damaged` instead
   * of being removed (spec/manifest.md §11). It never gets its real name either way.
   */
  keepDamaged?: boolean;
  /**
   * What to do when a name already exists (GNU tar's options): `replace` (default);
   * `keep-old` (-k): not replaced, a loss of kind `entry` (exit 2); `skip-old` (--skip-old-files):
   * not replaced, silently; `keep-newer` (--keep-newer-files): not replaced when the file on disk is
   * as new or newer than the member, with a note. A directory on disk is kept as it is (its
   * metadata untouched; members go into it) where a file would be; a file or symlink where the
   * archive has a directory is kept too, and the members under it fail.
   */
  existing?: 'replace' | 'keep-old' | 'skip-old' | 'keep-newer';
  /** The platform adapter (default: this process's; §9.7). Tests pass another to check its rules here. */
  platform?: Platform;
  sys?: Sys;
}

/** What restore() asks and tells about a file's content (spec/manifest.md §11). */
export interface RestoreCheck {
  verdict?: () => string | undefined;
  written?: (abs: Buffer, ino: number) => void;
  /** A file left as it was on disk (`existing`): its content was read to the end, and nothing was written. */
  kept?: () => void;
  /** Instead of `verdict`: the restorer takes the content's digest itself (see DeferredDigest). */
  deferred?: DeferredDigest;
}

/**
 * A content check whose SHA-256 the restorer takes where it writes the content: a batch of small
 * files hashes on the threadpool (native/restore.c), not on the main thread.
 */
export interface DeferredDigest {
  /**
   * The digest the content must have (the manifest's): a batch compares it itself, and a file
   * that differs is set aside with judge's reason. Without it, judge only learns the digest (a
   * stream's check comes at its manifest member) and says nothing.
   */
  want?: string;
  /** Told the content's digest before `written` or `kept` is called; returns what `verdict` would. */
  judge(got: string): string | undefined;
  /**
   * The same check for the JS path: the body hashed as it passes, and a `verdict`. `handOff`: each
   * part is hashed once the consumer asks for the next (see digestBody).
   */
  inline(body: AsyncIterable<Buffer> | undefined, handOff?: boolean): { body: AsyncIterable<Buffer> | undefined; check: RestoreCheck };
}

/** A file whose content failed its check: not under its name (spec/manifest.md §11). */
export interface DamagedFile {
  path: string;
  what: string;
  /** Where it was kept (`NAME.damaged`, under the destination) with `keepDamaged`. */
  keptAs?: string;
}

/** Something the archive holds that could not be put on disk. */
export interface Loss {
  path: string;
  what: 'owner' | 'xattr' | 'selinux' | 'acl' | 'device' | 'time' | 'entry' | 'mode' | 'symlink';
  reason: string;
}

interface Deferred {
  abs: Buffer;
  entry: Entry;
  ino: number;
  /** Components under the root: deepest first (not by `abs`, an alias past PATH_MAX is short). */
  depth: number;
  /** keyOf(parts): a later entry that replaces the directory drops this record. */
  key: string;
  /** It was there before the extraction (not made by it): it may hold xattrs of its own. */
  existed: boolean;
}

/** Refusal to touch a path: the entry is reported and skipped, the extraction goes on. */
class UnsafePath extends Error {}

/** Counters for what a profile drops by design: reported once as notes, not as losses. */
interface Dropped {
  setid: number;
  owners: number;
  modes: number;
  /** Permission bits the platform cannot hold (Windows: all but read-only), left out by the user profile. */
  platformModes: number;
  /** Names written by the platform's name rule (Windows, §9.7): reversible, so notes, not losses. */
  mapped: number;
}

const SLASH = Buffer.from('/');
/** Files, and bytes, per durability batch (one syncfs each). */
const RENAME_BATCH = 512;
const RENAME_BATCH_BYTES = 256 * 1024 * 1024;
/**
 * Files up to this size are restored by the addon's batches (sys.restoreFiles), BATCH_FILES or
 * BATCH_BYTES of content at a time, on a worker thread while the next entries are read. Two
 * batches' contents (one written, one being filled) are all the memory this holds.
 */
const SMALL_FILE = 256 * 1024;

/** Times that fit a 32-bit time_t (1901-12-13 to 2038-01-19): what every filesystem here holds. */
const SAFE_NS_MIN = -(2n ** 31n) * 1_000_000_000n;
const SAFE_NS_END = 2n ** 31n * 1_000_000_000n;
const outside = (ns: bigint) => ns < SAFE_NS_MIN || ns >= SAFE_NS_END;
/** Whether a filesystem may clamp the entry's times silently (Restorer.checkClamped). */
const mayClamp = (entry: Entry) => outside(entry.mtimeNs) || (entry.atimeNs !== undefined && outside(entry.atimeNs));
// 32, not 512: what a pending batch holds (entries, plans, views) lives through the young
// collections made while it fills and waits, and was copied, then promoted. Measured on 50,000
// files: 512 → 32 took extract from 4.2 to 3.4 s and 99 to 88 MiB (GC had been 36% of its CPU);
// 8–16 were no better.
const BATCH_FILES = 32;
const BATCH_BYTES = 2 * 1024 * 1024;

/** What restore.ts decided for a file's metadata, before any system call (applyMetadata's plan). */
interface MetadataPlan {
  owner?: { uid: number; gid: number };
  xattrs: Array<{ name: string; value: Buffer; what: Loss['what'] }>;
  /** Losses known before trying (ACL names without ids here...), in the order they are reported. */
  losses: Array<{ what: Loss['what']; reason: string }>;
  mode: number;
  /** Xattrs on disk the archive does not give, removed first: ACLs (inherited, or an existing directory's), an existing directory's stale ones. */
  clearXattrs?: string[];
}

/**
 * A small file handed to the addon: what is needed to report it as the JS path would. Lean on
 * purpose: a batch's records live until it is done, long enough for V8 to move them to its old
 * generation, where they are garbage that only a full collection returns (peak RSS).
 */
interface BatchedFile {
  seq: number;
  entry: Entry;
  parts: Buffer[];
  abs: Buffer;
  plan: MetadataPlan;
  check: RestoreCheck;
  tmp: number;
  off: number;
  len: number;
}

/** Where a batch is filled and packed for the addon: reused, one in flight and one filling. */
interface BatchSlot {
  data: Buffer;
  names: Buffer;
  params: Float64Array;
  times: BigInt64Array;
  /** 64 hex digits a file (FileBatch.digests). */
  digests: Buffer;
}

interface FillingBatch {
  slot: BatchSlot;
  used: number;
  files: BatchedFile[];
}

export class Restorer {
  /**
   * The archive records every xattr of its entries (a portarc archive, spec §5.2): a directory
   * that was there before then loses the user.* and trusted.* xattrs its entry does not carry
   * (spec §9.1). Set by extract() once the archive's global header is read; off for other
   * archives, which may simply not record xattrs.
   */
  exactXattrs = false;
  readonly losses: Loss[] = [];
  readonly warnings: string[] = [];
  /** What the chosen profile left out by design (tar's habits for a user, `untrusted`): exit 0. */
  readonly notes: string[] = [];
  /** Members left alone because their name existed (`existing`): not restored, not a loss. */
  readonly skipped: string[] = [];
  /** Files whose content failed their check: removed, or kept as NAME.damaged. */
  readonly damaged: DamagedFile[] = [];
  /**
   * Names (keyOf) whose member this run did not put in place: failed, refused, or damaged. A
   * hardlink to one is not made: the name may hold an older file, which the link must not join.
   */
  private notMade = new Set<string>();
  private sys: Sys;
  private root: Buffer;
  private sameOwner: boolean;
  private samePermissions: boolean;
  private untrusted: boolean;
  private isRoot: boolean;
  /** What this restore restores (profile.ts: shared with `verify -C`). */
  private profileOf: Profile;
  private rules: PathRules;
  private dropped: Dropped = { setid: 0, owners: 0, modes: 0, platformModes: 0, mapped: 0 };
  private platform: Platform;
  /** Symlinks waiting for the end (platform.symlinksLast), by key: nothing goes through them meanwhile. */
  private lastLinks = new Map<string, { parts: Buffer[]; abs: Buffer; entry: Entry; target: Buffer | string }>();
  /** Symlinks the process could not make (platform.symlinksLast): copied or reported in finish(). */
  private unlinked: Array<{ parts: Buffer[]; abs: Buffer; entry: Entry }> = [];
  private dirs: Deferred[] = [];
  /** Directories under the root known to be real directories (not symlinks), by key → inode. */
  private verified = new Map<string, number>();
  private pendingXattrs: Array<{ path: Buffer; name: string; value: Buffer; entry: string; what: Loss['what'] }> = [];
  private tmpCounter = 0;
  /** Files written under temporary names, waiting for their batch to be made durable. */
  private pendingRenames: Array<{ tmp: Buffer; abs: Buffer; entry: Entry }> = [];
  /** Every temporary file not yet renamed into place or removed: abort() removes them. */
  private temps = new Set<Buffer>();
  private pendingTargets = new Set<string>();
  private pendingBytes = 0;
  private limits: Limits;
  private bytesWritten = 0;
  /** Directories that received renamed files: fsynced at the end so the renames are durable. */
  private touchedDirs = new Set<string>();
  /** Set by finishAfterFailure: failures are then each the entry's loss, not the end. */
  private ending = false;
  /** On folding filesystems: folded name → the exact name that took it first. */
  private folded: Map<string, string> | undefined;
  /** Which restore() call each loss belongs to: a batched file's losses go in at its place. */
  private lossSeq: number[] = [];
  private seq = 0;
  private lossAt: number | undefined;
  /** The native batch being filled, the one being restored, and their two content buffers. */
  private filling: FillingBatch | undefined;
  private inflight: { batch: FillingBatch; result: Promise<BatchResult> } | undefined;
  private batchSlots: BatchSlot[] = [];
  /** Names (and parent directories) of files in those two batches, as latin1 absolute paths. */
  private batchTargets = new Set<string>();
  private batchDirs = new Set<string>();
  /** Paths past PATH_MAX, named through directories held open (deep-paths.ts). */
  private paths: DeepPaths;
  /** ACLs are restored here: the platform has them and the system layer can set them. */
  private readonly aclsHere: boolean;
  /** Directories (by key) with a default ACL, which new objects in them inherit (inherits()). */
  private inheriting = new Map<string, boolean>();
  /** The entry being restored gets an ACL from its directory that the archive does not give it. */
  private inheritedAcl = false;
  /** The umask, when it can be read without setting it: batched files are then mostly created with their mode. */
  private umask = currentUmask();

  /** `dest` must exist; symlinks in the destination path itself are resolved once, here. */
  constructor(
    dest: string,
    private opts: RestoreOptions = {},
  ) {
    this.root = Buffer.from(realpathSync.native(dest));
    this.sys = opts.sys ?? loadSys();
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.platform = opts.platform ?? hostPlatform();
    if (opts.foldNames ?? (this.platform.folds === 'always' || foldsNames(this.root, this.sys))) this.folded = new Map();
    this.isRoot = process.getuid?.() === 0;
    this.rules = opts.pathRules ?? this.platform.pathRules;
    this.paths = new DeepPaths(this.root, this.platform.dirAlias);
    this.profileOf = restoreProfile(opts, this.isRoot);
    ({ untrusted: this.untrusted, samePermissions: this.samePermissions, sameOwner: this.sameOwner } = this.profileOf);
    this.aclsHere = !this.platform.acls && this.sys.kind !== 'none';
  }

  private lose(entry: Entry, what: Loss['what'], reason: string): void {
    this.addLoss({ path: entry.name, what, reason });
  }

  /**
   * The member was not put in place (a failure, a refusal, damage found here or by the caller):
   * a later hardlink to its name fails instead of joining whatever the name holds.
   */
  notExtracted(entry: Entry): void {
    const mp = memberPath(entry.path, { absolute: this.opts.absoluteNames, rules: this.rules });
    if (typeof mp === 'string') return;
    this.notMade.add(keyOf(this.platform.name === 'windows' ? mp.parts.map((p) => this.platform.diskName(p)) : mp.parts));
  }

  /**
   * Entries not put in place, counted as they are found (a rename or a batch that fails later is
   * found while later entries are restored): the caller's count of entries extracted takes them off.
   */
  entryLosses = 0;

  /**
   * An entry not made at all, for a reason of its kind (a device node as a user: a loss of kind
   * `device`, exit 1): not counted as extracted, and a hardlink to it is not made either.
   */
  private unmade(entry: Entry, what: Loss['what'], reason: string): void {
    this.lose(entry, what, reason);
    if (what !== 'entry') this.entryLosses++; // an `entry` loss is counted so already
    this.notExtracted(entry);
  }

  /** Report a loss in the order of the entries, also when a batched file's comes in late. */
  private addLoss(loss: Loss): void {
    if (loss.what === 'entry') this.entryLosses++;
    const seq = this.lossAt ?? this.seq;
    let i = this.losses.length;
    while (i > 0 && this.lossSeq[i - 1]! > seq) i--;
    this.losses.splice(i, 0, loss);
    this.lossSeq.splice(i, 0, seq);
  }

  private abs(parts: Buffer[]): Buffer {
    return this.paths.path(parts);
  }

  /** The entry's components under the root, or undefined (reported) when it must not be extracted. */
  private place(path: Buffer, entry: Entry): Buffer[] | undefined {
    const mp = memberPath(path, { absolute: this.opts.absoluteNames, rules: this.rules });
    if (typeof mp === 'string') {
      this.lose(entry, 'entry', `${mp}; not extracted (-P allows it)`);
      return undefined;
    }
    const refused = this.platform.refusePath(path);
    if (refused) {
      this.lose(entry, 'entry', `${refused}; not extracted`);
      return undefined;
    }
    for (const note of mp.notes) this.warnings.push(`${entry.name}: ${note}`);
    // Only Windows maps names (as compare.ts has it): elsewhere the parts are the names.
    const parts = this.platform.name === 'windows' ? mp.parts.map((p) => this.platform.diskName(p)) : mp.parts;
    if (parts !== mp.parts && parts.some((p, i) => !p.equals(mp.parts[i]!)) && path === entry.path) {
      this.dropped.mapped++;
      this.notes.push(`${entry.name}: written as "${showName(parts.map((p) => p.toString('utf8')).join('/'))}" by the ${this.platform.name} name rule (reversible, spec §9.7)`);
    }
    if (this.folded && parts.length) {
      // Two members that the filesystem would make one file: the second could overwrite the first,
      // or (when the first is a symlink) be written through it. The second is refused. So is one
      // whose directory the filesystem would take for another's (`Dir/a`, then `dir/b` with no
      // entry of its own: `b` would land in `Dir`, under a name the archive does not give it).
      let exact = '';
      for (let n = 0; n < parts.length; n++) {
        exact = n ? `${exact}/${parts[n]!.toString('latin1')}` : parts[n]!.toString('latin1');
        const fold = this.platform.foldKey(Buffer.from(exact, 'latin1').toString('utf8'));
        const first = this.folded.get(fold);
        if (first !== undefined && first !== exact) {
          const what = n === parts.length - 1 ? 'name' : `directory "${showName(Buffer.from(exact, 'latin1').toString('utf8'))}"`;
          this.lose(entry, 'entry', `${what} collides with "${showName(Buffer.from(first, 'latin1').toString('utf8'))}" on this filesystem (case or Unicode normalisation); not extracted`);
          return undefined;
        }
        if (first === undefined) this.folded.set(fold, exact);
      }
    }
    let bytes = 0;
    for (const p of parts) bytes += p.length + 1;
    if (bytes > this.limits.pathBytes || parts.length > this.limits.depth) {
      this.lose(entry, 'entry', `path of ${bytes} bytes and ${parts.length} components exceeds the limits "pathBytes"/"depth"; not extracted`);
      return undefined;
    }
    return parts;
  }

  /**
   * Make sure every parent of `parts` is a real directory under the root, creating missing ones
   * as tar does (0755 less the umask). A symlink or a file on the way is refused: nothing is ever
   * written through a link, whether the archive planted it or it was there before.
   */
  private ensureParents(parts: Buffer[], make = true): string {
    let key = '';
    for (let n = 1; n < parts.length; n++) {
      // keyOf(parts.slice(0, n)), one component at a time (per file and per level, it was garbage).
      key = n === 1 ? parts[0]!.toString('latin1') : `${key}/${parts[n - 1]!.toString('latin1')}`;
      if (this.lastLinks.has(key)) throw new UnsafePath(`"${key}" is a symlink; nothing is extracted through it`);
      if (this.verified.has(key)) continue;
      const abs = this.abs(parts.slice(0, n));
      let st = lstatSync(abs, { throwIfNoEntry: false });
      if (!st) {
        if (!make) return key; // checked only (a hardlink's target): what is missing stays missing
        // Made in its parent held from the destination: never through one swapped meanwhile.
        const dir = this.holdParent(abs);
        try {
          mkdirIfMissing(dir.at(abs), 0o755);
          st = lstatSync(dir.at(abs));
        } finally {
          dir.close();
        }
      }
      if (st.isSymbolicLink()) throw new UnsafePath(`"${key}" is a symlink; nothing is extracted through it`);
      if (!st.isDirectory()) throw new UnsafePath(`"${key}" is not a directory`);
      this.verified.set(key, st.ino);
    }
    return key;
  }

  /**
   * Whether a new object in this directory inherits an ACL (the directory has a default ACL: one
   * there before, or inherited by a directory made here), read once per directory. The archive's
   * own default ACLs are set at the end (finish()), after every child is made.
   */
  private inherits(parentKey: string, parts: Buffer[]): boolean | Promise<boolean> {
    // A promise only the first time a directory is asked about: one per entry was garbage.
    return this.inheriting.get(parentKey) ?? this.readInherits(parentKey, parts);
  }

  private async readInherits(parentKey: string, parts: Buffer[]): Promise<boolean> {
    const got = (await this.sys.getXattrs([this.abs(parts.slice(0, -1))]))[0];
    const v = !(got instanceof Error) && got !== undefined && got.has('system.posix_acl_default');
    this.inheriting.set(parentKey, v);
    return v;
  }

  /**
   * Clear the way for a new non-directory: unlink a file or link, remove an empty directory. A name
   * about to be renamed onto (`renamed`: files, links, nodes) keeps the old one there until then:
   * the rename replaces it atomically, so a concurrent extraction never finds the name missing.
   */
  private clear(parts: Buffer[], renamed = false): void {
    const abs = this.abs(parts);
    const st = lstatSync(abs, { throwIfNoEntry: false });
    if (!st || (renamed && !st.isDirectory())) return;
    if (parts.length === 0) throw new UnsafePath('the destination itself cannot be replaced');
    // Removed from its parent held from the destination: never through one swapped meanwhile.
    const dir = this.holdParent(abs);
    try {
      if (!st.isDirectory()) return unlinkIfThere(dir.at(abs));
      rmdirSync(dir.at(abs));
      this.dropHeld(); // it may be the directory held: a new one may take its name
    } catch (err) {
      if (!st.isDirectory()) throw err;
      throw new UnsafePath('a non-empty directory is in the way');
    } finally {
      dir.close();
    }
    const key = keyOf(parts);
    for (const k of this.verified.keys()) if (k === key || k.startsWith(key + '/')) this.verified.delete(k);
    this.paths.drop(key);
    // Replaced by a later entry, as tar does: the directory's metadata has nothing to go on.
    this.dirs = this.dirs.filter((d) => d.key !== key);
    this.inheriting.delete(key);
  }

  /**
   * `check.verdict`, for a file, is asked once its content is written (under a temporary name): a
   * reason means the content is wrong, and the file does not get its name (see `keepDamaged`).
   * `check.written` learns where a file or hardlink went and its inode (a later check by the manifest).
   */
  async restore(entry: Entry, body?: AsyncIterable<Buffer>, check: RestoreCheck = {}): Promise<void> {
    this.seq++;
    const parts = this.place(entry.path, entry);
    if (!parts) return this.notExtracted(entry);
    // A later entry replaces a symlink still waiting to be made (as it replaces a made one).
    if (this.lastLinks.size) this.lastLinks.delete(keyOf(parts));
    // Tried again (tar -r appends a newer copy): a failure of this one marks it anew.
    if (this.notMade.size) this.notMade.delete(keyOf(parts));
    try {
      const settling = this.settle(parts, entry);
      if (settling) await settling;
      const parentKey = this.ensureParents(parts);
      // Made in a directory with a default ACL, a file or node gets an access ACL the archive may
      // not give it (user:777:rwx on a 0640 file, say): removed, as GNU tar --acls does (spec §9.1).
      if (this.aclsHere && entry.type !== 'directory' && entry.type !== 'symlink' && entry.type !== 'hardlink' && !entry.aclAccess?.length) {
        const inherits = this.inherits(parentKey, parts);
        this.inheritedAcl = inherits instanceof Promise ? await inherits : inherits;
      }
      // After its parents are made: a path past PATH_MAX is named through one of them (deep-paths.ts).
      const abs = this.abs(parts);
      if (entry.type === 'directory') {
        const existing = this.existingDirectory(abs, entry);
        if (existing === 'blocked') return;
        const key = keyOf(parts);
        const { ino, existed } = this.makeDir(parts, abs, key);
        if (existing === 'restore') this.dirs.push({ abs, entry, ino, depth: parts.length, key, existed });
        return;
      }
      if (this.keepExisting(abs, entry)) return await this.kept(entry, body, check);
      if (this.batchable(entry, parts)) return await this.queueFile(parts, abs, entry, body, check);
      this.clear(parts, true); // every kind is made beside its name and renamed onto it
      switch (entry.type) {
        case 'file':
          return await this.placeFile(abs, entry, body, check);
        case 'symlink': {
          // A target is data: made verbatim, never followed (§9.3). Only `untrusted` judges it.
          const target = entry.linkTarget ?? Buffer.alloc(0);
          const outside = this.untrusted ? symlinkOutside(parts, target, this.rules) : undefined;
          if (outside) {
            this.lose(entry, 'entry', `symlink target "${target.toString('utf8')}" ${outside}; refused by --untrusted`);
            return;
          }
          const onDisk = this.platform.diskTarget(target);
          if (this.platform.symlinksLast) return void this.lastLinks.set(keyOf(parts), { parts, abs, entry, target: onDisk });
          await this.makeName(abs, (at) => symlinkSync(onDisk, at), (at) => this.applyMetadata(at, entry));
          return;
        }
        case 'hardlink': {
          const targetParts = entry.linkTarget && this.place(entry.linkTarget, entry);
          if (!targetParts) return this.notExtracted(entry);
          await this.flushRenames(); // the target may still be under its temporary name
          // Its directories are checked (no symlink on the way), never made: a target that is not
          // there fails the link, without leaving directories for it behind.
          this.ensureParents(targetParts, false);
          if (this.notMade.has(keyOf(targetParts))) {
            // Linked, it would join the file the name held before (or fail without saying why).
            this.lose(entry, 'entry', `not extracted: hardlink to "${displayName(entry.linkTarget!)}", which was not extracted`);
            return this.notExtracted(entry);
          }
          // The target is named through its directory held from the destination: by path, a
          // directory swapped for a symlink meanwhile linked a file from outside in (an audit's race).
          const held = this.holdDirectory(this.abs(targetParts.slice(0, -1)));
          if (typeof held === 'string') {
            const why = held === 'ENOENT' ? describeErrno(Object.assign(new Error(held), { code: held })) : 'a directory on the way to it was replaced while extracting';
            throw new Error(`cannot hard link to "${displayName(entry.linkTarget!)}": ${why}`);
          }
          const from = held === undefined ? this.abs(targetParts) : inHeld(held, targetParts.at(-1)!);
          const ino = await this.makeName(abs, (at) => {
            try {
              linkRetrying(from, at);
            } catch (err) {
              // As GNU tar says it; the temporary name the link was made under means nothing to anyone.
              if (!(err as NodeJS.ErrnoException).code) throw err;
              throw new Error(`cannot hard link to "${displayName(entry.linkTarget!)}": ${describeErrno(err as NodeJS.ErrnoException)}`, { cause: err });
            } finally {
              if (held !== undefined) closeSync(held);
            }
          });
          check.written?.(abs, ino ?? lstatSync(abs).ino);
          return; // The link shares the inode, and with it all metadata, with its target.
        }
        case 'fifo':
        case 'chardev':
        case 'blockdev': {
          if (this.platform.specials) return this.unmade(entry, 'device', `${entry.type === 'fifo' ? 'fifo' : 'device node'} not made: ${this.platform.specials}`);
          const refused = specialRefused(entry.type, this.profileOf);
          if (refused) return this.unmade(entry, refused.what, refused.reason);
          const type = entry.type;
          const [major, minor] = [entry.devMajor ?? 0, entry.devMinor ?? 0];
          // Cast to the 32 bits mknod takes, 2^33 would make another device (0) without a word.
          if (type !== 'fifo' && !(major <= 0xffffffff && minor <= 0xffffffff)) {
            return this.lose(entry, 'entry', `device ${major},${minor} is beyond this system's device numbers; not extracted`);
          }
          await this.makeName(abs, (at) => {
            try {
              this.sys.mknod(at, type, 0o600, major, minor);
            } catch (err) {
              const code = (err as NodeJS.ErrnoException).code;
              if (!code) throw err;
              // Linux keeps 12 bits of major and 20 of minor (GNU tar: "Cannot mknod: Invalid argument").
              const why = code === 'EINVAL' && type !== 'fifo' && (major >= 1 << 12 || minor >= 1 << 20) ? ` (device ${major},${minor}: this system's device numbers hold a major below 4096 and a minor below 1048576)` : '';
              throw new Error(`cannot make the ${type === 'fifo' ? 'fifo' : 'device node'}: ${describeErrno(err as NodeJS.ErrnoException)}${why}`, { cause: err });
            }
          }, (at) => this.applyMetadata(at, entry));
          return;
        }
      }
    } catch (err) {
      this.failed(entry, err);
    } finally {
      this.inheritedAcl = false;
    }
  }

  /**
   * The `existing` option for a directory member, as GNU tar: `restore` it (made, or its metadata
   * set on the one there); `keep` the directory on disk as it is (its owner, mode, times, ACLs:
   * members are still restored into it); or the name is held by a file or symlink that is kept
   * (`blocked`: the members under it then fail, "not a directory"). -k once replaced that file
   * with the directory, exit 0.
   */
  private existingDirectory(abs: Buffer, entry: Entry): 'restore' | 'keep' | 'blocked' {
    const mode = this.opts.existing ?? 'replace';
    if (mode === 'replace') return 'restore';
    const st = lstatSync(abs, { throwIfNoEntry: false, bigint: true });
    if (!st || (mode === 'keep-newer' && st.mtimeNs < entry.mtimeNs)) return 'restore';
    if (!st.isDirectory()) return this.keepExisting(abs, entry, true) ? 'blocked' : 'restore';
    if (mode === 'keep-newer') this.notes.push(`${entry.name}: kept the directory's metadata on disk: it is newer or as old as the member (--keep-newer-files)`);
    return 'keep';
  }

  /**
   * A member whose name is left as it is on disk (`existing`). A hardlink to it is not made: it
   * would join the file on disk, whose content the archive does not vouch for (spec §9.3). A
   * file's content is still read and checked: damage is reported, though nothing was written.
   */
  private async kept(entry: Entry, body: AsyncIterable<Buffer> | undefined, check: RestoreCheck): Promise<void> {
    this.notExtracted(entry);
    if (entry.type !== 'file') return;
    if (check.deferred) ({ body, check } = check.deferred.inline(body));
    if (body && !Buffer.isBuffer(body)) for await (const part of body) void part;
    const wrong = check.verdict?.();
    if (wrong !== undefined) this.damaged.push({ path: entry.name, what: `${wrong}; not extracted (the name was kept as it is on disk)` });
    check.kept?.();
  }

  /**
   * The `existing` option: true when the name is taken and must be left alone. `anyKind`: a
   * directory member, which GNU tar's --keep-newer-files judges by mtime whatever is there (a
   * file member replaces a newer thing of another kind).
   */
  private keepExisting(abs: Buffer, entry: Entry, anyKind = false): boolean {
    const mode = this.opts.existing ?? 'replace';
    if (mode === 'replace') return false;
    const st = lstatSync(abs, { throwIfNoEntry: false, bigint: true });
    if (!st) return false;
    if (mode === 'keep-old') this.lose(entry, 'entry', 'not extracted: the name already exists (--keep-old-files)');
    else if (mode === 'keep-newer') {
      // Newer than the member is said of the same kind of file: another kind is replaced, as GNU tar does.
      const kind = kindOfMode(st.mode);
      if (st.mtimeNs < entry.mtimeNs || (!anyKind && kind !== (entry.type === 'hardlink' ? 'file' : entry.type))) return false;
      this.notes.push(`${entry.name}: kept the ${kind === 'chardev' || kind === 'blockdev' ? 'device' : kind} on disk: it is newer or as old as the member (--keep-newer-files)`);
    }
    this.skipped.push(entry.name);
    return true;
  }

  /**
   * The symlinks kept for the end (platform.symlinksLast), every target now in place: each made
   * where the process may (Windows: Developer Mode or an administrator), with its metadata; else
   * (EPERM, or Wine's "yes" that makes nothing) left to copyForLinks().
   */
  private async makeLastLinks(): Promise<void> {
    for (const { parts, abs, entry, target } of this.lastLinks.values()) {
      try {
        this.ensureParents(parts);
        this.clear(parts);
        let made: number | undefined;
        try {
          made = await this.makeName(abs, (at) => symlinkSync(target, at), (at) => this.applyMetadata(at, entry));
        } catch (err) {
          if (!['EPERM', 'EACCES', 'ENOSYS', 'ENOTSUP'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
        }
        if (made === undefined) this.unlinked.push({ parts, abs, entry });
      } catch (err) {
        this.lose(entry, 'entry', `not extracted: ${(err as Error).message}`);
      }
    }
    this.lastLinks.clear();
    this.copyForLinks();
  }

  /**
   * The fallback for symlinks the process could not make (spec §9.7): a link to a regular file
   * inside the destination becomes a copy of it; any other is not made. Either way a loss of kind
   * `symlink`. The target is walked with lstat, component by component: a copy never reads
   * through a link or outside the destination.
   */
  private copyForLinks(): void {
    const why = 'this process may not create symlinks';
    for (const { parts, abs, entry } of this.unlinked.splice(0)) {
      const target = entry.linkTarget ?? Buffer.alloc(0);
      const shown = `"${target.toString('utf8')}"`;
      const outside = symlinkOutside(parts, target, this.rules);
      if (outside) {
        this.unmade(entry, 'symlink', `not made (${why}); its target ${shown} ${outside}, so it is not copied either`);
        continue;
      }
      const at = parts.slice(0, -1);
      for (const c of target.toString('latin1').split('/')) {
        if (c === '..') at.pop();
        else if (c !== '' && c !== '.') at.push(this.platform.diskName(Buffer.from(c, 'latin1')));
      }
      let problem: string | undefined = at.length ? undefined : 'is the destination itself';
      for (let n = 1; n <= at.length && !problem; n++) {
        const st = lstatSync(this.abs(at.slice(0, n)), { throwIfNoEntry: false });
        if (!st) problem = 'is missing';
        else if (st.isSymbolicLink()) problem = 'goes through a symlink';
        else if (n < at.length && !st.isDirectory()) problem = 'goes through a file';
        else if (n === at.length && !st.isFile()) problem = 'is not a regular file';
      }
      if (problem) {
        this.unmade(entry, 'symlink', `not made (${why}); its target ${shown} ${problem}, so it is not copied`);
        continue;
      }
      try {
        copyFileSync(this.abs(at), abs, fsConstants.COPYFILE_EXCL);
        this.lose(entry, 'symlink', `made as a copy of its target ${shown} (${why})`);
      } catch (err) {
        this.unmade(entry, 'symlink', `not made (${why}); copying its target ${shown} failed: ${(err as Error).message}`);
      }
    }
  }

  /**
   * A damaged archive or an exceeded limit ends the extraction; so does a full, read-only or
   * failing disk (every later entry would fail the same way; an IoError is one from a batched
   * file); anything else costs one entry.
   */
  private failed(entry: Entry, err: unknown): void {
    this.notExtracted(entry);
    // Ending after a failure (finishAfterFailure), what was still pending is each its own loss.
    if (!this.ending) {
      if (err instanceof ArchiveError || err instanceof IoError) throw err;
      // The disk is full or gone: every later entry would fail the same way. Said, so that no one
      // takes the entries after this one for restored.
      if (isStorageFailure(err)) throw new IoError(`cannot write into ${this.root.toString()}: ${describeErrno(err)}; the extraction stopped: this entry and the ones after it were not extracted`, { entry: entry.name, cause: err });
    } else if (err instanceof PortarcError) {
      this.lose(entry, 'entry', `not extracted: ${err.reason}`);
      return;
    }
    // A system error says what failed, not Node's text with the path it was given (a temporary
    // name, or /proc/self/fd/N/... for a deep path): the entry is named already.
    const e = err as NodeJS.ErrnoException;
    this.lose(entry, 'entry', `not extracted: ${e.code && e.syscall ? `cannot ${e.syscall}: ${describeErrno(e)}` : e.message}`);
  }

  /** A regular file by the JS path: content under a temporary name, metadata, then its name. */
  private async placeFile(abs: Buffer, entry: Entry, body: AsyncIterable<Buffer> | undefined, check: RestoreCheck, counted = false, plan?: MetadataPlan): Promise<void> {
    // Handed off: writeFile writes a big part on the threadpool while this thread hashes it.
    if (check.deferred) ({ body, check } = check.deferred.inline(body, true));
    // Written, dressed and (without fsync) named through its directory held from the
    // destination: by path, a parent swapped for a symlink meanwhile led them outside (an audit's race).
    const dir = this.holdParent(abs);
    try {
      const tmp = await this.writeFile(abs, entry, body, counted, dir);
      const wrong = check.verdict?.();
      if (wrong !== undefined) return this.setAside(tmp, abs, entry, wrong);
      check.written?.(abs, lstatSync(dir.at(tmp)).ino);
      // Metadata goes on the inode before it gets its name: a crash leaves no half-dressed file.
      await this.applyMetadata(dir.at(tmp), entry, false, plan);
      await this.queueRename(tmp, abs, entry, entry.size, dir);
    } finally {
      dir.close();
    }
  }

  /**
   * Small plain files go to the addon's batches. Not: sparse files, the destination itself, (for a
   * user) setuid/setgid files, whose bits the kernel may drop, and times a filesystem may clamp:
   * the JS path checks those.
   */
  private batchable(entry: Entry, parts: Buffer[]): boolean {
    return (
      entry.type === 'file' && !entry.sparse && entry.size <= SMALL_FILE && parts.length > 0 && !this.inheritedAcl &&
      this.sys.restoreFiles !== undefined && (this.isRoot || !(entry.mode & 0o6000)) && !mayClamp(entry)
    );
  }

  /**
   * Read a small file's content into the batch and plan its metadata; the addon makes it when
   * the batch goes (see native/restore.c). What cannot be batched after all (a content larger
   * than its header said, or wrong) takes the JS path, now.
   */
  private async queueFile(parts: Buffer[], abs: Buffer, entry: Entry, body: AsyncIterable<Buffer> | undefined, check: RestoreCheck): Promise<void> {
    // The addon hashes the content as it writes it, unless this runtime gives it no SHA-256.
    if (check.deferred && !this.sys.restoreHashes) ({ body, check } = check.deferred.inline(body));
    if (this.filling && this.filling.used + entry.size > this.filling.slot.data.length) await this.submitBatch();
    const batch = (this.filling ??= { slot: this.freeBatchSlot(), used: 0, files: [] });
    const data = batch.slot.data;
    const start = batch.used;
    let end = start;
    let spilled: Buffer[] | undefined;
    const take = (part: Buffer) => {
      this.count(part.length, entry);
      if (!spilled && end + part.length <= data.length) {
        part.copy(data, end);
        end += part.length;
      } else {
        spilled ??= [Buffer.from(data.subarray(start, end))];
        spilled.push(Buffer.from(part));
      }
    };
    // A body in memory (the reader's small members) is taken whole, without an async iteration.
    if (Buffer.isBuffer(body)) take(body);
    else for await (const part of body ?? []) take(part);
    const wrong = check.verdict?.();
    if (spilled || wrong !== undefined) {
      const content = spilled ?? [data.subarray(start, end)];
      this.clear(parts, true);
      return await this.placeFile(abs, entry, iterate(content), wrong === undefined ? check : { verdict: () => wrong }, true);
    }
    batch.used = end;
    const plan = this.planMetadata(entry, false);
    for (const x of plan.xattrs) x.value = Buffer.from(x.value); // the archive's buffers are reused
    batch.files.push({ seq: this.seq, entry, parts, abs, plan, check, tmp: this.tmpCounter++, off: start, len: end - start });
    this.batchTargets.add(this.paths.plain(abs));
    this.batchDirs.add(this.paths.plain(abs.subarray(0, abs.lastIndexOf(0x2f))));
    if (batch.files.length >= BATCH_FILES || batch.used >= BATCH_BYTES - SMALL_FILE) await this.submitBatch();
  }

  /** The slot the batch in flight does not use. */
  private freeBatchSlot(): BatchSlot {
    const busy = this.inflight?.batch.slot;
    let slot = this.batchSlots.find((b) => b !== busy);
    if (!slot) {
      slot = { data: Buffer.allocUnsafe(BATCH_BYTES), names: Buffer.allocUnsafe(16 << 10), params: new Float64Array(BATCH_FILES * BATCH_PARAMS), times: new BigInt64Array(BATCH_FILES * 2), digests: Buffer.alloc(BATCH_FILES * 64) };
      this.batchSlots.push(slot);
    }
    return slot;
  }

  /** Send the batch being filled to the addon, once the one before it is done and reported. */
  private async submitBatch(): Promise<void> {
    await this.settleBatch();
    const batch = this.filling;
    this.filling = undefined;
    if (!batch?.files.length) return;
    const result = this.sys.restoreFiles!(packBatch(batch, this.umask), this.opts.fsync !== false, this.root);
    result.catch(() => undefined); // awaited by settleBatch; this only keeps Node from calling it unhandled
    this.inflight = { batch, result };
  }

  /** Wait for the batch in flight and report each of its files as the JS path would have. */
  private async settleBatch(): Promise<void> {
    const inflight = this.inflight;
    if (!inflight) return;
    this.inflight = undefined;
    const { batch } = inflight;
    const result = await inflight.result.catch((err: Error) => {
      // The addon could not run the batch at all: none of its files can be vouched for.
      throw new IoError(`cannot write into ${this.root.toString()}: ${err.message}`, { entry: batch.files[0]?.entry.name, cause: err });
    });
    const dirOf = (f: BatchedFile) => this.paths.plain(f.abs.subarray(0, f.abs.lastIndexOf(0x2f)));
    for (const f of batch.files) {
      this.batchTargets.delete(this.paths.plain(f.abs));
      this.batchDirs.delete(dirOf(f));
    }
    for (const f of this.filling?.files ?? []) this.batchDirs.add(dirOf(f));
    if (result.syncError) {
      const err = result.syncError;
      throw new IoError(`cannot make the extracted files durable in ${this.root.toString()}: ${describeErrno(err)}`, { entry: batch.files[0]?.entry.name, cause: err });
    }
    for (let i = 0; i < batch.files.length; i++) {
      const f = batch.files[i]!;
      const failure = result.failures.get(i);
      this.lossAt = f.seq;
      try {
        // Hashed as it was written: a file that differs from the manifest is not under its name
        // (§11); a stream's check learns each digest (before `written`, the dir case's included).
        const deferred = f.check.deferred;
        const stop = failure?.stop;
        if (deferred && stop !== 'lstat' && stop !== 'open' && stop !== 'write' && (stop === 'digest' || deferred.want === undefined)) {
          const wrong = deferred.judge(batch.slot.digests.toString('latin1', 64 * i, 64 * i + 64));
          if (stop === 'digest') {
            const tmp = Buffer.concat([f.abs.subarray(0, f.abs.lastIndexOf(0x2f) + 1), Buffer.from(tmpName(f.tmp), 'latin1')]);
            this.temps.add(tmp);
            this.setAside(tmp, f.abs, f.entry, wrong ?? 'content does not match the manifest');
            continue;
          }
        }
        if (failure?.stop === 'dir') {
          // A directory is in the way: the JS path removes it (when empty) or refuses the file.
          this.clear(f.parts, true);
          const content = batch.slot.data.subarray(f.off, f.off + f.len);
          await this.placeFile(f.abs, f.entry, iterate([content]), { written: f.check.written }, true, f.plan);
          continue;
        }
        if (failure?.stop === 'lstat' || failure?.stop === 'open' || failure?.stop === 'write') throw failure.error;
        f.check.written?.(f.abs, result.inos[i]!);
        this.reportBatchLosses(f, failure);
        if (failure?.stop === 'rename') {
          if (this.opts.fsync !== false) {
            this.lose(f.entry, 'entry', `not extracted: cannot rename onto its name: ${describeErrno(failure.error as NodeJS.ErrnoException)}`);
            this.notExtracted(f.entry);
          } else throw failure.error;
        } else if (this.opts.fsync !== false) {
          this.touchedDirs.add(f.abs.subarray(0, f.abs.lastIndexOf(0x2f)).toString('latin1'));
        }
      } catch (err) {
        this.failed(f.entry, err);
      } finally {
        this.lossAt = undefined;
      }
    }
  }

  /** A batched file's metadata losses, in applyMetadata's order: owner, planned, xattrs, mode, time. */
  private reportBatchLosses(f: BatchedFile, failure: BatchFailure | undefined): void {
    if (failure?.owner) this.lose(f.entry, 'owner', metaFailure(failure.owner, ownerChange(f.plan.owner)));
    for (const l of f.plan.losses) this.lose(f.entry, l.what, l.reason);
    if (!failure) return;
    for (const { index, error } of failure.xattrs) {
      const x = f.plan.xattrs[index]!;
      this.addLoss({ path: f.entry.name, what: x.what, reason: metaFailure(error, x.name) });
    }
    if (failure.mode) this.lose(f.entry, 'mode', metaFailure(failure.mode, modeChange(f.plan.mode)));
    if (failure.time) this.lose(f.entry, 'time', metaFailure(failure.time, 'cannot set the times'));
  }

  /** Every batched file made, reported and under its name. */
  private async drainBatches(): Promise<void> {
    await this.submitBatch();
    await this.settleBatch();
  }

  /** A file with wrong content: its temporary removed, or renamed to NAME.damaged (keepDamaged). */
  private setAside(tmp: Buffer, abs: Buffer, entry: Entry, what: string): void {
    this.notExtracted(entry);
    let dir = BY_PATH;
    try {
      dir = this.holdParent(abs);
      if (!this.opts.keepDamaged) {
        this.dropTemp(tmp, dir.at(tmp));
        this.damaged.push({ path: entry.name, what });
        return;
      }
      renameSync(dir.at(tmp), dir.at(Buffer.concat([abs, Buffer.from('.damaged')])));
      this.temps.delete(tmp);
      this.damaged.push({ path: entry.name, what, keptAs: `${entry.name}.damaged` });
    } catch (err) {
      // Something that cannot be replaced is in the way (a directory): the content is dropped. A
      // directory swapped meanwhile: nothing is removed through it.
      if (!(err instanceof UnsafePath)) this.dropTemp(tmp, dir.at(tmp));
      this.damaged.push({ path: entry.name, what: `${what}; not ${this.opts.keepDamaged ? 'kept' : 'removed'}: ${(err as Error).message}` });
    } finally {
      dir.close();
    }
  }

  /** Count content bytes against the limit before they are written. */
  private count(n: number, entry: Entry): void {
    this.bytesWritten += n;
    if (this.bytesWritten > this.limits.bytes) {
      throw new LimitError(`extraction would write more than ${this.limits.bytes} bytes (limit "bytes")`, { entry: entry.name });
    }
  }

  /**
   * A directory entry: reuse a real directory, replace anything else (a symlink is removed, not
   * followed). `existed`: it was there before the extraction (not made by it, as a parent or
   * before): it may hold xattrs of its own.
   */
  private makeDir(parts: Buffer[], abs: Buffer, key: string): { ino: number; existed: boolean } {
    // Through its parent held from the destination: by path, a parent swapped for a
    // symlink after its check led the unlink and mkdir outside (an audit's race deleted files there).
    const dir = parts.length ? this.holdParent(abs) : BY_PATH;
    const at = dir.at(abs);
    try {
      let st = lstatSync(at, { throwIfNoEntry: false });
      const existed = st?.isDirectory() === true && !this.verified.has(key);
      if (st && !st.isDirectory()) {
        unlinkIfThere(at);
        st = undefined;
      }
      if (!st) {
        mkdirIfMissing(at, 0o700);
        st = lstatSync(at);
      }
      if (parts.length) this.verified.set(key, st.ino);
      return { ino: st.ino, existed };
    } finally {
      dir.close();
    }
  }

  /** A fresh temporary name in the directory of `abs`. */
  private tmpBeside(abs: Buffer): Buffer {
    return Buffer.concat([abs.subarray(0, abs.lastIndexOf(0x2f) + 1), Buffer.from(tmpName(this.tmpCounter++))]);
  }

  /**
   * Make a link or node at `abs` atomically: made under a temporary name beside it, dressed there
   * (`dress`: its metadata), then renamed over whatever is there. Never unlink-then-make: a
   * concurrent extraction into the same directory would find the name missing in between and
   * report its metadata as lost. All of it through the parent held from the destination.
   * The inode made; undefined when nothing was (Wine's symlink() can answer yes and make nothing).
   */
  private async makeName(abs: Buffer, make: (at: Buffer) => void, dress?: (at: Buffer) => Promise<void>): Promise<number | undefined> {
    const dir = this.holdParent(abs);
    const tmp = dir.at(this.tmpBeside(abs));
    try {
      make(tmp);
      const st = lstatSync(tmp, { throwIfNoEntry: false });
      if (!st) return undefined;
      try {
        if (dress) await dress(tmp);
        // The fallback's queued xattrs name the temporary name: set before it goes.
        if (this.pendingXattrs.length) await this.flushXattrs();
        renameSync(tmp, dir.at(abs));
        // rename() of a hardlink (nothing to dress) over a name of the same inode succeeds and does nothing (POSIX).
        if (!dress) unlinkIfThere(tmp);
      } catch (err) {
        unlinkIfThere(tmp);
        throw err;
      }
      return st.ino;
    } finally {
      dir.close();
    }
  }

  /**
   * Write the content under a temporary name beside the target, then rename it into place: a crash
   * never leaves a truncated file under the real name.
   */
  private async writeFile(abs: Buffer, entry: Entry, body?: AsyncIterable<Buffer>, counted = false, dir: Parent = BY_PATH): Promise<Buffer> {
    const tmp = this.tmpBeside(abs);
    const fd = openSync(dir.at(tmp), 'wx', 0o600);
    this.temps.add(tmp);
    let done = false;
    let writing: Promise<void> | undefined;
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
            if (!counted) this.count(take, entry);
            writeAll(fd, part.subarray(off, off + take), runs[run]!.offset + filled);
            off += take;
            filled += take;
          }
        }
        ftruncateSync(fd, entry.size);
      } else {
        // A big part is written on the threadpool while the body's digest (handOff) hashes it
        // here and the next part is read: one at a time, so that the part is still the reader's
        // (a part stays valid until the one after next is asked for: src/io/source.ts).
        let at = 0;
        for await (const part of body ?? []) {
          if (!counted) this.count(part.length, entry);
          if (writing) await writing;
          writing = undefined;
          if (part.length >= ASYNC_WRITE) {
            writing = writeAllAsync(fd, part, at);
            // Failed while the next part is read: thrown where it is awaited, not unhandled.
            writing.catch(() => {});
          } else writeAll(fd, part, at);
          at += part.length;
        }
        if (writing) await writing;
        writing = undefined;
      }
      if (this.platform.fsyncWhileOpen && this.opts.fsync !== false) fsyncSync(fd);
      done = true;
    } finally {
      // Never close a descriptor a write still uses (a failed read, or a failed write before it).
      if (writing) await writing.catch(() => {});
      closeSync(fd);
      if (!done) this.dropTemp(tmp, dir.at(tmp));
    }
    return tmp;
  }

  /**
   * Put a written file under its name. With fsync on, renames wait in a batch: one syncfs (or,
   * without the addon, an fsync per file) makes the whole batch's data durable, then the renames
   * happen. Either way, a name never points at data that a crash could lose.
   */
  private async queueRename(tmp: Buffer, abs: Buffer, entry: Entry, size: number, dir: Parent): Promise<void> {
    if (this.opts.fsync === false) {
      renameSync(dir.at(tmp), dir.at(abs));
      this.temps.delete(tmp);
      return;
    }
    this.pendingRenames.push({ tmp, abs, entry });
    this.pendingTargets.add(this.paths.plain(abs));
    this.pendingBytes += size;
    if (this.pendingRenames.length >= RENAME_BATCH || this.pendingBytes >= RENAME_BATCH_BYTES) await this.flushRenames();
  }

  private async flushRenames(): Promise<void> {
    await this.drainBatches();
    if (!this.pendingRenames.length) return;
    await this.flushXattrs(); // the fallback's queued xattrs name the temporary paths
    const batch = this.pendingRenames.splice(0);
    this.pendingTargets.clear();
    this.pendingBytes = 0;
    if (!this.platform.fsyncWhileOpen && !this.syncedFs()) {
      for (const { tmp } of batch) {
        const fd = openForSync(tmp);
        try {
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
      }
    }
    // Each named through its directory held from the destination (holdParent keeps the last one
    // open; another is opened again, which refuses one swapped for a symlink since).
    for (const { tmp, abs, entry } of batch) {
      let dir: Parent | undefined;
      try {
        dir = this.holdParent(abs);
        renameSync(dir.at(tmp), dir.at(abs));
        this.temps.delete(tmp);
        this.touchedDirs.add(abs.toString('latin1', 0, abs.lastIndexOf(0x2f)));
      } catch (err) {
        if (!(err instanceof UnsafePath)) this.dropTemp(tmp, dir?.at(tmp));
        // Said without the temporary name (it means nothing to anyone); a later hardlink to it is not made.
        const e = err as NodeJS.ErrnoException;
        this.lose(entry, 'entry', `not extracted: ${e.code ? `cannot rename onto its name: ${describeErrno(e)}` : e.message}`);
        this.notExtracted(entry);
      } finally {
        dir?.close();
      }
    }
  }

  /**
   * One syncfs of the destination's filesystem; false where it cannot be had (no addon, or a
   * destination the user may write into but not read, mode 0311): then each file is fsynced.
   */
  private syncedFs(): boolean {
    try {
      return this.sys.syncFs(this.root);
    } catch {
      return false;
    }
  }

  /** Give every written file its name now (a check after the fact looks at the names). */
  async flush(): Promise<void> {
    await this.flushRenames();
  }

  /**
   * Something is about to touch `parts` (or a path below it): renames and batched files waiting
   * for it go first; so do batched files inside it when it replaces a directory.
   */
  private settle(parts: Buffer[], entry: Entry): void | Promise<void> {
    // A promise only when there is something to wait for: one per entry was garbage.
    if (!this.pendingTargets.size && !this.batchTargets.size) return;
    let key = this.root.toString('latin1');
    for (const p of parts) {
      key += '/' + p.toString('latin1');
      if (this.pendingTargets.has(key) || this.batchTargets.has(key)) return this.flushRenames();
    }
    if (entry.type !== 'directory' && this.batchDirs.has(key)) return this.flushRenames();
  }

  /**
   * What an entry's metadata will be (owner, xattrs, mode), with the notes and losses known before
   * any system call. Shared by the JS path (applyMetadata) and the addon's batches.
   */
  private planMetadata(entry: Entry, deferredAcl: boolean): MetadataPlan {
    const plan: MetadataPlan = { xattrs: [], losses: [], mode: 0 };
    if (this.inheritedAcl && !deferredAcl) plan.clearXattrs = ['system.posix_acl_access'];
    if (this.untrusted && (entry.uid !== process.getuid?.() || entry.gid !== process.getgid?.())) this.dropped.owners++;
    if (this.sameOwner && this.platform.owners) {
      plan.losses.push({ what: 'owner', reason: `${entry.uname || entry.uid}:${entry.gname || entry.gid} not set: ${this.platform.owners}` });
    } else if (this.sameOwner) {
      // uid_t and gid_t are 32 bits and -1 means "leave it": a bigger id cast down would give the
      // file another owner (4294967297 became uid 1) or none at all (4294967295), silently.
      const { uid, gid } = ownerOf(entry, this.profileOf.numericOwner);
      const fits = (id: number) => id >= 0 && id <= MAX_ID;
      for (const [kind, id] of [['uid', uid], ['gid', gid]] as const) {
        if (!fits(id)) plan.losses.push({ what: 'owner', reason: `${kind} ${id} is beyond the ids of this system (0-${MAX_ID}); not set` });
      }
      if (fits(uid) || fits(gid)) plan.owner = { uid: fits(uid) ? uid : -1, gid: fits(gid) ? gid : -1 };
    }
    for (const [name, value] of entry.xattrs) {
      if (withheldXattr(name, this.profileOf)) {
        this.notes.push(`${entry.name}: ${name} not restored (${this.profile()}): it grants privileges`);
        continue;
      }
      const cannot = this.platform.xattr(name);
      if (cannot) plan.losses.push({ what: 'xattr', reason: cannot });
      else plan.xattrs.push({ name, value, what: 'xattr' });
    }
    if (entry.selinux && this.platform.selinux) plan.losses.push({ what: 'selinux', reason: `"${entry.selinux}" not set: ${this.platform.selinux}` });
    else if (entry.selinux) plan.xattrs.push({ name: 'security.selinux', value: Buffer.from(entry.selinux + '\0'), what: 'selinux' });
    let accessSet = false;
    if (this.platform.acls && (entry.aclAccess?.length || entry.aclDefault?.length)) {
      plan.losses.push({ what: 'acl', reason: `not set: ${this.platform.acls}` });
    } else {
      accessSet = this.planAcl(plan, 'system.posix_acl_access', entry.aclAccess);
      if (deferredAcl) this.planAcl(plan, 'system.posix_acl_default', entry.aclDefault);
      else if (entry.aclDefault?.length) plan.losses.push({ what: 'acl', reason: 'only directories carry default ACLs' });
    }
    // chmod after chown (chown clears setuid/setgid) and after the ACL (which rewrites group bits).
    // With an ACL mask, the group bits of st_mode are the mask: take them from the ACL, since
    // bsdtar stores the group:: entry's bits in the mode field and chmod would overwrite the mask.
    const { mode, dropped } = modeOf(entry, this.profileOf, accessSet);
    if (dropped) this.dropped[dropped]++;
    const kept = this.platform.keptMode(mode, entry.type === 'directory');
    if (entry.type !== 'symlink' && kept !== mode) {
      // Windows keeps a read-only flag: the rest is a loss when asked for (-p), else a note (§9.7).
      if (this.samePermissions) plan.losses.push({ what: 'mode', reason: `mode ${mode.toString(8)} kept as ${kept.toString(8)}: ${this.platform.name} holds only a read-only flag` });
      else this.dropped.platformModes++;
    }
    plan.mode = mode;
    return plan;
  }

  private async applyMetadata(abs: Buffer, entry: Entry, deferredAcl = false, planned?: MetadataPlan, existed = false): Promise<void> {
    const isLink = entry.type === 'symlink';
    const plan = planned ?? this.planMetadata(entry, deferredAcl);
    // A directory (made here, or there before) keeps no ACL the archive does not give it; one that
    // was there before keeps no user.* or trusted.* xattr that an archive recording every xattr
    // does not give it (spec §9.1).
    const stale = deferredAcl && existed && this.exactXattrs;
    if (deferredAcl && (this.aclsHere || stale)) {
      const got = (await this.sys.getXattrs([abs]))[0];
      if (got instanceof Map) {
        const absent: string[] = [];
        if (this.aclsHere) {
          for (const [name, acl] of [['system.posix_acl_access', entry.aclAccess], ['system.posix_acl_default', entry.aclDefault]] as const) {
            if (!acl?.length && got.has(name)) absent.push(name);
          }
        }
        if (stale) {
          for (const name of got.keys()) {
            const managed = name.startsWith('user.') || (name.startsWith('trusted.') && !withheldXattr(name, this.profileOf));
            if (managed && !entry.xattrs.has(name)) absent.push(name);
          }
        }
        if (absent.length) plan.clearXattrs = absent;
      }
    }
    if (plan.clearXattrs) {
      for (const f of await this.sys.removeXattrs(plan.clearXattrs.map((name) => ({ path: abs, name })))) {
        const what = f.name.startsWith('system.posix_acl_') ? 'acl' : 'xattr';
        this.lose(entry, what, metaFailure({ code: f.code, message: f.error }, `${f.name} (not in the archive) not removed`));
      }
    }
    if (plan.owner) {
      try {
        lchownSync(abs, plan.owner.uid, plan.owner.gid);
      } catch (e) {
        this.lose(entry, 'owner', metaFailure(e, ownerChange(plan.owner)));
      }
    }
    for (const x of plan.xattrs) this.queueXattr(abs, entry, x.name, x.value, x.what);
    for (const l of plan.losses) this.lose(entry, l.what, l.reason);
    if (this.sys.kind === 'native' || this.pendingXattrs.length > 2000) await this.flushXattrs();
    // Without the addon times are set to the microsecond: counted, and said once by finish().
    // Before the mode (chmod changes no time): a directory named `/proc/self/fd/N/.` is looked up
    // inside itself, which a user cannot do once its mode has no x bit for them.
    this.setTimes(abs, entry);
    const mode = plan.mode;
    if (!isLink) {
      try {
        const got = chmodNoFollow(abs, mode);
        // A user's chmod keeps setgid only for a group of theirs: the kernel drops it silently.
        if (mode & 0o6000 && !this.isRoot && (got & 0o6000) !== (mode & 0o6000)) {
          this.lose(entry, 'mode', `setuid/setgid bits ${(mode & 0o6000).toString(8)} not kept by the system (the owner or group is not yours)`);
        }
      } catch (e) {
        this.lose(entry, 'mode', metaFailure(e, modeChange(mode)));
      }
    }
  }

  /** The profile's name, for notes: why something was left out on purpose. */
  private profile(): string {
    if (this.untrusted) return '--untrusted';
    return this.isRoot || this.opts.samePermissions === false ? '--no-same-permissions' : 'not root; -p asks for it';
  }

  private setTimes(abs: Buffer, entry: Entry): void {
    let precision: 'exact' | 'microseconds' | void;
    try {
      precision = this.sys.setTimes(abs, entry.atimeNs ?? entry.mtimeNs, entry.mtimeNs);
    } catch (err) {
      this.lose(entry, 'time', metaFailure(err, 'cannot set the times'));
      return;
    }
    if (precision === 'microseconds') this.roundedTimes++;
    if (mayClamp(entry)) this.checkClamped(abs, entry, precision === 'microseconds' ? 1000n : 1n);
  }

  /**
   * A time outside what every filesystem holds may be stored clamped without an error (ext4 keeps
   * 1901-2446, ext3 and XFS without bigtime 1901-2038): read back what was stored, to the
   * precision the times were set with, and report a difference.
   */
  private checkClamped(abs: Buffer, entry: Entry, unit: bigint): void {
    const st = lstatSync(abs, { bigint: true, throwIfNoEntry: false });
    if (!st) return;
    const same = (a: bigint, b: bigint) => a / unit === b / unit;
    for (const [what, want, got] of [['mtime', entry.mtimeNs, st.mtimeNs], ['atime', entry.atimeNs ?? entry.mtimeNs, st.atimeNs]] as const) {
      if (!same(want, got)) this.lose(entry, 'time', `${what} ${nsTime(want)} is outside what this filesystem holds: stored as ${nsTime(got)}`);
    }
  }

  private queueXattr(abs: Buffer, entry: Entry, name: string, value: Buffer, what: Loss['what']): void {
    this.pendingXattrs.push({ path: abs, name, value, entry: entry.name, what });
  }

  /** Plan setting an ACL; false when there is none to set, or it cannot be set here (a loss). */
  private planAcl(plan: MetadataPlan, name: string, acl: AclEntry[] | undefined): boolean {
    if (!acl?.length) return false;
    const r = settableAcl(acl, this.profileOf.numericOwner);
    if (r.cannot !== undefined) {
      plan.losses.push({ what: 'acl', reason: `${name}: ${r.cannot}` });
      return false;
    }
    plan.xattrs.push({ name, value: encodeAclXattr(r.acl), what: 'acl' });
    return true;
  }

  private async flushXattrs(): Promise<void> {
    const items = this.pendingXattrs.splice(0);
    if (!items.length) return;
    const failures = await this.sys.setXattrs(items);
    for (const f of failures) {
      const item = items.find((i) => i.path.equals(f.path) && i.name === f.name);
      this.addLoss({ path: item?.entry ?? f.path.toString(), what: item?.what ?? 'xattr', reason: metaFailure({ code: f.code, message: f.error }, f.name) });
    }
  }

  /** Remove a temporary file, named `at` (through its held directory) when given. */
  private dropTemp(tmp: Buffer, at = tmp): void {
    rmSync(at, { force: true });
    this.temps.delete(tmp);
  }

  /**
   * After a failure: remove every temporary file that did not reach its name (written or not),
   * so that nothing half-made stays in the destination. Call after finish() (which renames the
   * complete ones), whether or not that succeeded.
   */
  abort(): void {
    this.pendingRenames = [];
    this.pendingTargets.clear();
    for (const tmp of this.temps) this.dropTemp(tmp);
    this.close();
  }

  /**
   * Let go of the directories held open for deep paths. After finish() and what looks at the
   * restored names after it (the manifest's check sets damaged files aside by their paths).
   */
  close(): void {
    this.dropHeld();
    this.paths.close();
  }

  /**
   * finish() after the extraction failed (a full disk, a damaged archive): the files still held
   * in a batch are written or each named as a loss, what is complete gets its name, directories
   * their metadata; a step that fails does not keep the next from running (spec §8.1: entries
   * already extracted completely keep their names and metadata).
   */
  async finishAfterFailure(): Promise<void> {
    this.ending = true;
    await this.finish().catch(() => undefined);
  }

  /** Directories last and deepest first, so that writing their contents cannot disturb them. */
  async finish(): Promise<void> {
    for (const step of [() => this.drainBatches(), () => this.flushXattrs(), () => this.flushRenames(), () => this.makeLastLinks()]) {
      // Ending after a failure, a step that fails does not keep the next from running.
      if (this.ending) await step().catch(() => undefined);
      else await step();
    }
    this.dropHeld();
    const dirs = this.dirs.splice(0).sort((a, b) => b.depth - a.depth);
    for (const d of dirs) {
      let held: number | undefined;
      try {
        // Something else may be there now (made by another process): never follow it. Held open
        // from the destination down, the directory checked is the one dressed, whatever is
        // renamed meanwhile (by path, a parent swapped for a symlink led the metadata outside).
        const h = this.holdDirectory(d.abs);
        held = typeof h === 'number' ? h : undefined;
        const st = h === undefined ? lstatSync(d.abs, { throwIfNoEntry: false }) : held === undefined ? undefined : fstatSync(held);
        if (!st?.isDirectory() || st.ino !== d.ino) {
          this.lose(d.entry, 'entry', 'directory was replaced while extracting; its metadata is not applied');
          continue;
        }
        await this.applyMetadata(held === undefined ? d.abs : inHeld(held, Buffer.from('.')), d.entry, true, undefined, d.existed);
      } catch (e) {
        // One directory's metadata failing (its parent made unsearchable by another process, say)
        // is that directory's loss; the others still get theirs.
        this.lose(d.entry, 'entry', metaFailure(e, 'metadata not applied'));
      } finally {
        if (held !== undefined) closeSync(held);
      }
    }
    await this.flushXattrs();
    // The fallback sets xattrs in batches after times; setting an xattr changes ctime only.
    if (this.opts.fsync !== false) await this.syncDirs();
    this.reportDropped();
    // Said once (spec §9.1). Where the system holds nanoseconds and only this build cannot set them
    // (no addon), the tree is not exact: a warning, exit 1. Windows keeps 100 ns units, and no
    // Windows build sets them: the platform's rounding, a note.
    if (this.roundedTimes) {
      const n = `${this.roundedTimes} ${this.roundedTimes === 1 ? 'entry' : 'entries'}`;
      if (this.sys.kind === 'none') this.notes.push(`times set to the microsecond on ${n} (${this.platform.name}: below that, this platform's times are not restored)`);
      else this.warnings.push(`times set to the microsecond on ${n}: their nanoseconds need portarc's native addon, which this build lacks (portarc --version: "system calls: fallback")`);
      this.roundedTimes = 0;
    }
  }

  /** Entries whose times the system layer could set only to the microsecond (the fallback). */
  private roundedTimes = 0;

  /**
   * An fd (O_PATH) of a directory opened from the destination without following a symlink (Linux,
   * with the addon, which sets xattrs itself: through /proc/self/fd a child process would find its
   * own fds); the error's code where a symlink or something else is on the way now (ELOOP,
   * ENOTDIR) or nothing is (ENOENT); undefined where it cannot be held.
   */
  private holdDirectory(abs: Buffer): number | 'ELOOP' | 'ENOTDIR' | 'ENOENT' | undefined {
    if (!procFds || this.sys.kind !== 'native' || !this.sys.openBeneath) return undefined;
    // A path past PATH_MAX is named through a directory deep-paths.ts holds open: left as it is.
    const under = this.root.at(-1) === 0x2f ? this.root : Buffer.concat([this.root, Buffer.from('/')]);
    if (!abs.subarray(0, under.length).equals(under) && !abs.equals(this.root)) return undefined;
    try {
      return this.sys.openBeneath(this.root, abs);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ELOOP' || code === 'ENOTDIR' || code === 'ENOENT') return code;
      throw err;
    }
  }

  /**
   * The directory of `abs`, held from the destination where holdDirectory can (Linux, the
   * addon): `at()` names an object in it through the descriptor, whatever is renamed meanwhile.
   * By path elsewhere. A directory on the way replaced or removed since it was checked is refused.
   */
  private holdParent(abs: Buffer): Parent {
    const end = abs.lastIndexOf(0x2f);
    const dir = abs.toString('latin1', 0, end);
    let held = this.lastHeld;
    // Kept for the next object in the same directory (most follow one in it): one walk from DEST
    // per object cost a symlink-heavy extraction a third more. Once open, the descriptor is the
    // directory checked, wherever another process moves it.
    if (held?.dir !== dir) {
      const fd = this.holdDirectory(abs.subarray(0, end));
      if (fd === undefined) return BY_PATH;
      if (typeof fd === 'string') throw new UnsafePath(`a directory on the way was ${fd === 'ENOENT' ? 'removed' : 'replaced'} while extracting`);
      this.dropHeld();
      held = this.lastHeld = { dir, fd, users: 0, dropped: false };
    }
    const h = held;
    h.users++;
    return {
      at: (p) => inHeld(h.fd, p.subarray(p.lastIndexOf(0x2f) + 1)),
      close: () => {
        if (--h.users === 0 && h.dropped) closeSync(h.fd);
      },
    };
  }

  /** The directory holdParent keeps open: forgotten (it was removed, or the extraction ends), closed once unused. */
  private lastHeld?: { dir: string; fd: number; users: number; dropped: boolean };

  private dropHeld(): void {
    const h = this.lastHeld;
    if (!h) return;
    this.lastHeld = undefined;
    h.dropped = true;
    if (h.users === 0) closeSync(h.fd);
  }

  /** One note per kind of metadata the profile left out by design (§9.4): not losses, exit 0. */
  private reportDropped(): void {
    const d = this.dropped;
    const n = (k: number) => `${k} ${k === 1 ? 'entry' : 'entries'}`;
    if (d.setid) this.notes.push(`setuid/setgid bits cleared on ${n(d.setid)} (${this.profile()})`);
    if (d.owners) this.notes.push(`owners not restored on ${n(d.owners)}: they belong to the extracting user (--untrusted)`);
    if (d.modes) this.notes.push(`modes limited to 0755 (files u+rw, x only with u+x; no setuid/setgid/sticky, no group/other write) on ${n(d.modes)} (--untrusted)`);
    if (d.platformModes) this.notes.push(`permission bits kept only as a read-only flag on ${n(d.platformModes)} (${this.platform.name}; -p makes each a loss)`);
    if (d.mapped) this.notes.push(`${n(d.mapped)} written under names mapped by the ${this.platform.name} name rule (spec §9.7); an archive made from this tree by portarc on ${this.platform.name} has the original names`);
    this.dropped = { setid: 0, owners: 0, modes: 0, platformModes: 0, mapped: 0 };
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

/**
 * Does the filesystem at `root` fold case or Unicode normalisation? Probed with a scratch file;
 * then `root` gets its times back (its mtime is not the extraction's to change: -k, a selection,
 * an archive without an entry for it). Its ctime moves, as any look inside by writing would.
 */
function foldsNames(root: Buffer, sys: Sys): boolean {
  const base = `.portarc-probe-${process.pid}-`;
  const made = Buffer.concat([root, Buffer.from(`/${base}a\u00e9`)]);
  const variants = [`${base}A\u00e9`, `${base}ae\u0301`].map((n) => Buffer.concat([root, Buffer.from('/' + n)]));
  const before = lstatSync(root, { bigint: true, throwIfNoEntry: false });
  try {
    writeFileSync(made, '', { flag: 'wx' });
  } catch {
    return false; // Cannot probe (read-only, exists): assume the common case, a case-sensitive one.
  }
  try {
    return variants.some((v) => existsSync(v));
  } finally {
    rmSync(made, { force: true });
    try {
      if (before) sys.setTimes(root, before.atimeNs, before.mtimeNs);
    } catch {
      // Times that cannot be set back (not the owner): the probe's mark stays, as GNU tar's files would.
    }
  }
}

export { dataFilterMode } from './profile.js';

/** mkdir that accepts losing a race: another extraction into the same tree made it first. */
function mkdirIfMissing(abs: Buffer, mode: number): void {
  try {
    mkdirSync(abs, { mode });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}

/**
 * link(2), again when it fails with ENOENT though the source name is there: a concurrent extraction
 * renamed a new file over that name, and Linux refuses to link the inode the lookup found once that
 * rename removed its last name (vfs_link: i_nlink == 0 is ENOENT). The name then holds the new file.
 */
function linkRetrying(from: Buffer, to: Buffer): void {
  for (let attempt = 1; ; attempt++) {
    try {
      return linkSync(from, to);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt === 5 || !lstatSync(from, { throwIfNoEntry: false })) throw err;
    }
  }
}

/** A directory objects are named in (Restorer.holdParent): `at(abs)` is how to name `abs`, one of its entries. */
interface Parent {
  at(abs: Buffer): Buffer;
  close(): void;
}

/** Named by path (not root, not Linux, no addon, or past PATH_MAX). */
const BY_PATH: Parent = { at: (abs) => abs, close: () => undefined };

/** `name` in the directory held open as `fd` (Restorer.holdDirectory): looked up there, whatever its path is now. */
function inHeld(fd: number, name: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`/proc/self/fd/${fd}/`), name]);
}

/** A file opened to be fsynced: for reading, or for writing where it may not be read (mode 0200; never truncated). */
function openForSync(path: Buffer): number {
  try {
    return openSync(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EACCES') throw err;
    return openSync(path, fsConstants.O_WRONLY);
  }
}

/** unlink that accepts losing a race: another extraction into the same tree removed it first. */
function unlinkIfThere(abs: Buffer): void {
  try {
    unlinkSync(abs);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/**
 * Whether a batched file can be created with its final mode, saving the fchmod after (one system
 * call a file): only when the umask takes none of its bits, when it has no setuid, setgid or
 * sticky bit (fchown would clear them; they are set last), no group or other write bit (another
 * user could write into the file before its content is), and no ACL (which rewrites the mode).
 */
function createdExact(plan: MetadataPlan, umask: number | undefined): boolean {
  return umask !== undefined && (plan.mode & 0o7022) === 0 && (plan.mode & umask) === 0 && !plan.xattrs.some((x) => x.name.startsWith('system.posix_acl_'));
}

/**
 * The process's umask, read without changing it (Linux: /proc/self/status; reading it through
 * umask(2) sets it twice, racing the threads that create files meanwhile); undefined elsewhere.
 */
function currentUmask(): number | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    const m = /^Umask:\s*([0-7]+)$/m.exec(readFileSync('/proc/self/status', 'latin1'));
    return m ? parseInt(m[1]!, 8) : undefined;
  } catch {
    return undefined;
  }
}

/** The batch as the addon takes it (sys.FileBatch), packed into its slot's reused arrays. */
function packBatch(batch: FillingBatch, umask: number | undefined): FileBatch {
  const { slot, files } = batch;
  const xattrs: FileBatch['xattrs'] = [];
  let at = 0;
  for (let i = 0; i < files.length; i++) {
    const f = files[i]!;
    // dir NUL name NUL tmp NUL: the path with its last slash made a NUL (paths hold no NUL, §9.2).
    const tmp = tmpName(f.tmp);
    const need = f.abs.length + tmp.length + 2;
    if (at + need > slot.names.length) {
      const bigger = Buffer.allocUnsafe(Math.max(2 * slot.names.length, at + need));
      slot.names.copy(bigger, 0, 0, at);
      slot.names = bigger;
    }
    const names = slot.names;
    f.abs.copy(names, at);
    names[at + f.abs.lastIndexOf(0x2f)] = 0;
    at += f.abs.length;
    names[at++] = 0;
    at += names.write(tmp, at, 'latin1');
    names[at++] = 0;
    const p = i * BATCH_PARAMS;
    slot.params[p + BP.OFF] = f.off;
    slot.params[p + BP.LEN] = f.len;
    slot.params[p + BP.UID] = f.plan.owner?.uid ?? -1;
    slot.params[p + BP.GID] = f.plan.owner?.gid ?? -1;
    slot.params[p + BP.MODE] = f.plan.mode;
    slot.params[p + BP.INO] = f.check.written !== undefined ? 1 : 0;
    slot.params[p + BP.EXACT] = createdExact(f.plan, umask) ? 1 : 0;
    const want = f.check.deferred?.want;
    slot.params[p + BP.DIGEST] = !f.check.deferred ? DIGEST_NONE : want === undefined ? DIGEST_REPORT : DIGEST_COMPARE;
    if (want !== undefined) slot.digests.write(want, 64 * i, 64, 'latin1');
    // Batched times fit a 32-bit time_t (mayClamp), so their ns fit the int64s.
    slot.times[2 * i] = f.entry.atimeNs ?? f.entry.mtimeNs;
    slot.times[2 * i + 1] = f.entry.mtimeNs;
    for (const x of f.plan.xattrs) xattrs.push(i, x.name, x.value);
  }
  return { count: files.length, data: slot.data, names: slot.names, namesLength: at, params: slot.params, times: slot.times, xattrs, digests: slot.digests };
}

/**
 * A system error that kept a piece of metadata from being set, as GNU tar says it ("Cannot change
 * ownership to uid 0, gid 0: Operation not permitted"): what was being done and why, never Node's
 * text with the path it was done to (a temporary name, or /proc/self/fd/N/...).
 */
function metaFailure(err: unknown, doing: string): string {
  const e = err as NodeJS.ErrnoException;
  return `${doing}: ${e.code ? describeErrno(e) : e.message}`;
}

function ownerChange(owner: { uid: number; gid: number } | undefined): string {
  const ids = [owner && owner.uid >= 0 ? `uid ${owner.uid}` : '', owner && owner.gid >= 0 ? `gid ${owner.gid}` : ''].filter(Boolean);
  return `cannot change ownership to ${ids.join(', ')}`;
}

function modeChange(mode: number): string {
  return `cannot change mode to ${mode.toString(8).padStart(4, '0')}`;
}

/** The temporary name of a file being written, beside its real name. */
function tmpName(n: number): string {
  return `.portarc-${process.pid}-${n}.tmp`;
}

async function* iterate(parts: Buffer[]): AsyncGenerator<Buffer> {
  yield* parts;
}

/** pwrite/write until the whole buffer is out (a short write is legal). */
function writeAll(fd: number, buf: Buffer, position?: number): void {
  for (let off = 0; off < buf.length; ) {
    const n = writeSync(fd, buf, off, buf.length - off, position === undefined ? null : position + off);
    off += n;
  }
}

/** A part at least this big is written on the threadpool (writeFile); a smaller one here. */
const ASYNC_WRITE = 256 << 10;

const pWrite = promisify(write);

/** writeAll on the threadpool. */
async function writeAllAsync(fd: number, buf: Buffer, position: number): Promise<void> {
  for (let off = 0; off < buf.length; ) {
    const { bytesWritten } = await pWrite(fd, buf, off, buf.length - off, position + off);
    off += bytesWritten;
  }
}
