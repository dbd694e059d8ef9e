// The low-level system-call layer of the filesystem module: extended attributes (without
// following symlinks), timestamps with nanosecond precision, and fifos and device nodes.
//
// DESIGN: Node's fs.utimes/lutimes loses sub-microsecond digits, fs cannot make fifos or
// devices, and no npm addon offers no-follow xattr calls with Buffer paths. So there is a
// small C addon (native/portarc_sys.c, built by scripts/build-native.mjs) and, for when it
// did not build, a fallback through the attr and coreutils programs. The fallback batches:
// one getfattr per file is ~300x slower than one run over many files.
//
// The fallback hands every path to its program through `xargs -0`, i.e. as raw bytes on
// stdin: argv strings from Node are always UTF-8, but paths need not be. xargs also splits
// the paths into as few runs as the argv limit allows. The programs print names with `\ooo`
// escapes for odd bytes (always for `\`), which is undone here. setfattr's errors name only
// the file, so after a failed batch the files it named are read back to find the bad items.

import { isUtf8 } from 'node:buffer';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, closeSync, constants as fsConstants, existsSync, fstatSync, lstatSync, lutimesSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { getSystemErrorMap } from 'node:util';
import { constants as osConstants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { displayName } from '../model/entry.js';
import { loadAddon } from '../model/native.js';

export interface XattrWriteFailure {
  path: Buffer;
  name: string;
  error: string;
  code?: string;
}

export interface Sys {
  /** 'none' on Windows: no xattrs, no special files, times through Node (spec §9.7). */
  readonly kind: 'native' | 'fallback' | 'none';
  /** All xattrs of each path (not following symlinks), in every namespace the process can read. Batched so the fallback can run ONE getfattr for many paths. Result i belongs to paths[i]; an Error if that path could not be read. */
  getXattrs(paths: Buffer[]): Promise<Array<Map<string, Buffer> | Error>>;
  /** Set many xattrs (not following symlinks). Batched: the fallback runs ONE `setfattr -h --restore=-` for all of them. Returns the failures, never throws for a single bad item. */
  setXattrs(items: Array<{ path: Buffer; name: string; value: Buffer }>): Promise<XattrWriteFailure[]>;
  /**
   * Remove an xattr from each path, never through a symlink: an ACL (`system.posix_acl_access`
   * or `system.posix_acl_default`) a new file inherited from its directory's default ACL, or an
   * ACL or (from a portarc archive) a user.* or trusted.* xattr an existing directory had, when
   * the archive gives none (spec §9.1). A path without it is no failure.
   */
  removeXattrs(items: Array<{ path: Buffer; name: string }>): Promise<XattrWriteFailure[]>;
  /** Set atime and mtime (not following symlinks). Returns 'exact' when ns precision was kept, 'microseconds' when the fallback had to round (Node's fs.lutimes). */
  setTimes(path: Buffer, atimeNs: bigint, mtimeNs: bigint): 'exact' | 'microseconds';
  /** Make a fifo, character or block device. The fallback uses the `mkfifo` / `mknod` programs (one spawn per node is fine: they are rare). Throws an Error with a `code` on failure. */
  mknod(path: Buffer, type: 'fifo' | 'chardev' | 'blockdev', perm: number, major: number, minor: number): void;
  /**
   * Flush the whole filesystem holding `path` (syncfs) and return true; false when this kind
   * cannot, and the caller must fsync file by file.
   */
  syncFs(path: Buffer): boolean;
  /**
   * Restore a batch of small regular files on a worker thread (native only; see native/restore.c):
   * each is written under its temporary name, dressed, and renamed into place (after one syncfs
   * for the batch with `fsync`). `data` holds the contents and must not change until it settles.
   */
  restoreFiles?(batch: FileBatch, fsync: boolean, syncPath: Buffer): Promise<BatchResult>;
  /** restoreFiles hashes contents (BP.DIGEST): the runtime exports OpenSSL's SHA256(). */
  restoreHashes?: boolean;
  /**
   * Native only: an fd of directory `dir` opened from `root` one component at a time, never
   * through a symlink (native/restore.c portarc_open_beneath); throws ELOOP/ENOTDIR where one is.
   */
  openBeneath?(root: Buffer, dir: Buffer): number;
  /**
   * Native only (native/scan.c): lstat, every xattr and, for a small regular file with one link,
   * its whole content, for paths[start..end) in ONE call, so that a scan of many small files is
   * not one JS<->kernel crossing per system call. Fills `fields` (SCAN_FIELDS int64s an item, see
   * the F_ indexes) and `buf` (the contents, back to back); returns each item's xattrs (null:
   * none). Its length is the number of items done: it stops after a directory and before a file
   * that does not fit in `buf`. A step that failed is left undone (its flag unset): the caller
   * does that step itself, so errors read the same as without it. With `pack`, small files are
   * also encoded as whole tar members (SCAN_PACKED; src/tar/pack.ts, native/pack.c).
   */
  scanBatch?(paths: Buffer[], start: number, end: number, fields: BigInt64Array, buf: Buffer, readMax: number, sparse: boolean, pack?: PackArgs): Array<Array<[Buffer, Buffer]> | null>;
  /**
   * Native only: where an open file's data is, as [start, end) pairs (lseek SEEK_DATA/SEEK_HOLE;
   * what lies outside reads as zeros), or null where the system cannot say.
   */
  dataExtents?(fd: number, size: number): Float64Array | null;
}

export type AclXattr = 'system.posix_acl_access' | 'system.posix_acl_default';

/**
 * A file's xattrs by name, from raw name bytes. Names are text in the entry model and in pax
 * records: a name that is not UTF-8 would come back as another name (and two such names as one),
 * so it is left out and listed in `unnamed` (as Latin-1), for the scan to warn of.
 */
export type XattrMap = Map<string, Buffer> & { unnamed?: string[] };

export function xattrMap(pairs: Iterable<[Buffer, Buffer]>): XattrMap {
  const map: XattrMap = new Map();
  for (const [raw, value] of pairs) {
    if (isUtf8(raw)) map.set(raw.toString('utf8'), value);
    else (map.unnamed ??= []).push(raw.toString('latin1'));
  }
  return map;
}

/** Errors that mean "nothing to remove": no such xattr (or ACL), or none on this filesystem. */
const NOTHING_TO_REMOVE = new Set(['ENODATA', 'ENOATTR', 'ENOTSUP', 'EOPNOTSUPP']);

/**
 * A native batch of small files, packed so that handing it to the addon costs no object per file
 * (an object per file and a dozen property reads each were ~7% of an extraction of small files).
 * File i: its directory (verified), name and temporary name in `names`, each NUL-terminated, file
 * after file; BATCH_PARAMS numbers at params[i * BATCH_PARAMS] (see BP); its atime and mtime in
 * ns at times[2i], times[2i + 1]; its xattrs, in the order they are set, in `xattrs` as
 * [i, name, value, i, name, value, ...] (files in order).
 */
export interface FileBatch {
  count: number;
  /** The contents, file i at params' OFF and LEN. */
  data: Buffer;
  names: Buffer;
  /** Bytes of `names` used. */
  namesLength: number;
  params: Float64Array;
  times: BigInt64Array;
  xattrs: Array<number | string | Buffer>;
  /**
   * 64 bytes a file (hex digits): for a file whose BP.DIGEST is COMPARE, the SHA-256 its content
   * must have; after the batch, for any file that asked (REPORT or COMPARE), the one it has. Read
   * and written by the addon until the batch settles.
   */
  digests?: Buffer;
}

/** Numbers per file in FileBatch.params. */
export const BATCH_PARAMS = 8;
/**
 * FileBatch.params fields: content offset and length; uid and gid (-1: left alone); mode; 1 to
 * report the inode; 1 when the file may be created with its mode (no fchmod: see native/restore.c);
 * what the content's SHA-256 is for (DIGEST_*, with restoreHashes only).
 */
export const BP = { OFF: 0, LEN: 1, UID: 2, GID: 3, MODE: 4, INO: 5, EXACT: 6, DIGEST: 7 } as const;
/** BP.DIGEST: none; reported in FileBatch.digests; compared with it first (a file that differs is not renamed: stop 'digest'). */
export const DIGEST_NONE = 0;
export const DIGEST_REPORT = 1;
export const DIGEST_COMPARE = 2;

/**
 * What went wrong for one file, as the JS path's calls would have said it (Node's fs messages,
 * the addon's for xattrs and times). `stop`: the file is not under its name (its temporary was
 * removed); `dir`: a directory is in the way, which restore.ts handles itself; `digest`: its
 * content is not what FileBatch.digests said (DIGEST_COMPARE), and its temporary is left, dressed,
 * for restore.ts to set aside.
 */
export interface BatchFailure {
  stop?: 'dir' | 'lstat' | 'open' | 'write' | 'rename' | 'digest';
  error?: SysError;
  owner?: SysError;
  mode?: SysError;
  time?: SysError;
  xattrs: Array<{ index: number; error: SysError }>;
}

export interface BatchResult {
  inos: number[];
  failures: Map<number, BatchFailure>;
  /** The batch's syncfs failed: no file of it got its name. */
  syncError?: SysError;
}

/** Int64 fields per item of Sys.scanBatch (native/scan.c: the same enum). */
export const SCAN_FIELDS = 19;
export const F = { FLAGS: 0, DEV: 1, INO: 2, MODE: 3, NLINK: 4, UID: 5, GID: 6, RDEV: 7, SIZE: 8, BLOCKS: 9, ATIME: 10, MTIME: 11, CTIME: 12, OFFSET: 13, LENGTH: 14, SIZE_AFTER: 15, MTIME_AFTER: 16, CTIME_AFTER: 17, DATA: 18 } as const;
/** F.FLAGS bits: lstat done; xattrs read; content read into the buffer (and fstat'ed after). */
export const SCAN_STAT = 1;
export const SCAN_XATTRS = 2;
export const SCAN_CONTENT = 4;
/** Encoded as whole tar members in buf[OFFSET, OFFSET + LENGTH), the content DATA bytes in. */
export const SCAN_PACKED = 8;

/** scanBatch's `pack`: member names (parallel to the paths), [uid, gid, dev, ino], ustar owner names. */
export type PackArgs = [names: Buffer[], params: BigInt64Array, uname: Buffer, gname: Buffer];

/** The addon's exports (native/portarc_sys.c). */
interface Addon {
  listXattrs(path: Buffer): Array<[Buffer, Buffer]>;
  setXattr(path: Buffer, name: string, value: Buffer): void;
  removeXattr(path: Buffer, name: string): void;
  setTimes(path: Buffer, atimeNs: bigint, mtimeNs: bigint): void;
  mknod(path: Buffer, mode: number, major: number, minor: number): void;
  syncFs?(path: Buffer): void;
  dataExtents?(fd: number, size: number): Float64Array | null;
  restoreFiles?(data: Buffer, names: Buffer, params: Float64Array, times: BigInt64Array, xattrs: Array<number | string | Buffer>, count: number, fsync: boolean, syncPath: Buffer, digests?: Buffer): Promise<RawBatchResult>;
  restoreHashes?: boolean;
  openBeneath?(root: Buffer, dir: Buffer): number;
  strerror?(errno: number): string;
  scanBatch?: Sys['scanBatch'];
}

/** native/restore.c's answer: failures as [index, stop, stopErrno, owner, mode, time, [xattr, errno...]]. */
interface RawBatchResult {
  syncErr: number;
  inos: number[];
  failures: Array<[number, number, number, number, number, number, number[]]>;
}

export type SysError = Error & { code: string; errno?: number; syscall?: string };

const TYPE_BITS = { fifo: fsConstants.S_IFIFO, chardev: fsConstants.S_IFCHR, blockdev: fsConstants.S_IFBLK };

const cache = new Map<Sys['kind'], Sys>();

/** Native unless opts.native === false, PORTARC_NO_NATIVE=1, or the addon is missing. Cached per kind. Windows: 'none'. */
export function loadSys(opts: { native?: boolean } = {}): Sys {
  if (process.platform === 'win32') {
    if (!cache.has('none')) cache.set('none', noneSys());
    return cache.get('none')!;
  }
  const native = opts.native !== false ? loadAddon<Addon>('portarc_sys') : null;
  const kind = native ? 'native' : 'fallback';
  let sys = cache.get(kind);
  if (!sys) {
    sys = native ? nativeSys(native) : fallbackSys();
    cache.set(kind, sys);
  }
  return sys;
}

// ---- native ---------------------------------------------------------------------------

function nativeSys(addon: Addon): Sys {
  return {
    kind: 'native',
    // An addon built before scan.c existed lacks it: then the scan makes its calls one by one.
    scanBatch: addon.scanBatch,
    dataExtents: addon.dataExtents,
    openBeneath: addon.openBeneath,
    async getXattrs(paths) {
      return paths.map((path) => {
        try {
          return xattrMap(addon.listXattrs(path));
        } catch (err) {
          return err as Error;
        }
      });
    },
    async setXattrs(items) {
      const failures: XattrWriteFailure[] = [];
      for (const { path, name, value } of items) {
        try {
          addon.setXattr(path, name, value);
        } catch (err) {
          failures.push(failure(path, name, err as Error));
        }
      }
      return failures;
    },
    async removeXattrs(items) {
      const failures: XattrWriteFailure[] = [];
      for (const { path, name } of items) {
        try {
          addon.removeXattr(path, name);
        } catch (err) {
          if (!NOTHING_TO_REMOVE.has((err as NodeJS.ErrnoException).code ?? '')) failures.push(failure(path, name, err as Error));
        }
      }
      return failures;
    },
    setTimes(path, atimeNs, mtimeNs) {
      addon.setTimes(path, atimeNs, mtimeNs);
      return 'exact';
    },
    mknod(path, type, perm, major, minor) {
      addon.mknod(path, TYPE_BITS[type] | (perm & 0o7777), major, minor);
      chmodNoFollow(path, perm & 0o7777); // mknod(2) applies the umask; the programs' -m does not
    },
    ...(addon.restoreFiles && addon.strerror ? { restoreFiles: (batch, fsync, syncPath) => restoreFiles(addon, batch, fsync, syncPath), restoreHashes: addon.restoreHashes === true } : {}),
    syncFs(path) {
      // An addon built before syncFs existed lacks it: then the caller fsyncs file by file.
      if (!addon.syncFs) return false;
      addon.syncFs(path);
      return true;
    },
  };
}

/** Linux's O_PATH: its generic value, which every architecture Node ships for uses (alpha, parisc and sparc differ). */
const O_PATH = 0o10000000;
/** /proc/self/fd is there to name an object through a descriptor (Linux, /proc mounted). */
export const procFds = process.platform === 'linux' && existsSync('/proc/self/fd');

/**
 * chmod that never follows a symlink: another process that swaps the object for a symlink after
 * it was made cannot turn its mode onto the link's target (as glibc's fchmodat(AT_SYMLINK_NOFOLLOW):
 * an O_PATH descriptor, changed through /proc). By path where /proc is not there (not Linux).
 * The mode the object has then (the kernel may drop a user's setgid bit).
 */
export function chmodNoFollow(abs: Buffer, mode: number): number {
  if (!procFds) {
    chmodSync(abs, mode);
    return lstatSync(abs).mode;
  }
  const fd = openSync(abs, O_PATH | fsConstants.O_NOFOLLOW);
  try {
    if (fstatSync(fd).isSymbolicLink()) throw Object.assign(new Error('ELOOP: replaced by a symlink while extracting'), { code: 'ELOOP' });
    chmodSync(`/proc/self/fd/${fd}`, mode);
    return fstatSync(fd).mode;
  } finally {
    closeSync(fd);
  }
}

// ---- none (Windows) ------------------------------------------------------------------------

/**
 * Windows has no Unix xattrs, fifos or devices, and neither the addon nor getfattr/setfattr: scan
 * finds no xattrs, and restore never asks for them (the Windows adapter reports each as a loss).
 * Times go through Node's lutimes, to the microsecond, as in the fallback.
 */
function noneSys(): Sys {
  const unsupported = (what: string, path: Buffer) =>
    Object.assign(new Error(`${what} ${displayName(path)}: not supported on this platform`), { code: 'ENOTSUP', syscall: what });
  const times = fallbackSys().setTimes;
  return {
    kind: 'none',
    async getXattrs(paths) {
      return paths.map(() => new Map());
    },
    async setXattrs(items) {
      return items.map(({ path, name }) => failure(path, name, unsupported('setxattr', path)));
    },
    async removeXattrs() {
      return [];
    },
    setTimes: times,
    mknod(path) {
      throw unsupported('mknod', path);
    },
    syncFs: () => false,
  };
}

const STOPS = [undefined, 'dir', 'open', 'write', 'rename', 'lstat', 'digest'] as const;
const SET_XATTR = process.platform === 'darwin' ? 'setxattr' : 'lsetxattr';

/** Run a native batch, and word its failures as the JS path's calls would (see BatchFailure). */
async function restoreFiles(addon: Addon, batch: FileBatch, fsync: boolean, syncPath: Buffer): Promise<BatchResult> {
  const { names, xattrs } = batch;
  const raw = await addon.restoreFiles!(batch.data, names.subarray(0, batch.namesLength), batch.params, batch.times, xattrs, batch.count, fsync, syncPath, batch.digests);
  // File i's directory, name and temporary name, found in `names` for the few that failed.
  const namesOf = (i: number) => {
    let at = 0;
    for (let k = 0; k < 3 * i; k++) at = names.indexOf(0, at) + 1;
    const field = () => names.subarray(at, (at = names.indexOf(0, at) + 1) - 1);
    return { dir: field(), name: field(), tmp: field() };
  };
  // Only file indexes are numbers in `xattrs`: the first is where file i's triples begin.
  const xattrName = (i: number, index: number) => String(xattrs[xattrs.indexOf(i) + 3 * index + 1]);
  const path = (f: { dir: Buffer }, name: Buffer) => Buffer.concat([f.dir, Buffer.from('/'), name]);
  // The addon's own wording (native/portarc_sys.c): "<syscall> <what>: <strerror>".
  const addonError = (errno: number, syscall: string, what: string) => {
    const code = getSystemErrorMap().get(-errno)?.[0] ?? 'EIO';
    return Object.assign(new Error(`${syscall} ${what}: ${addon.strerror!(errno)}`), { code, errno, syscall });
  };
  const failures = new Map<number, BatchFailure>();
  for (const [i, stop, stopErr, owner, mode, time, xs] of raw.failures) {
    const f = namesOf(i);
    const tmp = path(f, f.tmp);
    const failure: BatchFailure = { xattrs: [] };
    const kind = STOPS[stop];
    if (kind) failure.stop = kind;
    if (kind === 'lstat') failure.error = uvError(stopErr, 'lstat', path(f, f.name));
    if (kind === 'open') failure.error = uvError(stopErr, 'open', tmp);
    if (kind === 'write') failure.error = uvError(stopErr, 'write');
    if (kind === 'rename') failure.error = uvError(stopErr, 'rename', tmp, path(f, f.name));
    if (owner) failure.owner = uvError(owner, 'lchown', tmp);
    if (mode) failure.mode = uvError(mode, 'chmod', tmp);
    if (time) failure.time = addonError(time, 'utimensat', tmp.toString());
    for (let k = 0; k < xs.length; k += 2) {
      const index = xs[k]!;
      failure.xattrs.push({ index, error: addonError(xs[k + 1]!, SET_XATTR, xattrName(i, index)) });
    }
    failures.set(i, failure);
  }
  const result: BatchResult = { inos: raw.inos, failures };
  if (raw.syncErr) result.syncError = addonError(raw.syncErr, 'syncfs', syncPath.toString());
  return result;
}

/** An error worded as Node's fs functions word theirs: "ENOENT: no such file or directory, open 'P'". */
function uvError(errno: number, syscall: string, path?: Buffer, dest?: Buffer): SysError {
  const [code, text] = getSystemErrorMap().get(-errno) ?? [`E${errno}`, 'unknown error'];
  const where = `${path ? ` '${path.toString()}'` : ''}${dest ? ` -> '${dest.toString()}'` : ''}`;
  return Object.assign(new Error(`${code}: ${text}, ${syscall}${where}`), { code, errno: -errno, syscall });
}

// ---- fallback ---------------------------------------------------------------------------

const GETFATTR = ['getfattr', '-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names', '--'];

function fallbackSys(): Sys {
  const sys: Sys = {
    kind: 'fallback',

    async getXattrs(paths) {
      const results: Array<Map<string, Buffer> | Error> = paths.map(() => new Map());
      const byKey = new Map<string, number[]>(); // the path's bytes as latin1 → indexes
      paths.forEach((path, i) => {
        const k = key(path);
        if (!path.length || path.includes(0)) results[i] = badPath('getfattr', path);
        else if (byKey.has(k)) byKey.get(k)!.push(i);
        else byKey.set(k, [i]);
      });
      if (byKey.size === 0) return results;

      const run = await runTool(['xargs', '-0', ...GETFATTR], nulJoin([...byKey.keys()].map(unkey)));
      const unreadable = toolFailure(run);
      const { errors, unattributed } = parseStderr(run.stderr, byKey);
      const seen = new Set<number>();
      for (const [k, attrs] of parseDump(run.stdout)) {
        for (const i of byKey.get(k) ?? []) {
          const copy: XattrMap = new Map(attrs);
          if (attrs.unnamed) copy.unnamed = [...attrs.unnamed];
          results[i] = copy;
          seen.add(i);
        }
      }
      for (const [k, err] of errors) for (const i of byKey.get(k)!) results[i] = err;
      // A failure not tied to a path: every path without output may be one it hit.
      const unknown = unreadable ?? (run.status !== 0 && unattributed.length ? unattributed.join('; ') : undefined);
      if (unknown !== undefined) {
        for (const [k, indexes] of byKey) {
          if (errors.has(k)) continue;
          for (const i of indexes) if (unreadable || !seen.has(i)) results[i] = toolError('getfattr', unknown);
        }
      }
      return results;
    },

    async setXattrs(items) {
      const failures: XattrWriteFailure[] = [];
      const sent: typeof items = [];
      const dump: Buffer[] = [];
      for (const item of items) {
        const { path, name, value } = item;
        if (!path.length || path.includes(0) || name === '' || name.includes('\0')) {
          failures.push(failure(path, name, badPath('setfattr', path)));
          continue;
        }
        if (!sent.length || !sent[sent.length - 1]!.path.equals(path)) {
          dump.push(Buffer.from(`${sent.length ? '\n' : ''}# file: `), escape(path, false), Buffer.from('\n'));
        }
        dump.push(escape(Buffer.from(name, 'utf8'), true), Buffer.from(`=0x${value.toString('hex')}\n`));
        sent.push(item);
      }
      if (!sent.length) return failures;

      const run = await runTool(['setfattr', '-h', '--restore=-'], Buffer.concat([...dump, Buffer.from('\n')]));
      if (run.status === 0 && !run.error && run.stderr.length === 0) return failures;
      // setfattr names only the file, and goes on after an error. So read back the files it
      // complained about (all of them if a complaint names none) to find the items that failed.
      const { errors, unattributed } = parseStderr(run.stderr, new Set(sent.map((it) => key(it.path))));
      const general = toolFailure(run) ?? (unattributed.length ? unattributed.join('; ') : undefined);
      const suspects = general !== undefined || errors.size === 0 ? sent : sent.filter((it) => errors.has(key(it.path)));
      const paths = [...new Set(suspects.map((it) => key(it.path)))];
      const read = await sys.getXattrs(paths.map(unkey));
      const now = new Map(paths.map((k, i) => [k, read[i]!]));
      for (const item of suspects) {
        const attrs = now.get(key(item.path))!;
        if (!(attrs instanceof Error) && attrs.get(item.name)?.equals(item.value)) continue;
        const err = errors.get(key(item.path)) ?? toolError('setfattr', general ?? `exit status ${run.status}`);
        failures.push(failure(item.path, item.name, err));
      }
      return failures;
    },

    async removeXattrs(items) {
      // setfacl -b takes the extended entries (the access ACL) away, -k the default ACL; any other
      // name goes with setfattr -x.
      const failures: XattrWriteFailure[] = [];
      const names = new Set(items.map((i) => i.name));
      for (const name of names) {
        const acl = name === 'system.posix_acl_access' ? '-b' : name === 'system.posix_acl_default' ? '-k' : undefined;
        const tool = acl ? 'setfacl' : 'setfattr';
        const paths = items.filter((i) => i.name === name).map((i) => i.path);
        for (const p of paths.filter((p) => !p.length || p.includes(0))) failures.push(failure(p, name, badPath(tool, p)));
        const good = paths.filter((p) => p.length && !p.includes(0));
        if (!good.length) continue;
        const run = await runTool(acl ? ['xargs', '-0', 'setfacl', '-P', acl, '--'] : ['xargs', '-0', 'setfattr', '-h', '-x', name, '--'], nulJoin(good));
        const why = toolFailure(run) ?? (run.status !== 0 ? run.stderr.toString().trim() || `exit status ${run.status}` : undefined);
        if (why !== undefined) for (const p of good) failures.push(failure(p, name, toolError(tool, why)));
      }
      return failures;
    },

    setTimes(path, atimeNs, mtimeNs) {
      lutimesSync(path, microsecondSeconds(atimeNs), microsecondSeconds(mtimeNs));
      // Node 20's libuv truncates to whole microseconds, so aiming half a microsecond in lands on
      // the right one; newer libuv keeps the double's nanoseconds, within half a microsecond of
      // the aim. Either way the microsecond is right: say 'exact' only when the file says so.
      const st = lstatSync(path, { bigint: true });
      return st.atimeNs === atimeNs && st.mtimeNs === mtimeNs ? 'exact' : 'microseconds';
    },

    mknod(path, type, perm, major, minor) {
      const mode = (perm & 0o7777).toString(8);
      const program = type === 'fifo' ? 'mkfifo' : 'mknod';
      const args = ['-m', mode, '--', path];
      if (type !== 'fifo') args.push(type === 'chardev' ? 'c' : 'b', String(major), String(minor));
      const run = spawnSync('xargs', ['-0', program], { input: nulJoin(args), env: toolEnv() });
      const problem = toolFailure({ status: run.status, error: run.error, stderr: run.stderr ?? Buffer.alloc(0) });
      if (problem === undefined && run.status === 0) return;
      const last = (run.stderr ?? Buffer.alloc(0)).toString('utf8').trim().split('\n').pop() ?? '';
      const message = last.slice(last.lastIndexOf(': ') + 2);
      throw problem === undefined && CODES.has(message)
        ? sysError(program, path, message)
        : toolError(program, problem ?? (last || `exit status ${run.status}`));
    },

    syncFs() {
      return false; // Node has no syncfs: the caller fsyncs each file.
    },
  };
  return sys;
}

/** With `C` messages, so that strerror texts can be mapped back to codes. */
const toolEnv = () => ({ ...process.env, LC_ALL: 'C' });

interface ToolRun {
  status: number | null;
  error?: Error | undefined;
  stdout: Buffer;
  stderr: Buffer;
}

function runTool(argv: string[], input: Buffer): Promise<ToolRun> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { env: toolEnv() });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let error: Error | undefined;
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.stdin.on('error', () => {}); // EPIPE if it died early; 'close' reports that
    child.on('error', (e) => (error = e));
    child.on('close', (status) => resolve({ status, error, stdout: Buffer.concat(out), stderr: Buffer.concat(err) }));
    child.stdin.end(input);
  });
}

