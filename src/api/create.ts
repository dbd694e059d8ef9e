// create(): scan a tree (or take entries) and write a portarc tar archive to a file or stream.
// Spec: spec/portarc-1.md §4–§5 (what is written).

import { fstatSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Writable } from 'node:stream';
import { displayName, type Entry } from '../model/entry.js';
import { ArchiveError, EntryError, UsageError, ioError } from '../model/errors.js';
import { KeySet } from '../fs/keyset.js';
import { checkEntry } from './entry-check.js';
import { scan, scanForTar, type ScannedEntry } from '../fs/scan.js';
import { isPackedRun, type PackedRun } from '../tar/pack.js';
import { contentBytes } from '../fs/du.js';
import { fileSink, writableSink, type OpenSink } from '../io/sink.js';
import { TarWriter } from '../tar/writer.js';
import { ZipWriter } from '../zip/writer.js';
import { compressingSink, filterForPath, type Filter } from '../compress/index.js';
import { VERSION } from './version.js';
import { checkedEntries, checkLevelFor, checkWriteOptions, inputKind } from './options.js';
import { MANIFEST_FEATURES, ManifestRecorder, type RecordedWriter } from './record.js';
import { progressMeter, type ProgressCallback, type ProgressMeter } from './progress.js';
import { abortPoint, abortable, abortedOr, checkSignal } from '../model/abort.js';
import { applyHooks, checkHooks, type EntryFilter, type EntryMap } from '../model/hooks.js';
import { entryNormalizer, type DeterministicOptions } from './deterministic.js';
import { sized } from './unknown-size.js';
import type { HashMode } from '../integrity/hash-ring.js';
import type { EmbeddedWritten } from '../integrity/par2/writer.js';

export interface CreateOptions extends DeterministicOptions {
  /** Directory the paths are relative to (tar's -C). Default: the current directory. */
  cwd?: string;
  /** Store files with holes as sparse entries (GNU sparse 1.0). Off by default: 7-Zip cannot expand them. */
  sparse?: boolean;
  /** tar (default) or zip; 'auto' picks zip for a `.zip` name. */
  format?: 'tar' | 'zip' | 'auto';
  /** Compression of zip members: deflate (default), store, or zstd (method 93, spec/zip-profile.md §2.5). */
  zipMethod?: 'deflate' | 'store' | 'zstd';
  /**
   * Zip only: 'copy' (default) stores a copy of a hardlink's content with it, so that unzip, bsdtar
   * and 7-Zip extract a real file (portarc still relinks it); 'link-only' stores the link alone
   * (smaller; other tools extract an empty file). spec/zip-profile.md §4.2.
   */
  zipHardlinks?: 'copy' | 'link-only';
  /** gzip or zstd (seekable) around the tar stream; 'auto' (default) picks by the file suffix. */
  compression?: Filter | 'auto';
  /** Compression level (gzip 1–9, default 6; zstd 1–22, default 3; zip deflate 0–9); checked up front (UsageError). */
  level?: number;
  /** zstd worker threads (default: one fewer than the cores, 1 to 4); the output is the same for any count. */
  threads?: number;
  /**
   * zstd: uncompressed bytes per seekable frame (default 4 MiB, at most 1 GiB). Smaller frames make
   * random access and a damaged frame cost less; larger ones compress a little better.
   */
  frameSize?: number;
  /** Write the manifest and trailer (spec/manifest.md). Default true; false makes a plain archive. */
  manifest?: boolean;
  /**
   * Where the SHA-256 digests of the manifest are computed: 'auto' (default: on the calling thread,
   * moving to a worker thread when a file of 4 MiB or more is archived into a plain tar or a stored
   * zip, where a core is otherwise idle; compressed archives and members keep a core busy
   * compressing and hash here), 'worker' or 'thread'. The archive is the same byte for byte either way.
   */
  hashing?: HashMode;
  /** Called for every entry as it is written. */
  onEntry?: (entry: Entry) => void;
  /**
   * Archive only the entries it keeps. From paths, it sees each entry as scanned (a second name
   * of a hardlinked file as a `file`), and a directory it skips is skipped with its contents.
   * excludeFilter() gives tar's --exclude.
   */
  filter?: EntryFilter;
  /**
   * Rename (a new `path`) or drop (null) entries as they are archived; hardlink targets follow
   * the renames. Runs after `filter`.
   */
  map?: EntryMap;
  /**
   * Cancel: the archive stops between entries or between chunks of one, nothing is left under
   * its name (no `.partial`, no temporary file), and create() rejects with an AbortError.
   */
  signal?: AbortSignal;
  /** Do not descend into directories on another filesystem than their path argument (tar's --one-file-system). */
  oneFileSystem?: boolean;
  /** false: archive a directory named without what it holds (tar's --no-recursion). Default true. */
  recursive?: boolean;
  /**
   * fsync the archive before it gets its name (default true). false is for scratch archives and
   * measurements: NOT crash-safe (after a crash the name may hold a truncated archive).
   */
  fsync?: boolean;
  /**
   * Progress as content is read and written: bytes and entries; from paths without a filter also
   * `totalBytes`, once a walk beside the work (lstat only) has summed the file sizes.
   */
  onProgress?: ProgressCallback;
  /**
   * Embed PAR2 recovery data able to rebuild about this percentage of the archive in the archive
   * file, after the archive (spec/recovery.md §10), before it gets its name. A file destination only.
   */
  embedRecovery?: number;
}

