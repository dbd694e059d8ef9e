// Scan a filesystem tree into entries: lstat, readlink, every xattr the process can read (on
// files, directories and symlinks themselves), ACLs, SELinux labels, hardlinks by device and inode.
// Spec: spec/portarc-1.md §3 (entry model) and §9 (what a backup carries); §8.5 for what cannot
// be read: a path argument that cannot be stat'ed, a file or directory that cannot be read, fail
// (IoError / EntryError); a file removed meanwhile, or changed while read, is a warning.

// Small syscalls (lstat, readdir, readlink, reading a small file) are made synchronously: the
// promise API's thread-pool round trip per call dominated the time for many small files.
import { closeSync, constants as fsConstants, createReadStream, fstatSync, lstatSync, openSync, readSync, readlinkSync, type BigIntStats } from 'node:fs';
import { isUtf8 } from 'node:buffer';
import { isAbsolute, resolve } from 'node:path';
import { decodeAclXattr } from '../model/acl.js';
import { bufferBody, cannotRead, readFailure } from '../io/body.js';
import { EntryError, UsageError, ioError } from '../model/errors.js';
import { isOwnFile } from '../io/own-files.js';
import { displayName, makeEntry, type AclEntry, type Entry, type EntryType, type SparseRun } from '../model/entry.js';
import { DEEP, holdDirectory } from './deep-paths.js';
import { NameList } from './names.js';
import { hostPlatform, type Platform } from './platform.js';
import { F, SCAN_CONTENT, SCAN_FIELDS, SCAN_PACKED, SCAN_STAT, SCAN_XATTRS, loadSys, xattrMap, type PackArgs, type Sys, type XattrMap } from './sys.js';
import { PackOwner, packStats, type PackedRun, type RunReader } from '../tar/pack.js';
import { groupName, userName } from './users.js';
import { applyHooks, type EntryFilter, type EntryMap } from '../model/hooks.js';

export interface ScanOptions {
  /** Directory the paths are relative to (tar's -C). */
  cwd?: string;
  /** Store files with holes as sparse entries (tar's -S). */
  sparse?: boolean;
  /** A file never to archive (the archive being written, when it lies inside the tree). */
  exclude?: { dev: bigint; ino: bigint };
  /**
   * Read big files through one reused buffer. Only for consumers that are done with a chunk when
   * they ask for the next one (TarWriter over portarc's sinks): fresh 1 MiB buffers per chunk
   * leave tens of MiB of garbage before V8 collects them (measured: 86 MiB vs 53 MiB peak RSS).
   */
  reuseBuffers?: boolean;
  /**
   * With reuseBuffers: where to read a big file's next bytes instead of the reused buffer, when the
   * consumer offers a place (the hashing ring of src/integrity/digest-sink.ts, filled in place and
   * not copied again); undefined takes the reused buffer. At most `max` bytes.
   */
  lend?: (max: number) => Buffer | undefined | Promise<Buffer | undefined>;
  /**
   * scanForTar: the consumer digests packed runs while the scan reads on (PackedRun.hold; the
   * manifest, src/integrity/run-digests.ts). The scan's buffer is then PACK_ARENA, not BATCH_BYTES.
   */
  holdRuns?: boolean;
  /**
   * Give each hardlink entry the content of its inode too (size and body, read again at the link's
   * own path): a zip stores a copy so that other tools extract a real file (zip-profile §4.2).
   */
  hardlinkContent?: boolean;
  sys?: Sys;
  /** Do not descend into directories on another filesystem than their path argument (tar's --one-file-system). */
  oneFileSystem?: boolean;
  /**
   * false: a directory named is archived without what it holds (tar's --no-recursion), for lists
   * of names that already hold everything (`find ... | portarc create -T -`). Default true.
   */
  recursive?: boolean;
  /** The platform adapter whose names are read back (default: this process's; spec §9.7). */
  platform?: Platform;
  /**
   * Warnings not about an entry that is yielded (a file removed before it was read, a socket
   * skipped). Without it they ride on the next entry's `warnings`, and those after the last
   * entry are lost.
   */
  onWarning?: (warning: string) => void;
  /**
   * Notices not about one entry (a leading "/" removed from the names): changes to the names that
   * lose nothing, which GNU tar also reports with exit 0. Without it they ride on the next entry's
   * `notices`.
   */
  onNotice?: (notice: string) => void;
  /**
   * Keep an entry or skip it: the caller's hook (src/model/hooks.ts). A directory left out is not
   * descended (tar's --exclude on create). Called before hardlinks are matched: a link never points
   * to a file that was left out.
   */
  filter?: EntryFilter;
  /** Rename or drop an entry; a later name of a hardlinked file links to the first name as renamed. */
  map?: EntryMap;
}

export interface ScannedEntry {
  entry: Entry;
  /** The file's content (for sparse entries, the data runs back to back). */
  body?: () => AsyncIterable<Buffer>;
}

const BATCH = 512;
const SMALL_FILE = 1 << 20;
/** scanBatch reads files up to this size whole, into one reused buffer of BATCH_BYTES. */
const READ_MAX = 256 << 10;
const BATCH_BYTES = 2 << 20;
/**
 * The packing scan's buffer: each call fills a window of BATCH_BYTES just past the last call's
 * bytes, so that a run's bytes stay while it is digested and the next batches are read
 * (PackedRun.hold; src/integrity/run-digests.ts sends ~1 MiB of runs at a time).
 */
const PACK_ARENA = 6 << 20;

interface Item {
  abs: Buffer;
  arch: Buffer;
  /** The device of the path argument it came from (oneFileSystem). */
  dev?: bigint;
}