/**
 * Why a whole run failed, or undefined if it ran (perhaps with failures for some paths).
 * xargs exits 123 when its command failed for some paths, 126/127 when it could not run it;
 * setfattr exits 1 when some items failed.
 */
function toolFailure(run: Pick<ToolRun, 'status' | 'error' | 'stderr'>): string | undefined {
  if (run.error) return (run.error as NodeJS.ErrnoException).code === 'ENOENT' ? missingTool('xargs') : run.error.message;
  if (run.status === 0 || run.status === 123 || run.status === 1) return undefined;
  // xargs could not run its command (127: not found; 126: not executable).
  const said = run.stderr.toString('utf8').trim();
  const missing = run.status === 127 && /xargs: (\S+): No such file or directory/.exec(said)?.[1];
  if (missing) return missingTool(missing);
  return said || `exit status ${run.status}`;
}

/** What to install when a program the fallback runs is not there (slim containers lack them). */
function missingTool(tool: string): string {
  const pkg = tool === 'xargs' ? 'findutils' : tool === 'setfacl' || tool === 'getfacl' ? 'acl' : tool === 'getfattr' || tool === 'setfattr' ? 'attr' : undefined;
  return `${tool} is not installed${pkg ? ` (the ${pkg} package)` : ''}: without portarc's native addon, xattrs and ACLs are read and set through it; install it, or build the addon (a C compiler, then npm rebuild portarc)`;
}

