// Open any portarc archive for reading: a zip (by its magic bytes; random access when it is a
// file, streaming otherwise) or a tar, plain or gzip- or zstd-compressed. Spec: spec/portarc-1.md
// §4.8 (detection) and spec/zip-profile.md.

import { fstatSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import type { Entry } from '../model/entry.js';
import type { Limits } from '../model/limits.js';
import { SeekTable, decoderTakesReusedInput, decompressAuto, fileReader, peek, sniff, unsupportedFormat, type ZstdSalvage } from '../compress/index.js';
import { openSource, stable, type ArchiveSource } from '../io/source.js';
import { ArchiveError, IoError, ioError } from '../model/errors.js';
import { BLOCK } from '../tar/header.js';
import { TarReader, whyNotTar, type SkippedRange } from '../tar/reader.js';
import type { ArchiveInfo } from '../tar/version.js';
import { ZipStreamReader, costsItsMember, isZip, openZip } from '../zip/index.js';
import { abortable } from '../model/abort.js';
import { MANIFEST_FEATURE } from '../manifest/index.js';

/** How far a file or a device is read past its end-of-archive blocks for data nothing would read (spec §4.7). */
const PAST_END = 1 << 20;

export interface Member {
  entry: Entry;
  /** Offset of the member's first header: in the uncompressed tar, or of the zip local header. */
  offset: number;
  body: AsyncIterable<Buffer>;
  /** SHA-256 (hex) of the member's header range, with `headerDigests` (spec/manifest.md §5). */
  headerSha256?: string;
  /** Where the tar archive holding it starts, when `ignoreZeros` reads several (spec §4.7). */
  archiveStart?: number;
  /** A zip read as a stream: a file whose size is known only once its body is read (entry.size is 0 until then). */
  sizeUnknown?: true;
}

export interface OpenArchive {
  format: 'tar' | 'zip';
  /** Archive name for messages. */
  name: string;
  info: ArchiveInfo;
  members: AsyncIterable<Member>;
  close(): Promise<void>;
  /** With `salvage`: the ranges the tar reader skipped past damage (spec §6.8), filled as it reads. */
  skipped?: SkippedRange[];
  /**
   * Each member is read on its own (a zip file, through its central directory): an error in one
   * member's data leaves the others readable, so a salvaging consumer may go on to the next.
   */
  independentMembers?: boolean;
  /**
   * A zip read as a stream: whether an error thrown while a member's content was read costs that
   * member only (its size was in its header: the reader skips the rest and goes on).
   */
  goesOnAfter?(err: unknown): boolean;
}

/**
 * Whether extraction may name `err` as its member's loss and go on to the next member: a zip
 * file's members are independent (damage, a method or encryption it cannot read); a zip stream
 * says so per error.
 */
export function costsOneMember(archive: OpenArchive, err: unknown): err is ArchiveError {
  if (!(err instanceof ArchiveError)) return false;
  if (archive.independentMembers) return costsItsMember(err);
  return archive.goesOnAfter?.(err) === true;
}

export interface OpenOptions {
  limits?: Partial<Limits>;
  /** The consumer keeps body chunks after asking for more (a zip writer gathering a member): copy them. */
  keepsChunks?: boolean;
  /** Go on past damaged tar headers to the next valid one (spec §6.8), reporting in `skipped`. */
  salvage?: boolean;
  /** Cancel before the next chunk of the source is read, also while a member's data is skipped (spec §8.6). */
  signal?: AbortSignal;
  /** Digest each tar member's header range when this says so of the archive (TarReaderOptions.digestHeaders). */
  headerDigests?: (info: ArchiveInfo) => boolean;
  /** Read tar archives concatenated with `cat` as one (GNU tar's --ignore-zeros; spec §4.7). */
  ignoreZeros?: boolean;
  /** What errors call the archive, when the source is a stream of something named (a URL's bytes). */
  archiveName?: string;
}

export async function openArchive(source: ArchiveSource, options: OpenOptions = {}): Promise<OpenArchive> {
  const opened = openSource(source, { name: options.archiveName });
  const { name } = opened;
  const reused = opened.reused && !options.keepsChunks;
  const bytes = abortable(opened.reused && options.keepsChunks ? stable(opened.bytes) : opened.bytes, options.signal);
  // A zip file is read through its central directory: other tools keep modes and symlinks there
  // only. That needs a regular file; a pipe named as the archive (`-f /dev/stdin`, `-f <(...)`)
  // is read as a stream, once, like stdin.
  const isFile = typeof source === 'string' && source !== '-' && (await regularFile(source, name, opened));
  let centralLost: SkippedRange | undefined;
  if (isFile) {
    const head = Buffer.alloc(4);
    try {
      const fh = await open(source, 'r');
      await fh.read(head, 0, 4, 0).finally(() => fh.close());
    } catch (err) {
      await opened.close();
      throw ioError(err, 'cannot open the archive', name);
    }
    if (isZip(head)) {
      try {
        const zip = await openZip(source, { archiveName: name, limits: options.limits, nameCut: !options.salvage });
        // A member whose metadata cannot be read costs that member only, reported as damage.
        const skipped: SkippedRange[] = [];
        const unreadable = (err: ArchiveError, range: [number, number]) => skipped.push({ entry: err.details.entry, what: err.reason, range, unreadable: err.code !== 'PORTARC_DAMAGED' });
        async function* members(): AsyncGenerator<Member> {
          for await (const e of zip.entries(unreadable)) yield { entry: e.entry, offset: e.offset, body: e.open() };
        }
        return { format: 'zip', name, info: zip.info, members: members(), close: () => zip.close(), independentMembers: true, skipped };
      } catch (err) {
        // A damaged or missing central directory or end record: with salvage the members are read
        // from their local headers, as from stdin (spec §6.8), and the damage is reported. Not a
        // member named as hostile (overlapping another, say): that is refused as it was.
        const unusable = err instanceof ArchiveError && (err.code === 'PORTARC_BAD_ARCHIVE' || err.code === 'PORTARC_DAMAGED') && err.details.entry === undefined;
        if (!options.salvage || !unusable) {
          await opened.close();
          throw err;
        }
        const at = err.details.offset ?? 0;
        centralLost = { what: `the central directory cannot be used (${err.reason}): the members were read from their local headers, as from a stream (modes and links kept only in the central directory may be missing)`, range: [at, at] };
      }
    }
  }
  const { head, rest } = await peek(bytes, BLOCK);
  if (isZip(head)) {
    const reader = new ZipStreamReader(reused ? stable(rest) : rest, { archiveName: name, limits: options.limits });
    return { format: 'zip', name, info: reader.info, members: reader, close: opened.close, goesOnAfter: (err) => reader.goesOnAfter(err), ...(centralLost ? { skipped: [centralLost] } : {}) };
  }
  // The tar reader is done with a chunk before it asks for the next but one (so the decoder may
  // reuse its output buffers); node:zlib's decompressors are not (they queue input), so they get
  // copies (decoderTakesReusedInput).
  const plain = sniff(head) === 'none' && !unsupportedFormat(head);
  // Salvage goes on past a damaged zstd frame (spec §6.8): at the next frame the seek table names
  // when the archive is a seekable file, else at the next frame magic.
  const salvage: ZstdSalvage | undefined = options.salvage && sniff(head) === 'zstd' ? { gaps: [], table: isFile ? await seekTable(source as string) : undefined } : undefined;
  const copyInput = reused && !decoderTakesReusedInput(sniff(head));
  const decoded = plain ? { head, rest } : await peek(decompressAuto(copyInput ? stable(rest) : rest, { reuseOutput: !options.keepsChunks, salvage }), BLOCK);
  // A damaged first frame: what follows it does not start the tar; the reader finds its next header.
  const wrong = salvage?.gaps[0]?.at === 0 ? undefined : whyNotTar(decoded.head, plain ? (typeof source === 'string' && source !== '-' ? 'file' : 'input') : 'decompressed input');
  if (wrong) {
    await opened.close();
    throw new ArchiveError(wrong, { archive: name, offset: decoded.head.length ? 0 : undefined });
  }
  const reader = new TarReader(decoded.rest, { archiveName: name, limits: options.limits, salvage: options.salvage, gaps: salvage?.gaps, digestHeaders: options.headerDigests, readPastEnd: isFile ? PAST_END : await streamPastEnd(source), ignoreZeros: options.ignoreZeros, inputLength: isFile && plain ? (await stat(source as string)).size : undefined });
  return { format: 'tar', name, info: reader.info, members: salvage ? headLost(reader, salvage, reader.info) : reader, close: opened.close, skipped: reader.damaged };
}

/**
 * A damaged first zstd frame takes the archive's global header with it, and with it the word that
 * the archive has a manifest: its members would then be restored as a user's files, and the
 * manifest not used to check the others and name those lost. As `verify` does, the manifest is
 * then known by its reserved names (spec/manifest.md §2).
 */
async function* headLost(members: AsyncIterable<Member>, salvage: ZstdSalvage, info: ArchiveInfo): AsyncGenerator<Member> {
  for await (const m of members) {
    if (salvage.gaps[0]?.at === 0 && !info.features.compat.includes(MANIFEST_FEATURE)) {
      info.features.compat.push(MANIFEST_FEATURE);
      info.notices.push('the first zstd frame was lost, and the global header with it: members named .portarc/manifest.xml and .portarc/trailer are taken for the manifest (spec/manifest.md §2)');
    }
    yield m;
  }
}

/** The seek table of a seekable .tar.zst file; none when it has none or it is damaged (the frames are then found by their magic). */
async function seekTable(path: string): Promise<SeekTable | undefined> {
  try {
    const fh = await open(path, 'r');
    try {
      return await SeekTable.read(fileReader(fh));
    } finally {
      await fh.close();
    }
  } catch {
    // A damaged table (CompressError), or a read error the reading itself will meet and report.
    return undefined;
  }
}

/**
 * A pipe, a socket or a stream object is read to its end after the archive's end, as GNU tar reads
 * a pipe: what a second .tar.zst appended with `cat` holds is decoded only when read. A block
 * device is looked at as far as a file is; a character device (a terminal, /dev/zero) only at
 * what has arrived.
 */
async function streamPastEnd(source: ArchiveSource): Promise<number> {
  if (typeof source !== 'string') return Infinity;
  try {
    const st = source === '-' ? fstatSync(0) : await stat(source);
    return st.isBlockDevice() ? PAST_END : st.isCharacterDevice() ? 0 : Infinity;
  } catch {
    return PAST_END;
  }
}

/** Is the archive a regular file (random access)? A directory or a missing file is refused here. */
async function regularFile(path: string, name: string, opened: { close(): Promise<void> }): Promise<boolean> {
  try {
    const st = await stat(path);
    if (st.isDirectory()) throw new IoError('is a directory, not an archive: name the archive file (-f FILE)', { path: name, errno: 'EISDIR' });
    return st.isFile();
  } catch (err) {
    await opened.close();
    throw ioError(err, 'cannot open the archive', name);
  }
}

