// create(): scan a tree (or take entries) and write a portarc tar archive to a file or stream.
// Spec: spec/portarc-1.md §4–§5 (what is written).

import { stat } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import type { Entry } from '../model/entry.js';
import { ArchiveError } from '../model/errors.js';
import { scan, type ScannedEntry } from '../fs/scan.js';
import { fileSink, writableSink, type OpenSink } from '../io/sink.js';
import { TarWriter } from '../tar/writer.js';
import { compressingSink, filterForPath, type Filter } from '../compress/index.js';
import { VERSION } from './version.js';

export interface CreateOptions {
  /** Directory the paths are relative to (tar's -C). Default: the current directory. */
  cwd?: string;
  /** Store files with holes as sparse entries (GNU sparse 1.0). Off by default: 7-Zip cannot expand them. */
  sparse?: boolean;
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

/**
 * Write an archive. `dest` is a file path (written as `dest.partial`, fsynced, then renamed),
 * "-" for stdout, or any Writable (left open for the caller to end).
 */
export async function create(input: CreateInput, dest: string | Writable, options: CreateOptions = {}): Promise<CreateResult> {
  let sink: OpenSink;
  let exclude: { dev: bigint; ino: bigint } | undefined;
  const destName = typeof dest === 'string' ? dest : '(stream)';
  if (dest === '-') sink = writableSink(process.stdout);
  else if (typeof dest === 'string') {
    sink = await fileSink(dest);
    const st = await stat(`${dest}.partial`, { bigint: true });
    exclude = { dev: st.dev, ino: st.ino };
  } else sink = writableSink(dest);

  const entries = Array.isArray(input) ? scan(input as string[], { cwd: options.cwd, sparse: options.sparse, exclude }) : input;
  const filter = !options.compression || options.compression === 'auto' ? (typeof dest === 'string' && dest !== '-' ? filterForPath(dest) : 'none') : options.compression;
  const out = compressingSink(filter, sink, { level: options.level, threads: options.threads });
  const writer = new TarWriter(out, { creator: `portarc ${VERSION}` });
  const result: CreateResult = { entries: 0, bytes: 0, warnings: [] };
  try {
    for await (const { entry, body } of entries) {
      result.warnings.push(...entry.warnings.map((w) => (w.startsWith(entry.name) ? w : `${entry.name}: ${w}`)));
      const { warnings } = await writer.add(entry, body?.());
      result.warnings.push(...warnings);
      result.entries++;
      options.onEntry?.(entry);
    }
    await writer.finish();
    await out.close();
  } catch (err) {
    await out.abort();
    if (err instanceof ArchiveError) throw err.withArchive(destName);
    throw err;
  }
  result.bytes = writer.position;
  return result;
}
