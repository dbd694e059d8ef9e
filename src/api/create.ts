// create(): scan a tree (or take entries) and write a portarc tar archive to a file or stream.
// Spec: spec/portarc-1.md §4–§5 (what is written).

import { stat } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import type { Entry } from '../model/entry.js';
import { ArchiveError, ioError } from '../model/errors.js';
import { scan, type ScannedEntry } from '../fs/scan.js';
import { fileSink, writableSink, type OpenSink } from '../io/sink.js';
import { TarWriter } from '../tar/writer.js';
import { ZipWriter } from '../zip/index.js';
import { compressingSink, filterForPath, type Filter } from '../compress/index.js';
import { VERSION } from './version.js';

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
  /** Compression level (gzip 1–9, default 6; zstd 1–19, default 3). */
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
  /** For a tar stream (stdout, a Writable): end it so that every reader fails (spec §8.5). */
  poison?(): Promise<void>;
}

/** Open the destination and the writer for the format and compression asked for or implied by its name. */
export async function openWriter(dest: string | Writable, options: Pick<CreateOptions, 'format' | 'compression' | 'level' | 'threads' | 'zipMethod'>): Promise<OpenedWriter> {
  let sink: OpenSink;
  let exclude: { dev: bigint; ino: bigint } | undefined;
  const named = typeof dest === 'string' && dest !== '-';
  if (dest === '-') sink = writableSink(process.stdout);
  else if (typeof dest === 'string') {
    sink = await fileSink(dest);
    const st = await stat(`${dest}.partial`, { bigint: true });
    exclude = { dev: st.dev, ino: st.ino };
  } else sink = writableSink(dest);
  const creator = `portarc ${VERSION}`;
  const format = options.format && options.format !== 'auto' ? options.format : named && /\.zip$/i.test(dest) ? 'zip' : 'tar';
  if (format === 'zip') {
    if (options.compression && options.compression !== 'auto' && options.compression !== 'none') {
      await sink.abort();
      throw new Error('a zip archive compresses each member itself: gzip or zstd around it is not supported (use --zip-method)');
    }
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
  const writer = new TarWriter(out, { creator });
  // A file is removed on failure; a stream cannot be taken back, so it is made unreadable instead.
  const poison = named ? undefined : async () => (await writer.poison(), await out.close());
  return { writer, format, exclude, close: () => out.close(), abort: () => out.abort(), poison };
}

/**
 * Write entries through an opened writer; on any failure nothing is left under the final name.
 * An entry whose body throws or ends early fails the whole write (spec §8.5). `warnings` collects
 * in order (the scan's own warnings go into the same array).
 */
export async function writeEntries(entries: CreateInput & object, opened: OpenedWriter, destName: string, onEntry?: (e: Entry) => void, warnings: string[] = []): Promise<CreateResult> {
  const { writer } = opened;
  const result: CreateResult = { entries: 0, bytes: 0, warnings };
  try {
    for await (const { entry, body } of entries as AsyncIterable<ScannedEntry>) {
      const added = await writer.add(entry, body?.());
      // After add: reading the body may have added some ("file changed as we read it").
      result.warnings.push(...entry.warnings.map((w) => (w.startsWith(entry.name) ? w : `${entry.name}: ${w}`)), ...added.warnings);
      result.entries++;
      onEntry?.(entry);
    }
    await writer.finish();
    await opened.close();
  } catch (err) {
    // If the stream itself failed (EPIPE), poisoning it fails too: then it just stops.
    await (opened.poison ? opened.poison().catch(() => opened.abort()) : opened.abort());
    if (err instanceof ArchiveError) throw err.withArchive(destName);
    // Errors from reading entries are EntryErrors by now; a system error left is the destination's.
    throw ioError(err, 'cannot write', destName);
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
  const opened = await openWriter(dest, options);
  const reuseBuffers = opened.format === 'tar';
  const warnings: string[] = [];
  // A generator: it fails (a path that cannot be stat'ed) inside writeEntries, which cleans up.
  const paths = Array.isArray(input) && input.every((p) => typeof p === 'string'); // an array of entries is entries
  const entries = paths ? scan(input as string[], { cwd: options.cwd, sparse: options.sparse, exclude: opened.exclude, reuseBuffers, onWarning: (w) => warnings.push(w) }) : input;
  return writeEntries(entries, opened, dest === '-' ? '(stdout)' : typeof dest === 'string' ? dest : '(stream)', options.onEntry, warnings);
}