/**
 * `# file: NAME` records, then `name=0xHEX` lines (a bare `name` or `name=` is an empty value).
 * Names go through xattrMap as the addon's do: one that is not UTF-8 is listed in `unnamed`, not
 * decoded into another name (U+FFFD), which was archived and restored as an xattr that never was.
 */
function parseDump(stdout: Buffer): Array<[string, XattrMap]> {
  const records: Array<[string, Array<[Buffer, Buffer]>]> = [];
  for (const line of stdout.toString('latin1').split('\n')) {
    if (line.startsWith('# file: ')) {
      records.push([unescape(line.slice(8)), []]);
    } else if (line !== '' && !line.startsWith('#') && records.length) {
      const eq = line.indexOf('=');
      const name = Buffer.from(unescape(eq < 0 ? line : line.slice(0, eq)), 'latin1');
      records[records.length - 1]![1].push([name, decodeValue(eq < 0 ? '' : line.slice(eq + 1))]);
    }
  }
  return records.map(([file, pairs]) => [file, xattrMap(pairs)]);
}

function decodeValue(text: string): Buffer {
  if (/^0x/i.test(text)) return Buffer.from(text.slice(2), 'hex');
  if (/^0s/i.test(text)) return Buffer.from(text.slice(2), 'base64');
  if (text.startsWith('"') && text.endsWith('"') && text.length >= 2) return Buffer.from(unescape(text.slice(1, -1)), 'latin1');
  return Buffer.from(text, 'latin1');
}

