// create(): scan a tree (or take entries) and write a portarc tar archive to a file or stream.
// Spec: spec/portarc-1.md §4–§5 (what is written).

import type { Writable } from 'node:stream';
import type { Entry } from '../model/entry.js';
import { ArchiveError, UsageError } from '../model/errors.js';
import { scan, type ScannedEntry } from '../fs/scan.js';
import { fileSink, writableSink, type OpenSink } from '../io/sink.js';
import { TarWriter } from '../tar/writer.js';
import { ZipWriter } from '../zip/index.js';
import { compressingSink, filterForPath, type Filter } from '../compress/index.js';
import { VERSION } from './version.js';
import { checkedEntries, checkLevelFor, checkWriteOptions, inputKind } from './options.js';

export interface CreateOptions {
  /** Directory the paths are relative to (tar's -C). Default: the current directory. */
  cwd?: string;
  /** Store files with holes as sparse entries (GNU sparse 1.0). Off by default: 7-Zip cannot expand them. */
  sparse?: boolean;
  /** tar (default) or zip; 'auto' picks zip for a `.zip` name. */
  format?: 'tar' | 'zip' | 'auto';
  /** Compression of zip members: deflate (default), store, or zstd (method 93, spec/zip-profile.md §2.5). */
  zipMethod?: 'deflate' | 'store' | 'zstd';
  /** gzip or zstd (seekable) around the tar stream; 'auto' (default) picks by the file suffix. */
  compression?: Filter | 'auto';
  /** Compression level (gzip 1–9, default 6; zstd 1–22, default 3; zip deflate 0–9); checked up front (UsageError). */
  level?: number;
  /** zstd worker threads (default: min(cores, 4)); the output is the same for any count. */
  threads?: number;
  /** Called for every entry as it is written. */
  onEntry?: (entry: Entry) => void;
}

export interface CreateResult {
  entries: number;
  bytes: number;
  /** Warnings from the scan and the writer (sockets skipped, files that changed while read...). */
  warnings: string[];
}

/** What to archive: paths on disk, or entries (with content) made by the caller. */
export type CreateInput = string[] | AsyncIterable<ScannedEntry> | Iterable<ScannedEntry>;

/** The container writers share this shape (src/tar/writer.ts, src/zip/writer.ts). */
interface ArchiveWriter {
  position: number;
  add(entry: Entry, body?: AsyncIterable<Buffer> | Buffer): Promise<{ offset: number; warnings: string[] }>;
  finish(): Promise<void>;
  abort?(): Promise<void>;
}

export interface OpenedWriter {
  writer: ArchiveWriter;
  format: 'tar' | 'zip';
  /** The destination file itself, so that a scan inside the tree skips it. */
  exclude?: { dev: bigint; ino: bigint };
  close(): Promise<void>;
  abort(): Promise<void>;
}

/** Open the destination and the writer for the format and compression asked for or implied by its name. */
export async function openWriter(dest: string | Writable, options: Pick<CreateOptions, 'format' | 'compression' | 'level' | 'threads' | 'zipMethod'>): Promise<OpenedWriter> {
  const named = typeof dest === 'string' && dest !== '-';
  if (typeof dest !== 'string' && !(dest && typeof (dest as Writable).write === 'function')) {
    throw new UsageError('the destination must be a file path, "-" for stdout, or a Writable');
  }
  checkWriteOptions(options, named && /\.zip$/i.test(dest as string));
  if (named && options.format !== 'zip' && (!options.compression || options.compression === 'auto')) checkLevelFor(filterForPath(dest as string), options.level);
  let sink: OpenSink;
  if (dest === '-') sink = writableSink(process.stdout, undefined, undefined, '(stdout)');
  else if (typeof dest === 'string') sink = await fileSink(dest);
  else sink = writableSink(dest);
  const exclude = sink.identity;
  const creator = `portarc ${VERSION}`;
  const format = options.format && options.format !== 'auto' ? options.format : named && /\.zip$/i.test(dest) ? 'zip' : 'tar';
  if (format === 'zip') {
    let writer: ZipWriter;
    try {
      writer = new ZipWriter(sink, { creator, method: options.zipMethod ?? 'deflate', level: options.level });
    } catch (err) {
      await sink.abort(); // e.g. zstd asked for where no compressor exists: leave no .partial behind
      throw err;
    }
    return { writer, format, exclude, close: () => sink.close(), abort: async () => (await writer.abort(), await sink.abort()) };
  }
  const filter = !options.compression || options.compression === 'auto' ? (named ? filterForPath(dest) : 'none') : options.compression;
  const out = compressingSink(filter, sink, { level: options.level, threads: options.threads });
  return { writer: new TarWriter(out, { creator }), format, exclude, close: () => out.close(), abort: () => out.abort() };
}

/** Write entries through an opened writer; on any failure nothing is left under the final name. */
export async function writeEntries(entries: CreateInput & object, opened: OpenedWriter, destName: string, onEntry?: (e: Entry) => void): Promise<CreateResult> {
  const { writer } = opened;
  const result: CreateResult = { entries: 0, bytes: 0, warnings: [] };
  try {
    for await (const { entry, body } of entries as AsyncIterable<ScannedEntry>) {
      result.warnings.push(...entry.warnings.map((w) => (w.startsWith(entry.name) ? w : `${entry.name}: ${w}`)));
      const { warnings } = await writer.add(entry, body?.());
      result.warnings.push(...warnings);
      result.entries++;
      onEntry?.(entry);
    }
    await writer.finish();
    await opened.close();
  } catch (err) {
    await opened.abort();
    if (err instanceof ArchiveError) throw err.withArchive(destName);
    throw err;
  }
  result.bytes = writer.position;
  return result;
}

/**
 * Write an archive. `dest` is a file path (written as `dest.partial`, fsynced, then renamed),
 * "-" for stdout, or any Writable (left open for the caller to end). A `.zip` name, or
 * `format: 'zip'`, makes a zip; otherwise a tar, compressed as the name or options say.
 */
export async function create(input: CreateInput, dest: string | Writable, options: CreateOptions = {}): Promise<CreateResult> {
  const kind = inputKind(input);
  const opened = await openWriter(dest, options);
  const reuseBuffers = opened.format === 'tar';
  const entries = kind === 'paths' ? scan(input as string[], { cwd: options.cwd, sparse: options.sparse, exclude: opened.exclude, reuseBuffers }) : checkedEntries(input as Iterable<ScannedEntry>);
  return writeEntries(entries, opened, typeof dest === 'string' ? dest : '(stream)', options.onEntry);
}