export interface CreateResult {
  entries: number;
  bytes: number;
  /** Warnings from the scan and the writer (sockets skipped, files that changed while read...). */
  warnings: string[];
  /** Notices of the entries written (convert: what the reader skipped by rule; spec §6.5). */
  notices: string[];
  /**
   * What of the files on disk the archive does not carry (an xattr or SELinux label whose name or
   * value is not UTF-8), each naming its entry: the archive is written without it, and it is not
   * an exact backup (the CLI exits 2).
   */
  losses: string[];
  /** With `embedRecovery`: the recovery data written after the archive. */
  recovery?: EmbeddedWritten;
}

/** What to archive: paths on disk, or entries (with content) made by the caller. */
export type CreateInput = string[] | AsyncIterable<ScannedEntry> | Iterable<ScannedEntry>;

/** The container writers share this shape (src/tar/writer.ts, src/zip/writer.ts). */
interface ArchiveWriter extends RecordedWriter {
  position: number;
  abort?(): Promise<void>;
}

export interface OpenedWriter {
  writer: ArchiveWriter;
  format: 'tar' | 'zip';
  /** The destination file itself, so that a scan inside the tree skips it. */
  exclude?: { dev: bigint; ino: bigint };
  /** Digests and manifest lines, when the manifest is on. */
  recorder?: ManifestRecorder;
  close(): Promise<void>;
  abort(): Promise<void>;
  /** For a tar stream (stdout, a Writable): end it so that every reader fails (spec §8.5). */
  poison?(): Promise<void>;
  /** With `embedRecovery`: what close() embedded. */
  embedded?: { result?: EmbeddedWritten };
}

/** The file standard output writes to, when it is a regular file. */
function stdoutFile(): { dev: bigint; ino: bigint } | undefined {
  try {
    const st = fstatSync(1, { bigint: true });
    return st.isFile() ? { dev: st.dev, ino: st.ino } : undefined;
  } catch {
    return undefined;
  }
}