/**
 * Map `tool: NAME: message` lines to the paths they name (keys in `ours`). A name may itself
 * contain ": ", so the longest name that is one of ours wins.
 */
function parseStderr(stderr: Buffer, ours: { has(key: string): boolean }) {
  const errors = new Map<string, SysError>();
  const unattributed: string[] = [];
  for (const line of stderr.toString('latin1').split('\n')) {
    if (line === '') continue;
    const colon = line.indexOf(': ');
    const tool = line.slice(0, Math.max(colon, 0));
    const rest = unescape(line.slice(colon + 2));
    let found = false;
    for (let i = rest.lastIndexOf(': '); i >= 0 && !found; i = i ? rest.lastIndexOf(': ', i - 1) : -1) {
      if (ours.has(rest.slice(0, i))) {
        if (!errors.has(rest.slice(0, i))) errors.set(rest.slice(0, i), sysError(tool, unkey(rest.slice(0, i)), rest.slice(i + 2)));
        found = true;
      }
    }
    if (!found) unattributed.push(Buffer.from(line, 'latin1').toString('utf8'));
  }
  return { errors, unattributed };
}

/** getfattr/setfattr's escapes: `\ooo` for odd bytes, and always for the backslash. */
function escape(bytes: Buffer, isName: boolean): Buffer {
  let out = '';
  for (const b of bytes) {
    const odd = b < 0x20 || b === 0x7f || b === 0x5c || (isName && b === 0x3d);
    out += odd ? '\\' + b.toString(8).padStart(3, '0') : String.fromCharCode(b);
  }
  return Buffer.from(out, 'latin1');
}