/** Walk each path depth-first, a directory before its contents, names in byte order. */
export function scan(paths: string[], opts: ScanOptions = {}): AsyncGenerator<ScannedEntry> {
  return walkPaths(paths, opts, false) as AsyncGenerator<ScannedEntry>;
}

/**
 * scan() for a tar writer (create, src/api/create.ts): with the native scan, small files come as
 * runs of whole tar members (src/tar/pack.ts) where the writer would have encoded them the same
 * way. A filter still sees each of them (filterPacked); not with a map (it renames), nor for a
 * writer that changes entries (deterministic).
 */
export function scanForTar(paths: string[], opts: ScanOptions = {}): AsyncGenerator<ScannedEntry | PackedRun> {
  return walkPaths(paths, opts, !opts.map && opts.onWarning !== undefined && process.env.PORTARC_NO_PACK !== '1');
}

async function* walkPaths(paths: string[], opts: ScanOptions, pack: boolean): AsyncGenerator<ScannedEntry | PackedRun> {
  const cwd = resolve(opts.cwd ?? '.');
  const sys = opts.sys ?? loadSys();
  const seen = new Map<string, Buffer>(); // dev:ino → first archive path, for hardlinks
  const items: Item[] = [];
  const notices: string[] = [];
  for (const p of paths) {
    const abs = isAbsolute(p) ? p : resolve(cwd, p);
    let arch = p.replace(/\/+$/, '').replace(/\/{2,}/g, '/') || '/';
    if (arch.startsWith('/')) {
      arch = arch.replace(/^\/+/, '') || '.';
      notices.push(`removing leading "/" from member names`);
    }
    // A ".." component would make every member under it refused on extraction (by portarc, GNU
    // tar, bsdtar): what leads up to the last one goes, as GNU tar does (`../other` → `other`).
    const parts = arch.split('/');
    const up = parts.lastIndexOf('..');
    if (up >= 0) {
      notices.push(`removing leading "${parts.slice(0, up + 1).join('/')}/" from member names`);
      arch = parts.slice(up + 1).join('/') || '.';
    }
    items.push({ abs: Buffer.from(abs), arch: Buffer.from(arch) });
  }
  // Every path argument must exist before anything is written: tar's "Cannot stat", a failure.
  for (const [k, it] of items.entries()) {
    try {
      lstatSync(it.abs);
    } catch (err) {
      throw ioError(err, 'cannot stat', paths[k]);
    }
  }
  const ctx: Ctx = { sys, seen, opts, warnings: [], notices: [], open: undefined, platform: opts.platform ?? hostPlatform() };
  if (sys.scanBatch) {
    const arena = Buffer.allocUnsafeSlow(pack && !WINDOWS && opts.holdRuns ? PACK_ARENA : BATCH_BYTES);
    ctx.batch = { scan: sys.scanBatch, fields: new BigInt64Array(BATCH * SCAN_FIELDS), buf: arena.subarray(0, BATCH_BYTES), arena, at: 0, next: 0, held: [] };
  }
  if (ctx.batch && pack && !WINDOWS) {
    const p: Packing = {
      owner: new PackOwner(opts.exclude),
      run: { packed: true, bytes: ctx.batch.buf, count: 0, layout: new Float64Array(BATCH * 4), paths: [], newestNs: 0n, contentBytes: 0, entry: (i) => packedEntry(ctx.batch!.fields, p.statAt[i]!, p.run.paths[i]!, p.labels[i]) },
      statAt: new Uint32Array(BATCH),
      labels: [],
      start: 0,
      end: 0,
    };
    ctx.pack = p;
  }
  for (const n of new Set(notices)) {
    if (opts.onNotice) opts.onNotice(n);
    else ctx.notices.push(n);
  }
  try {
    yield* walk(items, ctx);
  } finally {
    ctx.open?.close();
  }
}

/** A file opened by the scan before its entry is yielded; closed once read, or when the scan moves on. */
class OpenFile {
  private closed = false;
  constructor(readonly fd: number) {}
  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }
}

function warn(ctx: Ctx, warning: string): void {
  if (ctx.opts.onWarning) ctx.opts.onWarning(warning);
  else ctx.warnings.push(warning);
}

/**
 * A symlink's target. One replaced since the lstat by another kind of file (readlink: EINVAL)
 * is Replaced, as a file swapped for a symlink is: a warning, not a failed backup.
 */