/** Open the destination and the writer for the format and compression asked for or implied by its name. */
export async function openWriter(dest: string | Writable, options: Pick<CreateOptions, 'format' | 'compression' | 'level' | 'threads' | 'frameSize' | 'zipMethod' | 'zipHardlinks' | 'manifest' | 'fsync' | 'hashing' | 'embedRecovery'>): Promise<OpenedWriter> {
  const named = typeof dest === 'string' && dest !== '-';
  if (typeof dest !== 'string' && !(dest && typeof (dest as Writable).write === 'function')) {
    throw new UsageError('the destination must be a file path, "-" for stdout, or a Writable');
  }
  const zipName = named && /\.zip$/i.test(dest as string);
  checkWriteOptions(options, zipName);
  const zip = options.format === 'zip' || (options.format !== 'tar' && zipName);
  if (!zip && (!options.compression || options.compression === 'auto')) checkLevelFor(named ? filterForPath(dest as string) : 'none', options.level);
  const percent = options.embedRecovery;
  if (percent !== undefined) {
    if (!named) throw new UsageError('recovery data can be embedded only in an archive file, not a stream');
    if (!(percent > 0 && percent <= 100)) throw new UsageError(`embedRecovery ${percent}%: give a percentage above 0 and at most 100`);
  }
  const embedded: { result?: EmbeddedWritten } = {};
  // Embedded recovery data goes into the .partial file before it is fsynced and named: a crash
  // leaves the old archive or none, never one without its recovery data.
  const beforePublish = percent === undefined ? undefined : async (partial: string, target: string) => {
    const fh = await open(partial, 'r+');
    try {
      // Loaded when recovery data is asked for: the PAR2 writer and its GF(2^16) tables are RSS a
      // create without it should not carry.
      const { embedInto } = await import('../integrity/par2/writer.js');
      embedded.result = await embedInto(fh, (await fh.stat()).size, `${partial}.par2`, { percent, name: basename(target), creator: `Created by portarc ${VERSION}` });
    } finally {
      await fh.close();
    }
  };
  let sink: OpenSink;
  if (dest === '-') sink = writableSink(process.stdout, undefined, undefined, '(stdout)');
  else if (typeof dest === 'string') sink = await fileSink(dest, { fsync: options.fsync, beforePublish });
  else sink = writableSink(dest);
  // Standard output redirected to a file inside the tree: that file is the archive, not a member
  // (GNU tar: "file is the archive; not dumped"); it was archived as it was being written.
  const exclude = sink.identity ?? (dest === '-' ? stdoutFile() : undefined);
  const creator = `portarc ${VERSION}`;
  const format = options.format && options.format !== 'auto' ? options.format : named && /\.zip$/i.test(dest) ? 'zip' : 'tar';
  if (format === 'zip') {
    let writer: ZipWriter;
    // Compressed members keep a core busy compressing: a hashing worker would only add its memory.
    const hashing = (options.zipMethod ?? 'deflate') !== 'store' && (options.hashing ?? 'auto') === 'auto' ? 'thread' : options.hashing;
    const recorder = options.manifest === false ? undefined : new ManifestRecorder(sink, 'zip', creator, undefined, hashing);
    try {
      writer = new ZipWriter(recorder?.sink ?? sink, { creator, method: options.zipMethod ?? 'deflate', level: options.level, hardlinks: options.zipHardlinks, features: recorder && MANIFEST_FEATURES });
    } catch (err) {
      await sink.abort(); // e.g. zstd asked for where no compressor exists: leave no .partial behind
      await recorder?.abort();
      throw err;
    }
    const abort = async () => (await writer.abort(), await recorder?.abort(), await sink.abort());
    return { writer, format, exclude, recorder, close: () => sink.close(), abort, embedded };
  }
  const filter = !options.compression || options.compression === 'auto' ? (named ? filterForPath(dest) : 'none') : options.compression;
  // reuseOutput: the sink copies or writes each chunk before its write returns (src/io/sink.ts).
  let out: ReturnType<typeof compressingSink>;
  try {
    out = compressingSink(filter, sink, { level: options.level, threads: options.threads, frameSize: options.frameSize, digest: options.manifest !== false, hashing: options.hashing === 'worker' ? 'worker' : 'thread', reuseOutput: true });
  } catch (err) {
    await sink.abort(); // zstd asked for where no compressor exists (no zstd-napi): leave no .partial behind
    throw err;
  }
  // The digests are of the tar stream itself, before compression (spec/manifest.md §7). Compressed,
  // both cores are busy compressing: a hashing worker would only add its memory ('auto' → 'thread').
  const hashing = filter !== 'none' && (options.hashing ?? 'auto') === 'auto' ? 'thread' : options.hashing;
  const recorder = options.manifest === false ? undefined : new ManifestRecorder(out, 'tar', creator, { filter, level: options.level }, hashing);
  const writer = new TarWriter(recorder?.sink ?? out, { creator, features: recorder && MANIFEST_FEATURES });
  // A file is removed on failure; a stream cannot be taken back, so it is made unreadable instead.
  const poison = named ? undefined : async () => (await recorder?.abort(), await writer.poison(), await out.close());
  return { writer, format, exclude, recorder, close: () => out.close(), abort: async () => (await recorder?.abort(), await out.abort()), poison, embedded };
}