function unescape(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8) & 0xff));
}

/** A path's bytes as a string usable as a Map key (and back). */
const key = (path: Buffer) => path.toString('latin1');
const unkey = (k: string) => Buffer.from(k, 'latin1');

function nulJoin(args: Array<string | Buffer>): Buffer {
  return Buffer.concat(args.flatMap((a) => [typeof a === 'string' ? Buffer.from(a, 'utf8') : a, Buffer.alloc(1)]));
}

/**
 * Seconds, as a string, that Node's lutimes turns into exactly floor(ns / 1000) microseconds.
 * A string because Node replaces a negative *number* by the current time. libuv truncates
 * toward zero to whole microseconds (and a double this size only holds ~0.24 µs), so aim
 * half a microsecond past the target, away from zero.
 */
function microsecondSeconds(ns: bigint): string {
  const us = floorDiv(ns, 1000n);
  const sec = floorDiv(us, 1_000_000n);
  const frac = us - sec * 1_000_000n;
  if (keepsNanoseconds()) {
    // Newer libuv passes the double's nanoseconds through: aim at the middle of the microsecond,
    // so that the double's error (under 0.25 µs for times near now) cannot leave it.
    return String(Number(sec) + (Number(frac) + 0.5) / 1e6);
  }
  return String(Number(sec) + (Number(frac) + (us < 0n ? -0.5 : 0.5)) / 1e6);
}

