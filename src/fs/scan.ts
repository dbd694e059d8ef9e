// Scan a filesystem tree into entries: lstat, readlink, every xattr the process can read (on
// files, directories and symlinks themselves), ACLs, SELinux labels, hardlinks by device and inode.
// Spec: spec/portarc-1.md §3 (entry model) and §9 (what a backup carries).

// Small syscalls (lstat, readdir, readlink, reading a small file) are made synchronously: the
// promise API's thread-pool round trip per call dominated the time for many small files.
import { closeSync, createReadStream, lstatSync, openSync, readSync, readdirSync, readlinkSync, type BigIntStats } from 'node:fs';
import { open } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { decodeAclXattr } from '../model/acl.js';
import { displayName, makeEntry, type AclEntry, type Entry, type EntryType, type SparseRun } from '../model/entry.js';
import { loadSys, type Sys } from './sys.js';
import { groupName, userName } from './users.js';

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
   * Give each hardlink entry the content of its inode too (size and body, read again at the link's
   * own path): a zip stores a copy so that other tools extract a real file (zip-profile §4.2).
   */
  hardlinkContent?: boolean;
  sys?: Sys;
}

export interface ScannedEntry {
  entry: Entry;
  /** The file's content (for sparse entries, the data runs back to back). */
  body?: () => AsyncIterable<Buffer>;
}

const BATCH = 512;
const SMALL_FILE = 1 << 20;

interface Item {
  abs: Buffer;
  arch: Buffer;
}

/** Walk each path depth-first, a directory before its contents, names in byte order. */
export async function* scan(paths: string[], opts: ScanOptions = {}): AsyncGenerator<ScannedEntry> {
  const cwd = resolve(opts.cwd ?? '.');
  const sys = opts.sys ?? loadSys();
  const seen = new Map<string, Buffer>(); // dev:ino → first archive path, for hardlinks
  const items: Item[] = [];
  const warnings: string[] = [];
  for (const p of paths) {
    const abs = isAbsolute(p) ? p : resolve(cwd, p);
    let arch = p.replace(/\/+$/, '').replace(/\/{2,}/g, '/') || '/';
    if (arch.startsWith('/')) {
      arch = arch.replace(/^\/+/, '') || '.';
      warnings.push(`removing leading "/" from member names`);
    }
    items.push({ abs: Buffer.from(abs), arch: Buffer.from(arch) });
  }
  const ctx = { sys, seen, opts, warnings: [...new Set(warnings)] };
  yield* walk(items, ctx);
}

interface Ctx {
  sys: Sys;
  seen: Map<string, Buffer>;
  opts: ScanOptions;
  warnings: string[];
}

async function* walk(items: Item[], ctx: Ctx): AsyncGenerator<ScannedEntry> {
  for (let i = 0; i < items.length; i += BATCH) {
    const batch = items.slice(i, i + BATCH);
    const stats = batch.map((it) => {
      try {
        return lstatSync(it.abs, { bigint: true });
      } catch (e) {
        return e as Error;
      }
    });
    const xattrs = await ctx.sys.getXattrs(batch.map((it, k) => (stats[k] instanceof Error ? Buffer.alloc(0) : it.abs)));
    for (const [k, it] of batch.entries()) {
      const st = stats[k]!;
      if (st instanceof Error) {
        // Vanished or unreadable since it was listed: tar's "Cannot stat", a warning, not the end.
        ctx.warnings.push(`${displayName(it.arch)}: not archived: ${st.message}`);
        continue;
      }
      if (ctx.opts.exclude && st.dev === ctx.opts.exclude.dev && st.ino === ctx.opts.exclude.ino) continue;
      const scanned = await toEntry(it, st, xattrs[k]!, ctx);
      if (!scanned) continue;
      if (ctx.warnings.length) scanned.entry.warnings.unshift(...ctx.warnings.splice(0));
      yield scanned;
      if (scanned.entry.type === 'directory') {
        let listed: Buffer[] | Error;
        try {
          listed = readdirSync(it.abs, { encoding: 'buffer' });
        } catch (e) {
          listed = e as Error;
        }
        if (listed instanceof Error) {
          ctx.warnings.push(`${scanned.entry.name}: contents not archived: ${listed.message}`);
          continue;
        }
        const names = listed.sort(Buffer.compare);
        const slash = Buffer.from('/');
        const children = names.map((n) => ({
          abs: Buffer.concat([it.abs, slash, n]),
          arch: Buffer.concat([it.arch, slash, n]),
        }));
        yield* walk(children, ctx);
      }
    }
  }
}

const S_IFMT = 0o170000n;
const KINDS: Record<string, EntryType | 'socket'> = {
  [0o100000]: 'file',
  [0o040000]: 'directory',
  [0o120000]: 'symlink',
  [0o010000]: 'fifo',
  [0o020000]: 'chardev',
  [0o060000]: 'blockdev',
  [0o140000]: 'socket',
};

