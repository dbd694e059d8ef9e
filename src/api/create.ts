// create(): scan a tree (or take entries) and write a portarc tar archive to a file or stream.
// Spec: spec/portarc-1.md §4–§5 (what is written).

import { stat } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import type { Entry } from '../model/entry.js';
import { ArchiveError } from '../model/errors.js';
import { scan, type ScannedEntry } from '../fs/scan.js';
import { fileSink, writableSink, type OpenSink } from '../io/sink.js';
import { TarWriter } from '../tar/writer.js';
import { ZipWriter } from '../zip/index.js';
import { compressingSink, filterForPath, type Filter } from '../compress/index.js';
import { VERSION } from './version.js';
import { MANIFEST_FEATURES, ManifestRecorder, type RecordedWriter } from './record.js';

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
  /** Write the manifest and trailer (spec/manifest.md). Default true; false makes a plain archive. */
  manifest?: boolean;
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
}

/** Open the destination and the writer for the format and compression asked for or implied by its name. */
export async function openWriter(dest: string | Writable, options: Pick<CreateOptions, 'format' | 'compression' | 'level' | 'threads' | 'zipMethod' | 'manifest'>): Promise<OpenedWriter> {
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
    const recorder = options.manifest === false ? undefined : new ManifestRecorder(sink, 'zip', creator);
    try {
      writer = new ZipWriter(recorder?.sink ?? sink, { creator, method: options.zipMethod ?? 'deflate', level: options.level, features: recorder && MANIFEST_FEATURES });
    } catch (err) {
      await sink.abort(); // e.g. zstd asked for where no compressor exists: leave no .partial behind
      await recorder?.abort();
      throw err;
    }
    const abort = async () => (await writer.abort(), await recorder?.abort(), await sink.abort());
    return { writer, format, exclude, recorder, close: () => sink.close(), abort };
  }
  const filter = !options.compression || options.compression === 'auto' ? (named ? filterForPath(dest) : 'none') : options.compression;
  const out = compressingSink(filter, sink, { level: options.level, threads: options.threads, digest: options.manifest !== false });
  // The digests are of the tar stream itself, before compression (spec/manifest.md §7).
  const recorder = options.manifest === false ? undefined : new ManifestRecorder(out, 'tar', creator, { filter, level: options.level });
  const writer = new TarWriter(recorder?.sink ?? out, { creator, features: recorder && MANIFEST_FEATURES });
  return { writer, format, exclude, recorder, close: () => out.close(), abort: async () => (await recorder?.abort(), await out.abort()) };
}

/** Write entries through an opened writer; on any failure nothing is left under the final name. */
export async function writeEntries(entries: CreateInput & object, opened: OpenedWriter, destName: string, onEntry?: (e: Entry) => void): Promise<CreateResult> {
  const { writer, recorder } = opened;
  const result: CreateResult = { entries: 0, bytes: 0, warnings: [] };
  try {
    for await (const { entry, body } of entries as AsyncIterable<ScannedEntry>) {
      result.warnings.push(...entry.warnings.map((w) => (w.startsWith(entry.name) ? w : `${entry.name}: ${w}`)));
      const { offset, warnings } = await writer.add(entry, recorder ? recorder.body(entry, body?.()) : body?.());
      await recorder?.added(entry, offset);
      result.warnings.push(...warnings);
      result.entries++;
      onEntry?.(entry);
    }
    await (recorder ? recorder.finish(writer) : writer.finish());
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
  const opened = await openWriter(dest, options);
  const reuseBuffers = opened.format === 'tar';
  const entries = Array.isArray(input) ? scan(input as string[], { cwd: options.cwd, sparse: options.sparse, exclude: opened.exclude, reuseBuffers }) : input;
  return writeEntries(entries, opened, typeof dest === 'string' ? dest : '(stream)', options.onEntry);
}