function readLinkSeen(abs: Buffer): Buffer {
  try {
    return readlinkSync(abs, { encoding: 'buffer' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err;
    const now = lstatSync(abs, { bigint: true, throwIfNoEntry: false });
    if (!now) throw Object.assign(new Error('removed'), { code: 'ENOENT' });
    throw new Replaced(another(now.mode, 'directory'));
  }
}

/** A file or directory that vanished between listing and reading is a warning (tar's "File removed before we read it"). */
const removed = (err: unknown) => (err as NodeJS.ErrnoException)?.code === 'ENOENT';

/** The name holds another file than the scan's lstat saw (swapped in since): it was removed. */
class Replaced extends Error {}

const NOFOLLOW = (fsConstants.O_NOFOLLOW ?? 0) | (fsConstants.O_NONBLOCK ?? 0);
const WINDOWS = process.platform === 'win32';

/** What took a name's place, said with an article. */
function another(mode: bigint, same: 'file' | 'directory'): string {
  const kind = kindOfMode(mode);
  if (kind === same) return `another ${same}`;
  return kind === 'chardev' || kind === 'blockdev' ? 'a device' : kind ? `a ${kind === 'file' ? 'file' : kind}` : 'another kind of file';
}

/**
 * The names in the directory the scan's lstat saw: opened without following a symlink swapped in
 * since (a tree elsewhere, a root-only one, would be archived under this name), checked to be
 * that inode, and listed through its descriptor where the platform names one (Linux's
 * /proc/self/fd). Its children are then looked at by path: a swap after the listing is a window
 * this does not close (only walking by descriptors would).
 */
function listSeen(abs: Buffer, st: StatLike, alias: ((fd: number) => Buffer) | undefined): NameList {
  // Windows opens no directory as a file, and has no symlink swap of this kind to guard against.
  if (WINDOWS) return NameList.ofDirectory(abs);
  let fd: number;
  try {
    fd = openSync(abs, fsConstants.O_RDONLY | (fsConstants.O_DIRECTORY ?? 0) | NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw new Replaced('a symlink');
    if (code === 'ENOTDIR') throw new Replaced('something else (a symlink or a file)');
    throw err;
  }
  try {
    const now = fstatSync(fd, { bigint: true });
    if (!now.isDirectory() || now.dev !== st.dev || now.ino !== st.ino) throw new Replaced(another(now.mode, 'directory'));
    return NameList.ofDirectory(alias ? alias(fd) : abs);
  } finally {
    closeSync(fd);
  }
}

/**
 * Open the regular file the scan's lstat saw, for reading: never through a symlink swapped in
 * since (another file's content would be archived under this name; a root-only one, say), never
 * waiting on a fifo (O_NONBLOCK), and only that inode. Throws Replaced otherwise.
 */
function openSeen(abs: Buffer, st: StatLike): number {
  if (WINDOWS) return openSync(abs, 'r');
  let fd: number;
  try {
    fd = openSync(abs, fsConstants.O_RDONLY | NOFOLLOW);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw new Replaced('a symlink');
    throw err;
  }
  const now = fstatSync(fd, { bigint: true });
  if (!now.isFile() || now.dev !== st.dev || now.ino !== st.ino) {
    closeSync(fd);
    throw new Replaced(another(now.mode, 'file'));
  }
  return fd;
}

/** scanBatch with its reused result arrays: one per scan, refilled by every call. */
interface NativeBatch {
  scan: NonNullable<Sys['scanBatch']>;
  fields: BigInt64Array;
  /** The window the last call filled: arena[at, at + BATCH_BYTES). */
  buf: Buffer;
  arena: Buffer;
  at: number;
  /** Where the next window starts (past what the last call wrote). */
  next: number;
  /** Runs whose bytes are still read (PackedRun.hold), where they lie in the arena. */
  held: Array<{ start: number; end: number; reader: RunReader }>;
}

/** scanForTar's state: the owner packed files must have, and the run being gathered. */
interface Packing {
  owner: PackOwner;
  run: PackedRun;
  /** Where each member's fields are in the batch's fields; its SELinux label, if any. */
  statAt: Uint32Array;
  labels: Array<Buffer | undefined>;
  /** Where the run's members lie in the batch buffer. */
  start: number;
  end: number;
}

interface Ctx {
  sys: Sys;
  /** Set when the native batched scan is available. */
  batch?: NativeBatch;
  /** Set by scanForTar with the native scan. */
  pack?: Packing;
  seen: Map<string, Buffer>;
  opts: ScanOptions;
  warnings: string[];
  /** Notices waiting for the next entry (no onNotice). */
  notices: string[];
  /** The file of the entry last yielded, if its body was never read. */
  open: OpenFile | undefined;
  /** Names on disk back to member names (Windows: the inverse of the name rule, spec §9.7). */
  platform: Platform;
}

/** What the scan needs of a stat (BigIntStats, or the fields scanBatch filled). */
type StatLike = Pick<BigIntStats, 'dev' | 'ino' | 'mode' | 'nlink' | 'uid' | 'gid' | 'rdev' | 'size' | 'blocks' | 'atimeNs' | 'mtimeNs' | 'ctimeNs'>;

/** A small file's content read by scanBatch, with the fstat taken after reading it. */
interface ReadContent {
  data: Buffer;
  after: Pick<BigIntStats, 'size' | 'mtimeNs' | 'ctimeNs'>;
}

/** A Chunk's stat for an item scanBatch packed (its fields say where). */
const PACKED = new Error('packed');

interface Chunk {
  stats: Array<StatLike | Error>;
  xattrs: Array<Map<string, Buffer> | Error>;
  contents?: Array<ReadContent | undefined>;
  /** A packed item's SELinux label, as read (the only xattr a packed file may have). */
  labels?: Array<Buffer | undefined>;
}

/**
 * What the walk goes through: the path arguments, or a directory's children (their names packed,
 * their paths made a batch at a time: a directory of a million names held two paths each).
 */
interface Frame {
  count: number;
  /** Item k (k < count). */
  item(k: number): Item;
  /** Where the walk is in it. */
  i: number;
  /** The directory whose children these are: looked at again once they are done. */
  dir?: { name: string; st: StatLike; abs: Buffer; anchor: number | undefined };
}

/**
 * Walk depth first, a directory before its contents, with a stack of frames rather than a call
 * per level: a tree 2,000 levels deep overflowed the call stack (a crash with a stack trace).
 */
async function* walk(items: Item[], ctx: Ctx): AsyncGenerator<ScannedEntry | PackedRun> {
  const stack: Frame[] = [{ count: items.length, item: (k) => items[k]!, i: 0 }];
  try {
    while (stack.length) {
      const frame = stack[stack.length - 1]!;
      if (frame.i >= frame.count) {
        stack.pop();
        const d = frame.dir;
        if (d) {
          try {
            changedWhileRead(ctx, d.name, d.st, d.anchor === undefined ? d.abs : d.anchor);
          } finally {
            if (d.anchor !== undefined) closeSync(d.anchor);
          }
        }
        continue;
      }
      const below = yield* walkChunk(frame, ctx);
      if (below) stack.push(below);
    }
  } finally {
    // Stopped early (a failure, or the consumer stopped): the directories still held are let go.
    for (const f of stack) if (f.dir?.anchor !== undefined) closeSync(f.dir.anchor);
  }
}

/**
 * One batch of the frame's items from frame.i on: each yielded (or packed into runs) in order.
 * Returns the frame of a directory to go into, after which the walk resumes past it.
 */
async function* walkChunk(frame: Frame, ctx: Ctx): AsyncGenerator<ScannedEntry | PackedRun, Frame | undefined> {
  const pack = ctx.pack;
  const i = frame.i;
  const items: Item[] = [];
  for (let k = i; k < frame.count && k < i + BATCH; k++) items.push(frame.item(k));
  const batch = ctx.batch
    ? await nativeChunk(items.map((it) => it.abs), 0, ctx, ctx.batch, ctx.pack ? items.map((it) => it.arch) : undefined)
    : await jsChunk(items, ctx);
  const { stats, xattrs, contents, labels } = batch;
  frame.i = i + stats.length;
  for (let k = 0; k < stats.length; k++) {
    const it = items[k]!;
    const st = stats[k]!;
    if (st === PACKED) {
      if (ctx.opts.filter) {
        const verdict = await filterPacked(ctx, k * SCAN_FIELDS, it.arch, labels?.[k]);
        if (verdict !== true) {
          // Left out, or changed by the filter: the run goes on after it, in a new run.
          if (pack!.run.count) yield takeRun(pack!, ctx.batch!);
          if (verdict) yield verdict;
          continue;
        }
      }
      gather(pack!, ctx.batch!.fields, k * SCAN_FIELDS, it.arch, labels?.[k]);
      continue;
    }
    // A run gathered so far goes before anything else: the archive keeps the scan's order.
    if (pack?.run.count) yield takeRun(pack, ctx.batch!);
    if (st instanceof Error) {
      if (!removed(st)) throw new EntryError(`cannot stat: ${readFailure(st)}`, { path: displayName(it.arch), cause: st });
      warn(ctx, `${displayName(it.arch)}: file removed before we read it; not archived`);
      continue;
    }
    if (ctx.opts.exclude && st.dev === ctx.opts.exclude.dev && st.ino === ctx.opts.exclude.ino) continue;
    if (isOwnFile(st.dev, st.ino)) continue; // a spool of the archive being written (io/own-files.ts)
    let scanned: ScannedEntry | undefined;
    try {
      scanned = await toEntry(it, st, xattrs[k]!, ctx, contents?.[k]);
    } catch (err) {
      if (err instanceof Replaced) {
        warn(ctx, `${displayName(it.arch)}: replaced by ${err.message} while being archived (the file was removed); not archived`);
        continue;
      }
      // The caller's filter/map refusing its result is a usage error, not a read failure.
      if (!removed(err)) throw err instanceof EntryError || err instanceof UsageError ? err : cannotRead(displayName(it.arch), readFailure(err), err);
      warn(ctx, `${displayName(it.arch)}: ${kindOfMode(st.mode) === 'directory' ? 'directory' : 'file'} removed before we read it; not archived`);
      continue;
    }
    if (!scanned) continue;
    if (ctx.warnings.length) scanned.entry.warnings.unshift(...ctx.warnings.splice(0));
    if (ctx.notices.length) scanned.entry.notices.unshift(...ctx.notices.splice(0));
    pack?.owner.take(scanned.entry);
    yield scanned;
    // The consumer did not read the body (it skipped the entry): close the file now.
    ctx.open?.close();
    ctx.open = undefined;
    const dev = it.dev ?? st.dev;
    if (scanned.entry.type === 'directory' && ctx.opts.recursive === false) continue; // asked for
    if (scanned.entry.type === 'directory' && ctx.opts.oneFileSystem && st.dev !== dev) {
      // tar's --one-file-system: the mount point itself is archived, not what is mounted there
      // (asked for, so not a warning).
      continue;
    }
    if (scanned.entry.type === 'directory') {
      let names: NameList | Error;
      try {
        names = listSeen(it.abs, st, ctx.platform.dirAlias);
      } catch (e) {
        names = e as Error;
      }
      if (names instanceof Replaced) {
        warn(ctx, `${scanned.entry.name}: replaced by ${names.message} while being archived (the directory was removed); contents not archived`);
        continue;
      }
      if (names instanceof Error) {
        // A directory whose contents cannot be listed is an entry not archived completely.
        if (!removed(names)) throw new EntryError(`cannot read directory: ${readFailure(names)}`, { path: scanned.entry.name, cause: names });
        warn(ctx, `${scanned.entry.name}: directory removed before we read it; contents not archived`);
        continue;
      }
      // Deep enough that a child's path could pass PATH_MAX: the children are named through
      // this directory's descriptor, held open until its subtree is done.
      // (Past DEEP a child adds at most 256 bytes: every path stays under Linux's PATH_MAX.)
      const anchor = it.abs.length > DEEP && ctx.platform.dirAlias ? holdDirectory(it.abs, ctx.platform.dirAlias) : undefined;
      const base = Buffer.concat([anchor === undefined ? it.abs : ctx.platform.dirAlias!(anchor), SLASH]);
      const arch = Buffer.concat([it.arch, SLASH]);
      const list = names;
      // The batch's later items (scanBatch stops after a directory it stat'ed, not after one
      // whose lstat it left to this path) were read or packed into the buffer the walk below
      // refills: they are scanned again once its subtree is done.
      frame.i = i + k + 1;
      return {
        count: list.count,
        item: (c) => {
          const n = list.name(c);
          return { abs: Buffer.concat([base, n]), arch: Buffer.concat([arch, ctx.platform.memberName(n)]), dev };
        },
        i: 0,
        dir: { name: scanned.entry.name, st, abs: it.abs, anchor },
      };
    }
  }
  if (pack?.run.count) yield takeRun(pack, ctx.batch!);
  return undefined;
}

const SLASH = Buffer.from('/');

/**
 * The caller's filter on a packed file, given the entry toEntry would have made: true to keep it
 * packed, false to leave it out, or the entry with its content when the filter changed it (the
 * writer then encodes it as it now is).
 */
async function filterPacked(ctx: Ctx, at: number, path: Buffer, label: Buffer | undefined): Promise<boolean | ScannedEntry> {
  const f = ctx.batch!.fields;
  const entry = packedEntry(f, at, path, label);
  const { uid, gid, mode, size } = entry;
  const times = { mtimeNs: entry.mtimeNs, atimeNs: entry.atimeNs, ctimeNs: entry.ctimeNs };
  const before = { ...entry };
  const kept = await applyHooks(entry, ctx.opts);
  if (!kept) return false;
  const same =
    kept === entry && entry.path === path && entry.type === 'file' && entry.mode === mode && entry.uid === uid && entry.gid === gid &&
    entry.uname === before.uname && entry.gname === before.gname && entry.size === size && entry.mtimeNs === times.mtimeNs &&
    entry.atimeNs === times.atimeNs && entry.ctimeNs === times.ctimeNs && entry.xattrs === before.xattrs && entry.xattrs.size === 0 &&
    entry.selinux === before.selinux && !entry.aclAccess?.length && !entry.aclDefault?.length && entry.sparse === undefined && entry.linkTarget === undefined &&
    !entry.warnings.length && !entry.notices.length && !entry.losses?.length;
  if (same) return true;
  // As toEntry: a file's size is its stat's, whatever the filter made of it.
  kept.size = size;
  const start = Number(f[at + F.OFFSET]) + Number(f[at + F.DATA]);
  const view = ctx.batch!.buf.subarray(start, start + size);
  const data = bufferBody(ctx.opts.reuseBuffers ? view : Buffer.from(view));
  return { entry: kept, body: () => data };
}

/** The entry toEntry makes of a packed file (one link, no xattrs but `label`), from its fields at `at`. */
function packedEntry(f: BigInt64Array, at: number, path: Buffer, label: Buffer | undefined): Entry {
  const uid = Number(f[at + F.UID]);
  const gid = Number(f[at + F.GID]);
  const entry = makeEntry({ path, type: 'file', mode: Number(f[at + F.MODE]! & 0o7777n), uid, gid, uname: userName(uid), gname: groupName(gid), mtimeNs: f[at + F.MTIME]!, atimeNs: f[at + F.ATIME]!, ctimeNs: f[at + F.CTIME]! });
  if (label) takeXattrs(entry, new Map([['security.selinux', label]]));
  entry.size = Number(f[at + F.SIZE]);
  return entry;
}

/** Add the packed item whose fields are at `at` to the run being gathered. */
function gather(p: Packing, f: BigInt64Array, at: number, path: Buffer, label: Buffer | undefined): void {
  const run = p.run;
  const offset = Number(f[at + F.OFFSET]);
  if (run.count === 0) {
    p.start = offset;
    run.newestNs = f[at + F.MTIME]!;
    run.contentBytes = 0;
  } else if (offset !== p.end) {
    throw new Error(`scan: packed members not back to back (${offset} after ${p.end})`);
  } else if (f[at + F.MTIME]! > run.newestNs) run.newestNs = f[at + F.MTIME]!;
  const rel = offset - p.start;
  const data = rel + Number(f[at + F.DATA]);
  const size = Number(f[at + F.SIZE]);
  const o = run.count * 4;
  run.layout[o] = rel;
  run.layout[o + 1] = data;
  run.layout[o + 2] = data + size;
  run.layout[o + 3] = rel + Number(f[at + F.LENGTH]);
  p.statAt[run.count] = at;
  p.labels[run.count] = label;
  run.paths[run.count++] = path;
  run.contentBytes += size;
  p.end = offset + Number(f[at + F.LENGTH]);
}

/**
 * The run gathered, its bytes a view of the batch buffer: valid until the next scanBatch call, or,
 * once held (PackedRun.hold), until the reader is done (no window is filled over them before).
 * The next run starts empty.
 */
function takeRun(p: Packing, b: NativeBatch): PackedRun {
  const run = p.run;
  run.bytes = b.buf.subarray(p.start, p.end);
  // Its layout and paths are refilled once the consumer asks for the next item (it is done then).
  const out = { ...run };
  const start = b.at + p.start;
  const end = b.at + p.end;
  if (b.arena.length > BATCH_BYTES) out.hold = (reader) => void b.held.push({ start, end, reader });
  run.count = 0;
  return out;
}

/**
 * After a directory's subtree: a directory whose mtime or ctime moved since the scan's lstat had
 * names added, removed or moved meanwhile (one moved in from a directory not yet listed is in
 * neither): tar's "file changed as we read it", a warning. `dir`: its path, or a descriptor held
 * on it (a deep path).
 */
function changedWhileRead(ctx: Ctx, name: string, st: StatLike, dir: Buffer | number): void {
  let now: BigIntStats | undefined;
  try {
    now = typeof dir === 'number' ? fstatSync(dir, { bigint: true }) : lstatSync(dir, { bigint: true });
  } catch (err) {
    if (removed(err)) return warn(ctx, `${name}: directory removed while it was archived`);
    return warn(ctx, `${name}: directory not looked at again after it was archived: ${readFailure(err)}`);
  }
  if (now.mtimeNs !== st.mtimeNs || now.ctimeNs !== st.ctimeNs) warn(ctx, `${name}: directory changed as we read it (names added, removed or moved meanwhile may be missing)`);
}

/** Up to BATCH items the JS way: lstat each, then their xattrs in one getXattrs call. */
async function jsChunk(batch: Item[], ctx: Ctx): Promise<Chunk> {
  const stats = batch.map((it) => {
    try {
      return lstatSync(it.abs, { bigint: true });
    } catch (e) {
      return e as Error;
    }
  });
  const xattrs = await ctx.sys.getXattrs(batch.map((it, k) => (stats[k] instanceof Error ? Buffer.alloc(0) : it.abs)));
  return { stats, xattrs };
}

/**
 * Items from `start` through one scanBatch call (native/scan.c). What it left undone (a failed
 * lstat or xattr read) is done here the JS way, so that its error reads the same; a file whose
 * content it did not read is opened by toEntry as without it.
 */
async function nativeChunk(paths: Buffer[], start: number, ctx: Ctx, b: NativeBatch, names?: Buffer[]): Promise<Chunk> {
  const p = ctx.pack;
  const packArgs: PackArgs | undefined = p && names ? [names, p.owner.params, p.owner.uname, p.owner.gname] : undefined;
  const window = b.next + BATCH_BYTES <= b.arena.length ? b.next : 0;
  if (window === 0 && b.next > 0 && b.arena.length > BATCH_BYTES) packStats.wraps++;
  for (let i = 0; i < b.held.length; ) {
    const h = b.held[i]!;
    if (!h.reader.ready) {
      if (h.start >= window + BATCH_BYTES || h.end <= window) {
        i++;
        continue;
      }
      // Settled with a failure: whoever made it reports that; the bytes are free either way.
      await h.reader.settled.catch(() => {});
    }
    b.held.splice(i, 1);
  }
  b.at = window;
  b.buf = b.arena.subarray(window, window + BATCH_BYTES);
  const listed = b.scan(paths, start, Math.min(paths.length, start + BATCH), b.fields, b.buf, READ_MAX, ctx.opts.sparse === true, packArgs);
  const f = b.fields;
  const n = listed.length;
  const stats: Chunk['stats'] = new Array(n);
  const xattrs: Chunk['xattrs'] = new Array(n);
  const contents: Chunk['contents'] = new Array(n);
  let labels: Chunk['labels'];
  let used = 0;
  for (let k = 0; k < n; k++) {
    const at = k * SCAN_FIELDS;
    const flags = Number(f[at + F.FLAGS]);
    if (flags & (SCAN_PACKED | SCAN_CONTENT)) used = Math.max(used, Number(f[at + F.OFFSET]) + Number(f[at + F.LENGTH]));
    if (flags & SCAN_PACKED) {
      stats[k] = PACKED;
      const pairs = listed[k];
      if (pairs) (labels ??= [])[k] = pairs[0]![1];
      continue;
    }
    if (!(flags & SCAN_STAT)) {
      const js = await jsChunk([{ abs: paths[start + k]!, arch: paths[start + k]! }], ctx);
      stats[k] = js.stats[0]!;
      xattrs[k] = js.xattrs[0]!;
      continue;
    }
    stats[k] = {
      dev: f[at + F.DEV]!,
      ino: f[at + F.INO]!,
      mode: f[at + F.MODE]!,
      nlink: f[at + F.NLINK]!,
      uid: f[at + F.UID]!,
      gid: f[at + F.GID]!,
      rdev: f[at + F.RDEV]!,
      size: f[at + F.SIZE]!,
      blocks: f[at + F.BLOCKS]!,
      atimeNs: f[at + F.ATIME]!,
      mtimeNs: f[at + F.MTIME]!,
      ctimeNs: f[at + F.CTIME]!,
    };
    if (flags & SCAN_XATTRS) {
      const pairs = listed[k];
      xattrs[k] = pairs ? xattrMap(pairs) : new Map<string, Buffer>();
    } else {
      xattrs[k] = (await ctx.sys.getXattrs([paths[start + k]!]))[0]!;
    }
    if (flags & SCAN_CONTENT) {
      const offset = Number(f[at + F.OFFSET]);
      const view = b.buf.subarray(offset, offset + Number(f[at + F.LENGTH]));
      contents[k] = {
        // The buffer is refilled by the next call: a consumer that may keep chunks gets a copy.
        data: ctx.opts.reuseBuffers ? view : Buffer.from(view),
        after: { size: f[at + F.SIZE_AFTER]!, mtimeNs: f[at + F.MTIME_AFTER]!, ctimeNs: f[at + F.CTIME_AFTER]! },
      };
    }
  }
  // The next window starts past these bytes (aligned), where nothing held lies.
  b.next = window + ((used + 63) & ~63);
  return { stats, xattrs, contents, labels };
}

const KINDS: Record<string, EntryType | 'socket'> = {
  [0o100000]: 'file',
  [0o040000]: 'directory',
  [0o120000]: 'symlink',
  [0o010000]: 'fifo',
  [0o020000]: 'chardev',
  [0o060000]: 'blockdev',
  [0o140000]: 'socket',
};

/** The kind of file a stat's mode says (undefined for one portarc has no entry type for). */
export function kindOfMode(mode: bigint): EntryType | 'socket' | undefined {
  return KINDS[String(Number(mode & 0o170000n))];
}

async function toEntry(it: Item, st: StatLike, xattrs: Map<string, Buffer> | Error, ctx: Ctx, content?: ReadContent): Promise<ScannedEntry | undefined> {
  const kind = kindOfMode(st.mode);
  const name = displayName(it.arch);
  if (kind === 'socket' || kind === undefined) {
    warn(ctx, `${name}: ${kind ?? 'unknown file type'} ignored`);
    return undefined;
  }
  let entry = makeEntry({
    path: it.arch,
    type: kind,
    mode: Number(st.mode & 0o7777n),
    uid: Number(st.uid),
    gid: Number(st.gid),
    uname: userName(Number(st.uid)),
    gname: groupName(Number(st.gid)),
    mtimeNs: st.mtimeNs,
    atimeNs: st.atimeNs,
    ctimeNs: st.ctimeNs,
  });
  // Every xattr of the file is missing from the archive (a list longer than the system's 64 KiB,
  // E2BIG, say): metadata create could not archive, exit 2 (one unstorable xattr is too).
  if (xattrs instanceof Error) (entry.losses ??= []).push(`extended attributes not archived: they could not be listed: ${xattrs.message}`);
  else takeXattrs(entry, xattrs);
  if (ctx.opts.filter || ctx.opts.map) {
    // Before the hardlink bookkeeping: a name skipped is no link target, a name kept links as renamed.
    if (kind === 'file') entry.size = Number(st.size);
    const kept = await applyHooks(entry, ctx.opts);
    if (!kept) return undefined;
    entry = kept;
  }

  // A second name for an inode already archived becomes a hardlink to the first one.
  let key: string | undefined;
  if (kind !== 'directory' && st.nlink > 1n) {
    key = `${st.dev}:${st.ino}`;
    const first = ctx.seen.get(key);
    if (first) {
      entry.type = 'hardlink';
      entry.linkTarget = first;
      if (kind !== 'file' || !ctx.opts.hardlinkContent) return { entry };
      entry.size = Number(st.size);
      const file = new OpenFile(openSeen(it.abs, st));
      ctx.open = file;
      return { entry, body: () => checked(readContent(file.fd, entry.size, false), file, st, entry) };
    }
    ctx.seen.set(key, entry.path);
  }
  switch (kind) {
    case 'symlink':
      entry.linkTarget = ctx.platform.memberTarget(readLinkSeen(it.abs));
      return { entry };
    case 'chardev':
    case 'blockdev':
      entry.devMajor = Number(((st.rdev >> 8n) & 0xfffn) | ((st.rdev >> 32n) & ~0xfffn));
      entry.devMinor = Number((st.rdev & 0xffn) | ((st.rdev >> 12n) & ~0xffn));
      return { entry };
    case 'file': {
      entry.size = Number(st.size);
      if (content) {
        // Read whole by scanBatch (one link, small, not sparse): the check checked() makes after
        // reading is made when the writer takes the body, from the fstat taken then.
        const data = bufferBody(content.data);
        return {
          entry,
          body: () => {
            const change = changed(st, content.after);
            if (change) entry.warnings.push(change);
            return data;
          },
        };
      }
      // Opened now, before the entry is yielded and its header written: a file that cannot be
      // opened fails (or, if removed meanwhile, is skipped) without a header for it.
      let fd: number;
      try {
        fd = openSeen(it.abs, st);
      } catch (err) {
        if (key) ctx.seen.delete(key); // not archived under this name: no hardlink may point to it
        throw err;
      }
      const file = new OpenFile(fd);
      ctx.open = file;
      try {
        if (ctx.opts.sparse && st.blocks * 512n < st.size) {
          entry.sparse = findDataRuns(file.fd, entry.size, ctx.sys);
          const runs = entry.sparse;
          return { entry, body: () => checked(readRuns(file.fd, runs), file, st, entry) };
        }
      } catch (err) {
        file.close();
        throw err;
      }
      return { entry, body: () => checked(readContent(file.fd, entry.size, ctx.opts.reuseBuffers === true, ctx.opts.lend), file, st, entry) };
    }
    default:
      return { entry };
  }
}

/** Move the label and ACLs out of the xattr map into their own fields. */
function takeXattrs(entry: Entry, xattrs: XattrMap): void {
  for (const name of xattrs.unnamed ?? []) (entry.losses ??= []).push(`extended attribute ${JSON.stringify(name)} (as Latin-1) not archived: its name is not UTF-8, which the archive's names are`);
  for (const [name, value] of xattrs) {
    if (name === 'security.selinux') {
      let end = value.length;
      while (end > 0 && value[end - 1] === 0) end--;
      const label = value.subarray(0, end);
      if (!isUtf8(label)) {
        (entry.losses ??= []).push(`SELinux label ${JSON.stringify(label.toString('latin1'))} (as Latin-1) not archived: it is not UTF-8, which the archive's labels are`);
        continue;
      }
      entry.selinux = label.toString('utf8');
    } else if (name === 'system.posix_acl_access' || name === 'system.posix_acl_default') {
      try {
        const acl = withNames(decodeAclXattr(value));
        if (name === 'system.posix_acl_access') entry.aclAccess = acl;
        else entry.aclDefault = acl;
      } catch (err) {
        entry.warnings.push(`${name} not readable: ${(err as Error).message}`);
      }
    } else {
      entry.xattrs.set(name, value);
    }
  }
}

function withNames(acl: AclEntry[]): AclEntry[] {
  return acl.map((e) => {
    const name = e.tag === 'user' ? userName(e.id!) : e.tag === 'group' ? groupName(e.id!) : '';
    return name ? { ...e, name } : e;
  });
}

/**
 * The file's content, then a check that it did not change while read: its size, mtime or ctime
 * differing from the scan's lstat is tar's "file changed as we read it", a warning (the bytes read
 * are archived; a file that shrank fails in exactly(), src/io/body.ts).
 */
async function* checked(body: AsyncIterable<Buffer>, file: OpenFile, st: StatLike, entry: Entry): AsyncGenerator<Buffer> {
  try {
    yield* body;
    const now = fstatSync(file.fd, { bigint: true });
    const change = changed(st, st.size === 0n && now.size === 0n && readSync(file.fd, Buffer.alloc(1), 0, 1, 0) > 0 ? { ...now, size: -1n } : now);
    if (change) entry.warnings.push(change);
  } finally {
    file.close();
  }
}

/** tar's "file changed as we read it", when the stat after reading differs from the scan's lstat. */
function changed(st: StatLike, now: Pick<BigIntStats, 'size' | 'mtimeNs' | 'ctimeNs'>): string | undefined {
  // Size -1: a file of size 0 with bytes to read (the scan read one): a /proc or /sys file, whose
  // size says nothing. GNU tar archives it empty without a word.
  if (now.size < 0n) return 'its size is 0, but it has content (a file of /proc or /sys?): archived empty';
  if (now.size === st.size && now.mtimeNs === st.mtimeNs && now.ctimeNs === st.ctimeNs) return undefined;
  const what = now.size > st.size ? `grew by ${now.size - st.size} bytes; archived the first ${st.size}` : now.size < st.size ? `shrank to ${now.size} bytes after it was read` : 'modified';
  return `file changed as we read it (${what})`;
}

/** Read `size` bytes from the start of `fd`, never more: growth is seen by checked(). */
async function* readContent(fd: number, size: number, reuse: boolean, lend?: ScanOptions['lend']): AsyncGenerator<Buffer> {
  if (size <= SMALL_FILE) {
    const buf = Buffer.allocUnsafe(size);
    let got = 0;
    while (got < size) {
      const n = readSync(fd, buf, got, size - got, got);
      if (n === 0) break;
      got += n;
    }
    yield got === size ? buf : buf.subarray(0, got);
    return;
  }
  if (!reuse) {
    yield* createReadStream('', { fd, autoClose: false, start: 0, end: size - 1, highWaterMark: SMALL_FILE });
    return;
  }
  let own: Buffer | undefined;
  for (let pos = 0; pos < size; ) {
    const lent = lend && (await lend(Math.min(SMALL_FILE, size - pos)));
    const buf = lent || (own ??= Buffer.allocUnsafe(SMALL_FILE));
    const n = readSync(fd, buf, 0, Math.min(buf.length, size - pos), pos);
    if (n === 0) break;
    pos += n;
    yield n === buf.length ? buf : buf.subarray(0, n);
  }
}

const ZERO_GRAIN = 4096;

/** Find the runs of a file that hold non-zero data, at 4 KiB granularity (tar -S reads for zeros too). */
function findDataRuns(fd: number, size: number, sys: Sys): SparseRun[] {
  const runs: SparseRun[] = [];
  const buf = Buffer.alloc(SMALL_FILE);
  let runStart = -1;
  // Where the file's data is (SEEK_DATA/SEEK_HOLE): only that is read, in whole grains; a hole
  // reads as zeros, so the runs are what reading every byte finds (a 20 GiB file of holes took
  // 33 s, GNU tar none). Without it, the whole file is read.
  const extents = sys.dataExtents?.(fd, size) ?? [0, size];
  let pos = 0;
  for (let x = 0; x < extents.length; x += 2) {
    const from = Math.max(pos, Math.floor(extents[x]! / ZERO_GRAIN) * ZERO_GRAIN);
    const to = Math.min(size, Math.ceil(extents[x + 1]! / ZERO_GRAIN) * ZERO_GRAIN);
    // A hole between this extent and the one before ends the run (its grains are zeros).
    if (from > pos && runStart >= 0) {
      runs.push({ offset: runStart, length: pos - runStart });
      runStart = -1;
    }
    pos = from;
    while (pos < to) {
      const bytesRead = readSync(fd, buf, 0, Math.min(buf.length, to - pos), pos);
      if (bytesRead === 0) break;
      for (let off = 0; off < bytesRead; off += ZERO_GRAIN) {
        const end = Math.min(off + ZERO_GRAIN, bytesRead);
        const zero = isZero(buf, off, end);
        if (!zero && runStart < 0) runStart = pos + off;
        if (zero && runStart >= 0) {
          runs.push({ offset: runStart, length: pos + off - runStart });
          runStart = -1;
        }
      }
      pos += bytesRead;
    }
  }
  if (runStart >= 0) runs.push({ offset: runStart, length: pos - runStart });
  // GNU tar ends every map with a run at the end of the file, so the real size survives readers
  // that take the size from the last run.
  const last = runs[runs.length - 1];
  if (!last || last.offset + last.length < size) runs.push({ offset: size, length: 0 });
  return runs;
}

function isZero(buf: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (buf[i] !== 0) return false;
  return true;
}

async function* readRuns(fd: number, runs: SparseRun[]): AsyncGenerator<Buffer> {
  for (const run of runs) {
    for (let done = 0; done < run.length; ) {
      const n = Math.min(SMALL_FILE, run.length - done);
      const buf = Buffer.allocUnsafe(n);
      const bytesRead = readSync(fd, buf, 0, n, run.offset + done);
      if (bytesRead === 0) return; // shrank: exactly() fails the entry
      yield buf.subarray(0, bytesRead);
      done += bytesRead;
    }
  }
}