async function toEntry(it: Item, st: BigIntStats, xattrs: Map<string, Buffer> | Error, ctx: Ctx): Promise<ScannedEntry | undefined> {
  const kind = KINDS[String(Number(st.mode & S_IFMT))];
  const name = displayName(it.arch);
  if (kind === 'socket' || kind === undefined) {
    ctx.warnings.push(`${name}: ${kind ?? 'unknown file type'} ignored`);
    return undefined;
  }
  const entry = makeEntry({
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
  if (xattrs instanceof Error) entry.warnings.push(`extended attributes not read: ${xattrs.message}`);
  else takeXattrs(entry, xattrs);

  // A second name for an inode already archived becomes a hardlink to the first one.
  if (kind !== 'directory' && st.nlink > 1n) {
    const key = `${st.dev}:${st.ino}`;
    const first = ctx.seen.get(key);
    if (first) {
      entry.type = 'hardlink';
      entry.linkTarget = first;
      if (kind !== 'file' || !ctx.opts.hardlinkContent) return { entry };
      entry.size = Number(st.size);
      return { entry, body: () => readContent(it.abs, entry.size, false) };
    }
    ctx.seen.set(key, it.arch);
  }
  switch (kind) {
    case 'symlink':
      entry.linkTarget = readlinkSync(it.abs, { encoding: 'buffer' });
      return { entry };
    case 'chardev':
    case 'blockdev':
      entry.devMajor = Number(((st.rdev >> 8n) & 0xfffn) | ((st.rdev >> 32n) & ~0xfffn));
      entry.devMinor = Number((st.rdev & 0xffn) | ((st.rdev >> 12n) & ~0xffn));
      return { entry };
    case 'file': {
      entry.size = Number(st.size);
      if (ctx.opts.sparse && st.blocks * 512n < st.size) {
        entry.sparse = await findDataRuns(it.abs, entry.size);
        const runs = entry.sparse;
        return { entry, body: () => readRuns(it.abs, runs) };
      }
      return { entry, body: () => readContent(it.abs, entry.size, ctx.opts.reuseBuffers === true) };
    }
    default:
      return { entry };
  }
}

/** Move the label and ACLs out of the xattr map into their own fields. */
function takeXattrs(entry: Entry, xattrs: Map<string, Buffer>): void {
  for (const [name, value] of xattrs) {
    if (name === 'security.selinux') {
      let end = value.length;
      while (end > 0 && value[end - 1] === 0) end--;
      entry.selinux = value.subarray(0, end).toString('utf8');
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

async function* readContent(abs: Buffer, size: number, reuse: boolean): AsyncGenerator<Buffer> {
  if (size <= SMALL_FILE) {
    const fd = openSync(abs, 'r');
    try {
      const buf = Buffer.allocUnsafe(size);
      let got = 0;
      while (got < size) {
        const n = readSync(fd, buf, got, size - got, got);
        if (n === 0) break;
        got += n;
      }
      yield got === size ? buf : buf.subarray(0, got);
    } finally {
      closeSync(fd);
    }
    return;
  }
  if (!reuse) {
    yield* createReadStream(abs, { highWaterMark: SMALL_FILE });
    return;
  }
  const fd = openSync(abs, 'r');
  try {
    const buf = Buffer.allocUnsafe(SMALL_FILE);
    for (let pos = 0; pos < size; ) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, size - pos), pos);
      if (n === 0) break;
      pos += n;
      yield n === buf.length ? buf : buf.subarray(0, n);
    }
  } finally {
    closeSync(fd);
  }
}

const ZERO_GRAIN = 4096;

/** Find the runs of a file that hold non-zero data, at 4 KiB granularity (tar -S reads for zeros too). */
async function findDataRuns(abs: Buffer, size: number): Promise<SparseRun[]> {
  const runs: SparseRun[] = [];
  const fh = await open(abs, 'r');
  try {
    const buf = Buffer.alloc(SMALL_FILE);
    let pos = 0;
    let runStart = -1;
    while (pos < size) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, size - pos), pos);
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
    if (runStart >= 0) runs.push({ offset: runStart, length: pos - runStart });
  } finally {
    await fh.close();
  }
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

async function* readRuns(abs: Buffer, runs: SparseRun[]): AsyncGenerator<Buffer> {
  const fh = await open(abs, 'r');
  try {
    for (const run of runs) {
      for (let done = 0; done < run.length; ) {
        const n = Math.min(SMALL_FILE, run.length - done);
        const buf = Buffer.allocUnsafe(n);
        const { bytesRead } = await fh.read(buf, 0, n, run.offset + done);
        if (bytesRead === 0) return;
        yield buf.subarray(0, bytesRead);
        done += bytesRead;
      }
    }
  } finally {
    await fh.close();
  }
}