let nsProbe: boolean | undefined;
/** Does this Node's fs.lutimes keep digits below the microsecond (libuv ≥ 1.47-ish)? Probed once. */
function keepsNanoseconds(): boolean {
  if (nsProbe === undefined) {
    const probe = join(tmpdir(), `.portarc-utime-probe-${process.pid}`);
    try {
      writeFileSync(probe, '');
      lutimesSync(probe, '1000000000.0000007', '1000000000.0000007');
      nsProbe = lstatSync(probe, { bigint: true }).mtimeNs % 1000n !== 0n;
    } catch {
      nsProbe = false;
    } finally {
      rmSync(probe, { force: true });
    }
  }
  return nsProbe;
}

const floorDiv = (a: bigint, b: bigint) => (a % b < 0n ? a / b - 1n : a / b);

// ---- errors -----------------------------------------------------------------------------

/** strerror texts (LC_ALL=C, glibc and musl) → codes, so the fallback's errors match the addon's. */
const CODES = new Map(
  Object.entries({
    'Operation not permitted': 'EPERM',
    'No such file or directory': 'ENOENT',
    'Input/output error': 'EIO',
    'I/O error': 'EIO',
    'Argument list too long': 'E2BIG',
    'Cannot allocate memory': 'ENOMEM',
    'Out of memory': 'ENOMEM',
    'Permission denied': 'EACCES',
    'Device or resource busy': 'EBUSY',
    'Resource busy': 'EBUSY',
    'File exists': 'EEXIST',
    'Not a directory': 'ENOTDIR',
    'Is a directory': 'EISDIR',
    'Invalid argument': 'EINVAL',
    'No space left on device': 'ENOSPC',
    'Read-only file system': 'EROFS',
    'Numerical result out of range': 'ERANGE',
    'Result not representable': 'ERANGE',
    'File name too long': 'ENAMETOOLONG',
    'Too many levels of symbolic links': 'ELOOP',
    'Symbolic link loop': 'ELOOP',
    'No data available': 'ENODATA',
    'Operation not supported': 'ENOTSUP',
    'Not supported': 'ENOTSUP',
    'Disk quota exceeded': 'EDQUOT',
    'Quota exceeded': 'EDQUOT',
  }),
);

/** Like the addon's errors: "<tool> <path>: <strerror>" with code, errno and syscall. */
function sysError(tool: string, path: Buffer, strerror: string): SysError {
  const code = CODES.get(strerror) ?? 'EIO';
  return Object.assign(new Error(`${tool} ${displayName(path)}: ${strerror}`), {
    code,
    errno: (osConstants.errno as Record<string, number>)[code],
    syscall: tool,
  });
}

/** What the addon would say for a path no program can be given: empty, or with a NUL byte. */
function badPath(tool: string, path: Buffer): SysError {
  return sysError(tool, path, path.length ? 'Invalid argument' : 'No such file or directory');
}

/** The program could not be run, or failed in a way that names no path. */
function toolError(tool: string, message: string): SysError {
  return Object.assign(new Error(`${tool}: ${message}`), { code: 'ERR_PORTARC_TOOL', syscall: tool });
}

function failure(path: Buffer, name: string, err: Error): XattrWriteFailure {
  const code = (err as Partial<SysError>).code;
  return code === undefined ? { path, name, error: err.message } : { path, name, error: err.message, code };
}
