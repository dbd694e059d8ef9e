// Archive output: a file written as NAME.HOST.PID.partial, fsynced and renamed on success, or any Writable.
// A device, FIFO or socket given as the archive name is written directly, and a symlink is
// followed to its target: neither is ever replaced. Spec: spec/portarc-1.md §8.4 (destinations).
// Backpressure is honoured, so memory stays flat however fast the producer is.

import { constants, createWriteStream } from 'node:fs';
import { lstat, open, opendir, readlink, realpath, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { IoError, ioError, UsageError } from '../model/errors.js';
import type { Sink } from '../tar/writer.js';
import { processRuns } from './own-files.js';

export interface OpenSink extends Sink {
  /** Flush, fsync and publish the archive under its final name. */
  close(): Promise<void>;
  /** Remove what was written (the final name is never touched). */
  abort(): Promise<void>;
  /** The file being written, when it is one (a scan of the tree skips it). */
  identity?: { dev: bigint; ino: bigint };
}

/**
 * Coalesce small writes into 1 MiB chunks: one syscall for many small headers and files. Two
 * reused chunks: one is being written while the other fills, so the producer (the scan and the
 * writer) runs while the system writes, and no fresh memory is taken per chunk (fresh buffers
 * left for the GC were most of create's RSS on many small files).
 */
const CHUNK = 1 << 20;

export function writableSink(stream: Writable, onClose?: () => Promise<void>, onAbort?: () => Promise<void>, name = '(stream)'): OpenSink {
  const chunks = [Buffer.allocUnsafeSlow(CHUNK), Buffer.allocUnsafeSlow(CHUNK)];
  let cur = 0;
  let fill = 0;
  /** The write of the other chunk, if one is under way; it never rejects (see `failed`). */
  let inFlight: Promise<void> | undefined;
  let failed: Error | undefined;
  stream.on('error', (e) => (failed ??= e));
  // A write error (ENOSPC, EPIPE: the reader went away) is the archive's failure: say which.
  const fail = (e: unknown) => ioError(e, 'cannot write the archive', name);
  const settle = async () => {
    if (inFlight) await inFlight;
    inFlight = undefined;
    if (failed) throw fail(failed);
  };
  /** Start writing the filled chunk once the other one is written; filling goes on in that one. */
  const flush = async () => {
    await settle();
    if (!fill) return;
    const buf = chunks[cur]!.subarray(0, fill);
    cur ^= 1;
    fill = 0;
    inFlight = written(stream, buf).catch((e: Error) => void (failed ??= e));
  };
  return {
    write(chunk: Buffer): void | Promise<void> {
      if (failed) throw fail(failed);
      if (chunk.length > CHUNK - fill) return writeSlow(chunk);
      // A copy: the caller may reuse its buffer as soon as write() returns.
      chunk.copy(chunks[cur]!, fill);
      fill += chunk.length;
    },
    async close() {
      await flush();
      await settle();
      await onClose?.().catch((e) => {
        throw fail(e);
      });
    },
    async abort() {
      fill = 0;
      await inFlight;
      await onAbort?.();
    },
  };

  async function writeSlow(chunk: Buffer): Promise<void> {
    await flush();
    if (chunk.length < CHUNK) {
      chunk.copy(chunks[cur]!, 0);
      fill = chunk.length;
      return;
    }
    // A big chunk goes as it is; wait for the write itself: the caller may reuse `chunk` once we return.
    await settle();
    await written(stream, chunk).catch((e) => {
      throw fail(e);
    });
    if (failed) throw fail(failed);
  }
}

/**
 * Open the archive file to write. A regular file, or a name that does not exist yet, is written as
 * `path.HOST.PID.partial` (openPartial) and renamed onto `path` by close(). A symlink is followed: the `.partial` goes
 * beside its target and replaces the target, never the link. A device, FIFO or socket (and
 * /dev/stdout, /dev/fd/N, /proc/.../fd/N whatever they lead to) is written directly: nothing to
 * rename, and close() fsyncs only what can be fsynced.
 */
export async function fileSink(path: string, opts: { fsync?: boolean; beforePublish?: (partial: string, target: string) => Promise<void> } = {}): Promise<OpenSink> {
  const at = await destinationKind(path);
  if (at.kind === 'direct') {
    if (opts.beforePublish) throw new UsageError(`${path} is not a regular file: recovery data can be embedded only in an archive file`);
    return directSink(path, opts.fsync !== false);
  }
  const target = at.target;
  const { fh, partial } = await openPartial(target, path);
  const identity = await fh.stat({ bigint: true });
  const { stream, end } = streamOn(fh);
  const sink = writableSink(
    stream,
    async () => {
      await end();
      // What must be in the file before it gets its name (embedded recovery data, spec/recovery.md §10).
      if (opts.beforePublish) await opts.beforePublish(partial, target);
      // Without fsync (create --no-fsync: scratch archives, measurements) a crash may leave the
      // final name with missing data: the rename can reach the disk before the content.
      if (opts.fsync !== false) await fh.sync();
      await fh.close();
      await rename(partial, target);
    },
    async () => {
      stream.destroy();
      await fh.close().catch(() => undefined);
      await rm(partial, { force: true });
    },
    path,
  );
  return Object.assign(sink, { identity: { dev: identity.dev, ino: identity.ino } });
}

/** This host's name as a partial file's name holds it (letters, digits and `-`). */
const HOST = hostname().replace(/[^A-Za-z0-9-]/g, '').slice(0, 40) || 'host';

/** The n-th name a partial file of `target` may have in this process: `NAME.HOST.PID[-N].partial`. */
export function partialName(target: string, n = 0): string {
  return `${target}.${HOST}.${process.pid}${n ? `-${n}` : ''}.partial`;
}

/**
 * A new file beside `target` to write the archive into (partialName), made with O_EXCL. Its own
 * name per run: two runs writing the same archive name once shared one `NAME.partial`, and the
 * first published a file the second was still writing into (exit 0, a damaged archive). O_EXCL
 * with O_NOFOLLOW: a symlink planted there is never written through. What a killed run of this
 * host left (its process is gone) is removed first, as the shared name was overwritten.
 */
async function openPartial(target: string, path: string): Promise<{ fh: FileHandle; partial: string }> {
  await removeStale(target);
  for (let n = 0; ; n++) {
    const partial = partialName(target, n);
    try {
      const fh = await open(partial, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
      return { fh, partial };
    } catch (e) {
      // Left by an earlier run of this process id (killed): the next name.
      if ((e as NodeJS.ErrnoException).code === 'EEXIST' && n < 100) continue;
      throw ioError(e, `cannot create ${partial}`, path);
    }
  }
}

/**
 * Remove the partial files of `target` left on this host by runs that were killed: their process
 * is not running. Another host's (a shared filesystem) and a running one's are left alone.
 */
async function removeStale(target: string): Promise<void> {
  const prefix = `${basename(target)}.${HOST}.`;
  const stale: string[] = [];
  try {
    // One name at a time: the archive may be written into a directory of a million files.
    for await (const d of await opendir(dirname(target))) {
      const n = d.name;
      if (!n.startsWith(prefix) || !n.endsWith('.partial')) continue;
      const m = /^(\d+)(?:-\d+)?$/.exec(n.slice(prefix.length, -'.partial'.length));
      if (m && !processRuns(Number(m[1]))) stale.push(n);
    }
  } catch {
    return; // not listable: nothing is removed
  }
  for (const n of stale) await rm(join(dirname(target), n), { force: true }).catch(() => undefined);
}

/** What is at `path`: a file to replace through `.partial` (the symlink's target, if one), or an object to write to. */
async function destinationKind(path: string): Promise<{ kind: 'replace'; target: string } | { kind: 'direct' }> {
  const missing = (e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw ioError(e, 'cannot use it as the archive', path);
  };
  const own = await lstat(path).catch(missing);
  if (!own) return { kind: 'replace', target: path };
  if (own.isDirectory()) throw new IoError('is a directory: name a file to write the archive to', { path, errno: 'EISDIR' });
  if (!own.isSymbolicLink()) return own.isFile() ? { kind: 'replace', target: path } : { kind: 'direct' };
  // /dev/stdout, /dev/fd/N and /proc/PID/fd/N are links to whatever the descriptor holds (a pipe,
  // a terminal, a file the shell opened): write through them, as tar does, never beside them.
  if (/^\/(dev|proc)\//.test(resolve(path))) return { kind: 'direct' };
  const st = await stat(path).catch(missing);
  if (st?.isDirectory()) throw new IoError('is a symlink to a directory: name a file to write the archive to', { path, errno: 'EISDIR' });
  if (st && !st.isFile()) return { kind: 'direct' };
  if (st) return { kind: 'replace', target: await realpath(path) };
  // A dangling link: the archive is created where it points (as tar's open() through it would).
  let target = path;
  for (let hops = 0; hops < 40; hops++) {
    const next = resolve(dirname(target), await readlink(target));
    const nst = await lstat(next).catch(missing);
    target = next;
    if (!nst?.isSymbolicLink()) return { kind: 'replace', target };
  }
  throw new IoError('cannot use it as the archive: too many levels of symbolic links (ELOOP)', { path, errno: 'ELOOP' });
}

/** Write straight into a device, FIFO or socket (or through /dev/stdout): no `.partial`, no rename. */
async function directSink(path: string, fsync: boolean): Promise<OpenSink> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'w');
  } catch (e) {
    throw ioError(e, 'cannot open it to write the archive', path);
  }
  // A file reached through /dev/stdout may lie inside the tree being archived: the scan skips it.
  const st = await fh.stat({ bigint: true });
  const { stream, end } = streamOn(fh);
  const sink = writableSink(
    stream,
    async () => {
      await end();
      // A block device or a file reached through /dev/fd is made durable; a pipe, terminal or
      // character device cannot be fsynced (EINVAL), and has nothing to make durable.
      if (fsync) await fh.sync().catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'EINVAL' && e.code !== 'ENOTSUP' && e.code !== 'EROFS') throw e;
      });
      await fh.close();
    },
    async () => {
      stream.destroy();
      await fh.close().catch(() => undefined);
    },
    path,
  );
  return st.isFile() ? Object.assign(sink, { identity: { dev: st.dev, ino: st.ino } }) : sink;
}

/** Write and wait until the stream has processed the chunk (its callback), or has failed. */
function written(stream: Writable, buf: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.write(buf, (err) => (err ? reject(err) : resolve()));
  });
}

/** A write stream on an open handle (which stays open: the caller syncs and closes it) and its end. */
function streamOn(fh: FileHandle): { stream: Writable; end: () => Promise<void> } {
  const stream = createWriteStream('', { fd: fh.fd, autoClose: false });
  const end = () => new Promise<void>((res, rej) => stream.end((e?: Error | null) => (e ? rej(e) : res())));
  return { stream, end };
}