/**
 * Write entries through an opened writer; on any failure nothing is left under the final name.
 * An entry whose body throws or ends early fails the whole write (spec §8.5). `warnings` collects
 * in order (the scan's own warnings go into the same array).
 */
export async function writeEntries(entries: (CreateInput | AsyncIterable<ScannedEntry | PackedRun>) & object, opened: OpenedWriter, destName: string, onEntry?: (e: Entry) => void, warnings: string[] = [], signal?: AbortSignal, progress?: ProgressMeter): Promise<CreateResult> {
  const { writer, recorder } = opened;
  const result: CreateResult = { entries: 0, bytes: 0, warnings, notices: [], losses: [] };
  try {
    const stop = abortPoint(signal);
    for await (const item of entries as AsyncIterable<ScannedEntry | PackedRun>) {
      const turning = stop();
      if (turning) await turning;
      if (isPackedRun(item)) {
        // Small files the scan encoded as whole members (src/tar/pack.ts): no entry objects.
        recorder?.beforeRun(item);
        const offset = await (writer as TarWriter).addPacked(item);
        await recorder?.addedRun(item, offset);
        result.entries += item.count;
        progress?.add(item.contentBytes, item.count);
        if (onEntry) for (let i = 0; i < item.count; i++) onEntry(item.entry(i));
        continue;
      }
      const { entry, body: read } = item;
      // Checked between chunks too: a big file is cancelled in its middle.
      // A body already in memory (a small file the scan read whole) is one chunk: nothing to stop
      // between, and the writer takes a Buffer without an async iteration per file.
      const body = read && signal ? () => abortableBody(read(), signal) : read;
      const content = body && progress ? progress.count(body()) : body?.();
      const added = await writer.add(entry, recorder ? recorder.body(entry, content) : content);
      await recorder?.added(entry, added.offset);
      // After add: reading the body may have added some ("file changed as we read it").
      result.warnings.push(...entry.warnings.map((w) => (w.startsWith(entry.name) ? w : `${entry.name}: ${w}`)), ...added.warnings);
      result.notices.push(...entry.notices.map((n) => `${entry.name}: ${n}`));
      if (entry.losses?.length) result.losses.push(...entry.losses.map((l) => `${entry.name}: ${l}`));
      result.entries++;
      progress?.entry();
      onEntry?.(entry);
    }
    await (recorder ? recorder.finish(writer) : writer.finish());
    await opened.close();
    progress?.done();
  } catch (err) {
    // If the stream itself failed (EPIPE), poisoning it fails too: then it just stops.
    await (opened.poison ? opened.poison().catch(() => opened.abort()) : opened.abort());
    if (signal?.aborted) throw abortedOr(signal, err);
    if (err instanceof ArchiveError) throw err.withArchive(destName);
    // Errors from reading entries are EntryErrors by now; a system error left is the destination's.
    throw ioError(err, 'cannot write', destName);
  }
  result.bytes = writer.position;
  if (opened.embedded?.result) result.recovery = opened.embedded.result;
  return result;
}

/**
 * Write an archive. `dest` is a file path (written as `dest.HOST.PID.partial`, fsynced, then renamed),
 * "-" for stdout, or any Writable (left open for the caller to end). A `.zip` name, or
 * `format: 'zip'`, makes a zip; otherwise a tar, compressed as the name or options say.
 */
export async function create(input: CreateInput, dest: string | Writable, options: CreateOptions = {}): Promise<CreateResult> {
  const kind = inputKind(input);
  const progress = progressMeter(options.onProgress);
  const signal = checkSignal(options.signal);
  checkHooks(options);
  const normalize = entryNormalizer(options);
  const opened = await openWriter(dest, options);
  // The scan may reuse its read buffer when every consumer of a chunk is done with it once it asks
  // for the next: the tar writer, and the zip writer's store and node:zlib deflate (ZlibDriver);
  // not a registered zip method, whose compressor may keep chunks.
  const reuseBuffers = opened.format === 'tar' || (options.zipMethod ?? 'deflate') === 'deflate' || options.zipMethod === 'store';
  const hardlinkContent = opened.format === 'zip' && (options.zipHardlinks ?? 'copy') === 'copy';
  const warnings: string[] = [];
  const notices: string[] = [];
  // A generator: it fails (a path that cannot be stat'ed) inside writeEntries, which cleans up.
  const hooks = { filter: options.filter, map: options.map };
  // From paths, the scan applies the hooks itself: it must not descend into a skipped directory,
  // and it makes later names of a hardlinked file point to the first name kept, as renamed.
  const scanOptions = { cwd: options.cwd, sparse: options.sparse, exclude: opened.exclude, reuseBuffers, lend: opened.format === 'tar' ? opened.recorder?.sink.lend : undefined, holdRuns: opened.recorder?.holdsRuns, hardlinkContent, oneFileSystem: options.oneFileSystem, recursive: options.recursive, onWarning: (w: string) => warnings.push(w), onNotice: (n: string) => notices.push(n), ...hooks };
  // Whole tar members from the scan (src/tar/pack.ts): not for zip, nor with a normalizing option.
  const packed = opened.format === 'tar' && !normalize;
  const entries = kind === 'paths'
    ? (packed ? scanForTar : scan)(input as string[], scanOptions)
    : sized(hooked(checkedEntries(input as Iterable<ScannedEntry>), options.filter || options.map ? hooks : undefined), signal);
  // The total for percent and ETA: summed beside the work (a filter may leave out anything: then none).
  let done = false;
  if (progress && kind === 'paths' && !options.filter && !options.map) {
    void contentBytes(input as string[], { cwd: options.cwd, sparse: options.sparse, oneFileSystem: options.oneFileSystem, recursive: options.recursive, stopped: () => done }).then((t) => t !== undefined && !done && progress.setTotal(t));
  }
  try {
    const result = await writeEntries(normalized(entries, normalize), opened, dest === '-' ? '(stdout)' : typeof dest === 'string' ? dest : '(stream)', options.onEntry, warnings, signal, progress);
    result.notices.unshift(...notices);
    return result;
  } finally {
    done = true;
  }
}

/** `body` itself when it is a Buffer (the scan's small files are), else checked between chunks. */
function abortableBody(body: AsyncIterable<Buffer>, signal: AbortSignal): AsyncIterable<Buffer> {
  return Buffer.isBuffer(body) ? body : abortable(body, signal);
}

/**
 * The caller's entries through filter and map, each checked as it will be written (a path map
 * gave), and each hardlink held against the names written before it: a link to a name left out
 * (filter), renamed away (map), or never given would be extracted as nothing (spec §3.3: a
 * hardlink's target is a member written earlier), its content in no member.
 */
async function* hooked(entries: AsyncIterable<ScannedEntry>, hooks: Parameters<typeof applyHooks>[1] | undefined): AsyncGenerator<ScannedEntry> {
  const written = new KeySet(); // paths, a few bytes each (memory stays flat enough for millions)
  for await (const item of entries) {
    const entry = hooks ? await applyHooks(item.entry, hooks) : item.entry;
    if (!entry) continue;
    if (entry !== item.entry) checkEntry(entry);
    if (entry.type === 'hardlink' && !written.has(entry.linkTarget!.toString('latin1'))) {
      throw new EntryError(`hardlink to "${displayName(entry.linkTarget!)}", which is not an entry written before it (left out by filter, renamed by map, or never given): it would be extracted as nothing; give the target first, or the link as a file with the content`, { entry: entry.name });
    }
    written.add(entry.path.toString('latin1'));
    yield { ...item, entry };
  }
}

/** Entries rewritten for a deterministic archive or a fixed mtime (spec §8.7). */
async function* normalized(entries: AsyncIterable<ScannedEntry | PackedRun>, normalize: ((e: Entry) => void) | undefined): AsyncGenerator<ScannedEntry | PackedRun> {
  if (!normalize) return yield* entries;
  for await (const item of entries) {
    if (isPackedRun(item)) throw new Error('internal: members packed by the scan where entries are normalized');
    normalize(item.entry);
    yield item;
  }
}
