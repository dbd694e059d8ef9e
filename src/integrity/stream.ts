// Verification in one streaming pass (spec/manifest.md §8.3): for compressed tars, stdin, and as
// the fallback when the trailer or manifest cannot be used. The container's own reader checks the
// structure (header checksums, zip CRCs, gzip CRC, zstd frame checksums, the seek table); each
// entry's content digest is kept (path → digest, a few dozen bytes an entry) until the manifest
// arrives at the end, which is then checked line by line against what was read. A .tar.zst is read
// past a damaged frame (the salvaging decoder and reader of spec/portarc-1.md §6.8; frame-gaps.ts
// maps the offsets): each gap reported once, the members after it still checked.

import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { displayName, type Entry } from '../model/entry.js';
import { ArchiveError, PortarcError } from '../model/errors.js';
import { CompressError, GZIP_DIGEST_SIZE, decoderTakesReusedInput, SeekTable, ZSTD_DIGEST_MAGIC, ZSTD_DIGEST_SIZE, decompressor, fileReader, prefixReader, gzipDigestMember, peek, sniff, unsupportedFormat, zstdDigestFrame, type Filter, type ZstdSalvage } from '../compress/index.js';
import { FrameError, FrameWalker } from '../compress/frames.js';
import { OutputRing } from '../compress/backend.js';
import { STREAM_PIECE, streamRange } from '../compress/seektable.js';
import { GapError } from '../io/bytesource.js';
import { openSource, stable, type ArchiveSource } from '../io/source.js';
import { locatorAtEnd } from './par2/embedded.js';
import { TarReader, describeSkipped, whyNotTar, type SkippedRange } from '../tar/reader.js';
import { ZipStreamReader, isZip, openZip } from '../zip/index.js';
import { PX_COPIES_DIFFER, costsItsMember } from '../zip/file-reader.js';
import type { ArchiveInfo } from '../model/archive-info.js';
import type { Limits } from '../model/limits.js';
import { MANIFEST_FEATURE, MANIFEST_NAME, TRAILER_NAME, TRAILER_SIZE, TrailerError, decodeTrailer, manifestMajor, readManifest, type ManifestEntry, type ManifestFoot, type ManifestHead, type ManifestItem, type Trailer } from '../manifest/index.js';
import { tarTrailer } from './container.js';
import { digestBody } from './content.js';
import { DATA, DEND, DSHA, HFROM, HSHA, SHA256, SeenTable } from './seen.js';
import { LagDigest } from './tap.js';
import { FrameGaps } from './frame-gaps.js';
import type { Damage } from './report.js';
import { abortable } from '../model/abort.js';

/**
 * How much of the compressed stream's end is kept to cut the compressed-stream digest at (§7.1):
 * the digest frame and the seek table, 12 bytes a frame. From a file the table's size is read
 * first and exactly that is kept; from a stream, 1 MiB (the table of ~87,000 frames, ~350 GB of
 * tar); past that the digest is not checked, and a note says so.
 */
const COMPRESSED_LAG = 1 << 20;

/** The bytes a .tar.zst file's seek table and digest frame take at its end (undefined: no table). */
async function zstdTail(path: string, length?: number): Promise<number | undefined> {
  const { open } = await import('node:fs/promises');
  const fh = await open(path, 'r');
  try {
    const size = length ?? (await fh.stat()).size;
    if (size < 9) return undefined;
    const foot = Buffer.alloc(9);
    await fh.read(foot, 0, 9, size - 9);
    return digestedTail(foot);
  } finally {
    await fh.close();
  }
}


/** A salvaging read (a .tar.zst): the gaps the decoder left and the ranges the tar reader skipped. */
interface Salvaged {
  gaps: FrameGaps;
  skipped: readonly SkippedRange[];
}

export interface StreamOptions {
  /** Check entries against the manifest member when there is one (false: it was found damaged). */
  useManifest: boolean;
  /** The archive file, for the checks that need to seek (zip central directory, zstd seek table). */
  path?: string;
  /** What errors call the archive, when the source is a stream of something named (a URL's bytes). */
  name?: string;
  /** Read only this many bytes of the file: the archive before its embedded recovery data (spec/recovery.md §10). */
  length?: number;
  limits?: Partial<Limits>;
  /** Cancel before the next chunk (spec §8.6). */
  signal?: AbortSignal;
  /**
   * Read a seekable .tar.zst file's manifest through its seek table beside the stream (default
   * true); false: compare every entry when the stream reaches the manifest, as for a stream. Both
   * report the same damage (test/verify-property.test.ts holds them against each other).
   */
  ahead?: boolean;
}

export interface StreamResult {
  format: 'tar' | 'zip';
  compression: Filter;
  entries: number;
  info?: ArchiveInfo;
  /** The manifest was found and every entry was checked against it. */
  checkedContent: boolean;
  head?: ManifestHead;
  notes: string[];
  /** The manifest was read beside the stream (a seekable .tar.zst file), not when the stream reached it. */
  ahead?: boolean;
}

/** The head of a gzip stream: the part the decompressor never checks (spec/manifest.md §8.3). */
const GZIP_HEAD = 10;

export async function verifyStream(source: ArchiveSource, opts: StreamOptions, damaged: Damage[]): Promise<StreamResult> {
  const opened = openSource(source, { length: opts.length, name: opts.name });
  const notes: string[] = [];
  const res: StreamResult = { format: 'tar', compression: 'none', entries: 0, checkedContent: false, notes };
  try {
    // A whole first block (as openArchive looks at it): whether it starts a tar is said up front.
    const peeked = await peek(abortable(opened.bytes, opts.signal), 512);
    const rest = peeked.rest;
    // A copy: the source may read its next bytes into the same buffer, and the gzip header is
    // compared with the manifest's only at the end.
    const head = Buffer.from(peeked.head.subarray(0, Math.max(GZIP_HEAD, 512)));
    let members!: AsyncIterable<{ entry: Entry; offset: number; dataOffset?: number; body: AsyncIterable<Buffer> }>;
    let lag: LagDigest | undefined;
    let tarReader: TarReader | undefined;
    let zipReader: ZipStreamReader | undefined;
    let independent = false;
    /** The compressed bytes, for the compressed-stream digest (spec/manifest.md §7.1). */
    let clag: LagDigest | undefined;
    let tarStream: AsyncGenerator<Buffer> | undefined;
    const frames: { start: number; size: number; checksum?: number; content?: number }[] = [];
    /** The frames could not all be walked (damaged framing): the seek table is not compared frame by frame. */
    let walkerLost = false;
    let table: { table?: SeekTable; error?: CompressError } = {};
    let salvaged: Salvaged | undefined;
    try {
      if (isZip(head)) {
        res.format = 'zip';
        if (opts.path) {
          await opened.close();
          const zip = await openZip(opts.path, { archiveName: opened.name, limits: opts.limits });
          res.info = zip.info;
          // Its members are independent: one whose metadata or data cannot be read is damage, and the others are checked.
          independent = true;
          const unreadable = (err: ArchiveError, range: [number, number]) => damaged.push({ ...readerDamage(err, range[0]), range });
          members = (async function* () {
            try {
              for await (const e of zip.entries(unreadable)) yield { entry: e.entry, offset: e.offset, body: e.open() };
            } finally {
              await zip.close();
            }
          })();
        } else {
          const reader = new ZipStreamReader(stable(rest), { archiveName: opened.name, limits: opts.limits });
          res.info = reader.info;
          members = reader;
          zipReader = reader;
        }
      } else {
        const unsupported = unsupportedFormat(head);
        if (unsupported) throw new PortarcError(`the archive is ${unsupported}-compressed; portarc reads plain, gzip and zstd archives`, {}, 'PORTARC_BAD_ARCHIVE');
        res.compression = sniff(head);
        // Said as list and extract say it (empty, or what it starts with), not as tar damage.
        const wrong = res.compression === 'none' ? whyNotTar(head, opts.path ? 'file' : 'input') : undefined;
        if (wrong) throw new PortarcError(wrong, {}, 'PORTARC_BAD_ARCHIVE');
        let compressed: AsyncIterable<Buffer> = decoderTakesReusedInput(res.compression) ? (rest as AsyncIterable<Buffer>) : stable(rest);
        if (res.compression === 'zstd' && opts.path) {
          table = await readSeekTable(opts.path, opts.length);
          // Frame boundaries and checksums as they pass, to hold the seek table against.
          let w: FrameWalker | undefined = new FrameWalker();
          let open: { start: number; size: number; checksum?: number; content?: number } | undefined;
          const src = compressed;
          compressed = (async function* () {
            for await (const c of src) {
              try {
                for (const p of w?.split(c) ?? []) {
                  // Its header's Frame_Content_Size: what it decodes to (zstd fails a frame that does not).
                  if (p.first) frames.push((open = { start: p.frameStart, size: 0, content: w!.contentSize }));
                  open!.size = p.offset + p.data.length - open!.start;
                  if (p.last && p.checksum !== undefined) open!.checksum = p.checksum;
                }
              } catch (err) {
                // Damaged framing: the salvaging decoder reports it and finds the next frame.
                if (!(err instanceof FrameError)) throw err;
                w = undefined;
                walkerLost = true;
              }
              yield c;
            }
          })();
        }
        // zstd: a damaged frame costs that frame only, as in extract and list (spec §6.8): decoding
        // goes on at the next frame the seek table names (a file), else at the next frame magic.
        const salvage: ZstdSalvage | undefined = res.compression === 'zstd' ? { gaps: [], ...(table.table ? { table: table.table } : {}) } : undefined;
        if (res.compression !== 'none') {
          // Only its end is cut (the digest frame or member before the seek table): a short lag.
          const tail = res.compression === 'zstd' && opts.path ? await zstdTail(opts.path, opts.length) : undefined;
          clag = new LagDigest(tail === undefined ? COMPRESSED_LAG : tail + (64 << 10));
          compressed = clag.wrap(compressed);
        }
        lag = new LagDigest();
        const plain = res.compression === 'none' ? compressed : decompressor(res.compression, { reuseOutput: true, salvage })(compressed);
        // The salvaging decoder hands out a checked frame in pieces of 256 KiB (reuseOutput): the lag
        // copies what the reader is about to take, not a whole frame ahead of it (memory).
        tarStream = lag.wrap(plain as AsyncIterable<Buffer>);
        // Read to the end after the archive's end blocks: it is all read for the digests anyway, and what a
        // second archive appended with cat holds is decoded only when read (spec §4.7).
        // Past a damaged header too, in every tar (spec §6.8), as extract reads: each damaged place
        // is named, not only the first (a plain tar has no frames: its list of gaps stays empty).
        const gaps = salvage?.gaps ?? [];
        const reader = new TarReader(tarStream, { archiveName: opened.name, limits: opts.limits, readPastEnd: Infinity, salvage: true, gaps });
        salvaged = { gaps: new FrameGaps(gaps), skipped: reader.damaged };
        res.info = reader.info;
        members = reader;
        tarReader = reader;
      }
    } catch (err) {
      // The container cannot even be opened (a zip whose end records are gone...): that is damage too.
      if (!(err instanceof PortarcError)) throw err;
      damaged.push({ part: res.format === 'zip' ? 'central-directory' : 'archive', range: [err.details.offset ?? 0, err.details.offset ?? 0], what: err.reason });
      res.notes.push('the archive could not be opened: its entries could not be checked');
      return res;
    }
    // A seekable .tar.zst file: its manifest is read through the seek table beside the stream, and
    // each entry is compared once both have passed it: memory flat in the number of entries.
    const side = opts.useManifest && opts.ahead !== false && opts.path && table.table ? await sideManifest(opts.path, opts.length, table.table) : undefined;
    if (side) res.ahead = true;
    let complete: boolean;
    try {
      complete = await walk(members, res, opts, lag, head, damaged, salvaged, side, independent);
    } finally {
      await side?.close();
    }
    if (complete && clag && tarStream) {
      // Read to the end of the compressed stream: the digest is in its last bytes.
      try {
        for await (const _ of tarStream);
        checkStreamDigest(res, clag, damaged, salvaged?.gaps.found === true);
      } catch (err) {
        if (!(err instanceof PortarcError)) throw err;
        damaged.push({ part: 'compression', range: [lag!.position, lag!.position], compressedOffset: err instanceof CompressError ? err.compressedOffset : undefined, what: err.reason });
      }
    }
    // Cut short where a header was due, or something after the end that tar readers never read
    // (spec §4.7): neither is the archive as it was written.
    if (complete && tarReader?.missingEnd) damaged.push({ part: 'archive', range: [lag?.position ?? 0, lag?.position ?? 0], what: 'the archive ends without its end-of-archive blocks (cut short?): members after that may be missing' });
    if (complete && tarReader?.trailingAt !== undefined) damaged.push({ part: 'archive', range: [tarReader.trailingAt, tarReader.trailingAt], what: 'data follows the end of the archive, which tar readers do not read (another archive appended, as by cat?)' });
    if (complete && zipReader?.trailingAt !== undefined) damaged.push({ part: 'archive', range: [zipReader.trailingAt, zipReader.trailingAt], what: 'data follows the end of the archive, which zip readers do not read as this archive (another archive appended, as by cat?)' });
    // Damaged frames after the tar's end (the reader stopped at its end blocks): still damage.
    salvaged?.gaps.report(Infinity, damaged);
    if (table.error) damaged.push({ part: 'compression', range: [0, 0], compressedOffset: table.error.compressedOffset, what: table.error.reason });
    else if (table.table && !walkerLost && !damaged.some((d) => d.part === 'compression' && !salvaged?.gaps.reports(d))) checkSeekTable(table.table, frames, lag!.position, damaged, salvaged?.gaps);
  } finally {
    await opened.close();
  }
  return res;
}

type Members = AsyncIterable<{ entry: Entry; offset: number; dataOffset?: number; body: AsyncIterable<Buffer> }>;

/** Read every member, comparing it with the manifest; its records wait in a SeenTable (which may spill to a temporary file, removed here). */
async function walk(members: Members, res: StreamResult, opts: StreamOptions, lag: LagDigest | undefined, head: Buffer, damaged: Damage[], salvaged?: Salvaged, side?: SideManifest, independent = false): Promise<boolean> {
  const seen = new SeenTable();
  try {
    return await walkWith(seen, members, res, opts, lag, head, damaged, salvaged, side, independent);
  } finally {
    seen.close();
  }
}

async function walkWith(
  seen: SeenTable,
  members: Members,
  res: StreamResult,
  opts: StreamOptions,
  lag: LagDigest | undefined,
  head: Buffer,
  damaged: Damage[],
  salvaged?: Salvaged,
  side?: SideManifest,
  independent = false,
): Promise<boolean> {
  let lastOffset = 0;
  let lastName: string | undefined;
  let manifestAt = -1;
  // The range digests (§7) as the tar stream passes: an entry's header range is cut where its data
  // starts, its data range where the next member starts. Each is kept with the entry (checked
  // against its manifest line) and folded, in order, into the whole-archive digest of manifest 2.x.
  // (Manifest 1.x's digest is of the bytes; there every range is checked, which covers the same bytes.)
  const fold = createHash('sha256');
  let folded = lag !== undefined;
  let foldTaken = false;
  /** The record whose data range is open (its end not known yet), -1: none. */
  let dataOpen = -1;
  // Offsets are the reader's; the lag holds the decoded bytes, which lack what damaged zstd frames lost.
  const decoded = (t: number): number | undefined => (salvaged ? salvaged.gaps.decoded(t) : t);
  /** Where the lag's open range begins (tar offset); undefined past skipped damage: the next range starts afresh. */
  let rangeFrom: number | undefined = 0;
  /** The digest of [from, at) if the open range begins at `from` (else undefined); the next range begins at `at`. */
  const cut = (from: number | undefined, at: number): string | undefined => {
    const l = decoded(at);
    const d = l === undefined ? undefined : lag?.cut(l);
    const ok = from !== undefined && from === rangeFrom;
    rangeFrom = d === undefined ? undefined : at;
    return ok ? d : undefined;
  };
  const cutRange = (from: number | undefined, at: number): string | undefined => {
    const d = cut(from, at);
    if (d === undefined) folded = false;
    // Past the manifest (members appended after it, tar -r): the whole-archive digest is taken.
    else if (!foldTaken) fold.update(Buffer.from(d, 'hex'));
    return d;
  };
  const closeData = (at: number) => {
    const data = dataOpen < 0 ? undefined : seen.get(dataOpen, DATA);
    if (data !== undefined && data < at) {
      seen.setDigest(dataOpen, DSHA, cutRange(data, at));
      seen.set(dataOpen, DEND, at);
    }
    dataOpen = -1;
  };
  /**
   * A member's data (the manifest's too): what was read will never be cut before, so it is hashed
   * as it goes (memory: the read-ahead). Its decoded offset is the reader's less the bytes lost
   * before it (none inside a member).
   */
  const bodyOf = (m: { dataOffset?: number; body: AsyncIterable<Buffer> }): AsyncIterable<Buffer> => {
    if (!lag || m.dataOffset === undefined) return m.body;
    let read = m.dataOffset;
    const lost = read - (decoded(read) ?? read);
    return consumed(m.body, (n) => lag.hashUpTo((read += n) - lost));
  };
  /** A member (or the manifest) after skipped damage: its range starts at its first byte. */
  const restart = (at: number) => {
    if (rangeFrom === undefined) cut(undefined, at);
  };
  // Past damage (a salvaging read of a .tar.zst): each damaged frame once, the member it cut by
  // name, a damaged header; the ranges around the bytes skipped are not compared (they hold them).
  let skips = 0;
  let cutMember = -1;
  const skippedAt: [number, number][] = [];
  const afterSkips = (upTo: number) => {
    if (!salvaged) return;
    const { gaps, skipped } = salvaged;
    for (; skips < skipped.length; skips++) {
      const s = skipped[skips]!;
      gaps.report(s.range[1], damaged);
      if (s.compressed === undefined) damaged.push({ part: 'archive', path: s.path, range: s.range, what: describeSkipped(s) });
      else if (s.entry !== undefined) damaged.push({ part: 'content', path: s.entry, range: [(cutMember < 0 ? undefined : seen.get(cutMember, DATA)) ?? s.range[0], s.range[1]], what: `its data runs into the tar bytes lost to the damaged zstd frame at compressed offset ${s.compressed[0]}; the reading went on at the next header` });
      if (gaps.inexactFrom(s.range[1]) === undefined) skippedAt.push(s.range);
      // The range open before the skip ends where it begins: compared only if the manifest ends it there too.
      if (dataOpen !== cutMember) closeData(s.range[0]);
      dataOpen = cutMember = -1;
      rangeFrom = undefined;
      folded = false;
    }
    gaps.report(upTo, damaged);
  };
  // The manifest read beside the stream (side): a line is compared once the stream has passed its
  // end (the member's data range is closed then). What it finds is reported at the manifest
  // member, as compare() reports it; read as a stream, the lines come at the end.
  const ahead: Ahead | undefined = side ? { found: [], prev: 0, done: false } : undefined;
  if (side) res.head = side.head;
  const advance = async (upTo: number): Promise<void> => {
    const a = ahead!;
    while (!a.done && !a.error) {
      if (!a.line) {
        let r: IteratorResult<ManifestItem>;
        try {
          r = await side!.items.next();
        } catch (err) {
          if (!(err instanceof PortarcError)) throw err;
          a.error = err;
          break;
        }
        if (r.done) a.done = true;
        else if (r.value.kind === 'entry') a.line = r.value.entry;
        else if (r.value.kind === 'foot') a.foot = r.value.foot;
        continue;
      }
      if (a.line.end > upTo) break;
      checkEntry(a.line, seen, a.prev, a.found, skippedAt);
      a.prev = a.line.end;
      a.line = undefined;
    }
  };
  let archiveSha: string | undefined;
  let xmlSha: string | undefined;
  let memberSha: string | undefined;
  let trailer: Trailer | undefined;
  let manifestOk = false;
  let reachedEnd = false;
  try {
    for await (const m of members) {
      afterSkips(m.offset);
      const { entry } = m;
      lastOffset = m.offset;
      lastName = entry.name;
      // What list and extract warn of (an unknown type flag read as a file, say) is no damage, but
      // not passed over in silence either: a note, the exit code unchanged.
      for (const w of entry.warnings) if (!w.startsWith(PX_COPIES_DIFFER)) res.notes.push(`${entry.name}: ${w} (list and extract warn of it)`);
      // A zip member without data whose two copies of portarc metadata differ (a member with data
      // fails on it when read): damage to its header, which extraction restores as a warning.
      if (res.format === 'zip' && entry.warnings.some((w) => w.startsWith(PX_COPIES_DIFFER))) damaged.push({ part: 'header', path: entry.name, range: [m.offset, m.offset], what: PX_COPIES_DIFFER });
      // The first zstd frame lost takes the global header that declares the manifest with it: the
      // manifest is then known by its name.
      const declared = (res.info?.features.compat.includes(MANIFEST_FEATURE) ?? false) || salvaged?.gaps.gaps[0]?.at === 0;
      const p = entry.path.toString('latin1');
      if (declared && p === MANIFEST_NAME && manifestAt < 0) {
        manifestAt = m.offset;
        closeData(m.offset);
        archiveSha = folded ? fold.digest('hex') : undefined;
        foldTaken = true;
        restart(m.offset);
        const h = createHash('sha256');
        let whole = true;
        // Hashed into the open range as it is read, like a member's data: a manifest of 16 MiB
        // (50,000 entries) waited whole in the lag until the trailer's cut.
        const body = bodyOf(m);
        async function* tee(): AsyncGenerator<Buffer> {
          try {
            for await (const c of body) {
              h.update(c);
              yield c;
            }
          } catch (err) {
            if (err instanceof GapError) whole = false;
            throw err;
          }
        }
        const exact = salvaged?.gaps.inexactFrom(m.offset) === undefined;
        if (ahead) {
          await advance(Infinity);
          await drained(tee());
          manifestOk = settle(ahead, res, archiveSha, m.offset, damaged, exact);
        } else if (opts.useManifest) manifestOk = await compare(tee(), seen, res, archiveSha, m.offset, damaged, { exact, skipped: skippedAt });
        else await drained(tee());
        xmlSha = whole ? h.digest('hex') : undefined;
        continue;
      }
      if (declared && p === TRAILER_NAME && manifestAt >= 0) {
        memberSha = cut(rangeFrom, m.offset);
        const chunks: Buffer[] = [];
        const kept = (async function* () {
          for await (const c of m.body) yield chunks.push(Buffer.from(c));
        })();
        if (!(await drained(kept))) {
          damaged.push({ part: 'trailer', range: [m.offset, m.offset], what: 'the trailer runs into the tar bytes lost to a damaged zstd frame' });
          continue;
        }
        try {
          trailer = decodeTrailer(Buffer.concat(chunks));
        } catch (err) {
          if (!(err instanceof TrailerError)) throw err;
          damaged.push({ part: 'trailer', range: [m.offset, m.offset + 512 + TRAILER_SIZE], what: err.message });
        }
        continue;
      }
      res.entries++;
      // Its record is added now (the data range's digest is set when the next member starts).
      const rec = seen.add(p, entry.type, entry.size, m.offset, entry.linkTarget, salvaged?.gaps.inexactFrom(m.offset) !== undefined);
      if (lag && m.dataOffset !== undefined) {
        closeData(m.offset);
        restart(m.offset);
        seen.set(rec, DATA, m.dataOffset);
        seen.set(rec, HFROM, rangeFrom);
        seen.setDigest(rec, HSHA, cutRange(rangeFrom, m.dataOffset));
        dataOpen = rec;
      }
      // The members before this one are complete: their lines can be compared.
      if (ahead) await advance(m.offset);
      const body = bodyOf(m);
      let whole: boolean;
      try {
        if (entry.type === 'file') {
          const d = digestBody(entry, body);
          whole = await drained(d.body as AsyncIterable<Buffer>);
          if (whole) seen.setDigest(rec, SHA256, d.digest());
        } else whole = await drained(body);
      } catch (err) {
        // A zip file's member that cannot be read (a method or encryption this reader lacks, damage)
        // costs that member: named, its content not compared, and the others checked.
        if (!(independent && costsItsMember(err) && err.details.entry !== undefined)) throw err;
        damaged.push(readerDamage(err, err.details.offset ?? m.offset));
        seen.setLost(rec);
        continue;
      }
      // Its data ran into bytes lost to a damaged zstd frame: the reader names it (afterSkips).
      if (!whole) {
        seen.setLost(rec);
        cutMember = rec;
      }
    }
    reachedEnd = true;
  } catch (err) {
    if (!(err instanceof PortarcError)) throw err;
    const at = err.details.offset ?? lastOffset;
    if (err instanceof CompressError) {
      damaged.push({ part: 'compression', path: lastName, range: [lastOffset, lastOffset], compressedOffset: err.compressedOffset, what: `${err.reason}${lastName ? ` (while reading "${lastName}" and what follows)` : ''}` });
    } else {
      damaged.push(readerDamage(err, at));
    }
    // Past the end blocks (bytes after a .tar.gz's last member that are no gzip data): every
    // member was read; only what follows the archive was not.
    const ended = members instanceof TarReader ? members.endAt : undefined;
    res.notes.push(ended !== undefined ? `reading stopped after the end of the archive (offset ${ended}): every entry in it was read` : `reading stopped at offset ${at}: entries after it could not be checked`);
  }
  afterSkips(Infinity);
  const declared = (res.info?.features.compat.includes(MANIFEST_FEATURE) ?? false) || manifestAt >= 0;
  // After a damaged zstd frame of unknown size, the reader's offsets are not the archive's.
  const inexact = salvaged?.gaps.inexactFrom();
  const manifestExact = inexact === undefined || manifestAt < inexact;
  if (reachedEnd && declared && manifestAt < 0) damaged.push({ part: 'manifest', range: [lastOffset, lastOffset], what: skips > 0 ? 'the archive declares a manifest, but none was read: it may lie in the bytes skipped past damage' : 'the archive declares a manifest but has none' });
  if (reachedEnd && declared && manifestAt >= 0 && res.format === 'tar' && !trailer && !damaged.some((d) => d.part === 'trailer'))
    damaged.push({ part: 'trailer', range: [manifestAt, manifestAt], what: 'no trailer after the manifest' });
  // When the trailer was already checked range by range (the fallback), it is not reported twice.
  if (trailer && xmlSha !== undefined && opts.useManifest) {
    const t = trailer;
    if (manifestExact && t.manifestOffset !== manifestAt) damaged.push({ part: 'trailer', range: [manifestAt, manifestAt], what: `the trailer places the manifest at ${t.manifestOffset}, but it is at ${manifestAt}` });
    if (t.manifestSha256 !== xmlSha) damaged.push({ part: 'manifest', range: [t.manifestData, t.manifestData + t.manifestSize], what: 'the manifest does not match its digest in the trailer' });
    if (t.version >= 2 && archiveSha !== undefined && t.archiveSha256 !== archiveSha && !damaged.length) damaged.push({ part: 'archive', range: [0, manifestAt], what: 'the whole-archive digest does not match' });
    if (memberSha !== undefined && t.memberSha256 !== memberSha) damaged.push({ part: 'manifest', range: [t.manifestOffset, t.manifestEnd], what: "the manifest member's header does not match its digest" });
  }
  if (res.compression === 'gzip' && res.head?.gzipHeader && res.head.gzipHeader !== head.subarray(0, GZIP_HEAD).toString('hex')) {
    damaged.push({ part: 'compression', range: [0, 0], compressedOffset: 0, what: `the gzip header (${head.subarray(0, GZIP_HEAD).toString('hex')}) is not the one written (${res.head.gzipHeader})` });
  }
  res.checkedContent = manifestOk;
  if (skips > 0 && manifestOk) res.notes.push('the reading went on past damage at the next header: the bytes skipped, and the ranges and the whole-archive digest that hold them, could not be checked');
  else if (manifestOk && res.format === 'tar' && !folded) res.notes.push('the header and data ranges could not all be checked (the reader got too far ahead of the digests)');
  if (inexact !== undefined)
    res.notes.push(`a damaged zstd frame lost an unknown number of tar bytes at offset ${inexact} (read as a stream, without the seek table): the offsets after it could not be compared with the manifest; the entries after it were checked by their contents and range digests`);
  if (manifestOk && res.format === 'zip' && !opts.path) res.notes.push('read as a stream: the zip headers were checked by the zip reader and the contents by their digests, but the whole-archive digest, the central directory and the trailer were not (verify the file itself for those)');
  if (!declared) res.notes.push('no manifest: the structure was checked (headers, checksums, CRCs, compression frames), but contents could not be checked against digests');
  else if (!manifestOk) res.notes.push('the manifest could not be used: contents were not checked against digests');
  // What the manifest did not claim.
  if (manifestOk) {
    for (const [p, s] of seen.rest()) damaged.push({ part: 'extra', path: displayName(Buffer.from(p, 'latin1')), range: [s.offset, s.offset], what: 'entry is in the archive but not in the manifest' });
  }
  return reachedEnd;
}

/** Read `body` to its end: false when its bytes ran into a gap a damaged zstd frame left (the tar reader reports it and goes on). */
async function drained(body: AsyncIterable<unknown>): Promise<boolean> {
  try {
    for await (const _ of body);
    return true;
  } catch (err) {
    if (err instanceof GapError) return false;
    throw err;
  }
}

/**
 * The compressed-stream digest (spec/manifest.md §7.1): the gzip digest member or zstd digest
 * frame, byte for byte, holding the SHA-256 of every compressed byte before it. Required when the
 * manifest says the archive was compressed by its writer; checked whenever it is there.
 */
function checkStreamDigest(res: StreamResult, clag: LagDigest, damaged: Damage[], framesLost: boolean): void {
  const size = clag.position;
  const required = res.head?.compression === res.compression;
  const bad = (at: number, what: string) => {
    // Damaged frames were reported each on its own line: that the digest of the compressed bytes
    // then fails too says nothing more.
    if (framesLost) res.notes.push(`compressed offset ${at}: ${what}, as expected after the damaged zstd frames reported`);
    else damaged.push({ part: 'compression', range: [0, 0], compressedOffset: at, what });
  };
  // Embedded recovery data after the archive (spec/recovery.md §10), read without seeking: the
  // digest lies before it, out of reach of the lag kept here. Verifying the file checks both.
  const loc = res.compression === 'gzip' || res.compression === 'zstd' ? locatorAtEnd(clag.tail(), res.compression) : undefined;
  if (loc && loc.archiveLength + loc.regionLength + loc.tailLength === size) {
    res.notes.push(`embedded recovery data follows the archive (${loc.regionLength + loc.tailLength} bytes from offset ${loc.archiveLength}): read as a stream, the compressed-stream digest and the recovery data were not checked (verify the file for those)`);
    return;
  }
  if (res.compression === 'gzip') {
    const at = size - GZIP_DIGEST_SIZE;
    const tail = clag.tail().subarray(-GZIP_DIGEST_SIZE);
    const present = tail.length === GZIP_DIGEST_SIZE && tail.readUInt32BE(0) === 0x1f8b0812;
    if (!present) return void (required && bad(Math.max(0, at), 'the gzip stream does not end with its digest member (damaged, or recompressed by another program)'));
    const d = clag.cut(at);
    if (d === undefined) res.notes.push('the compressed-stream digest could not be checked');
    else if (!gzipDigestMember(d).equals(clag.tail())) bad(at, 'the compressed bytes do not match the digest at the end of the gzip stream');
  } else if (res.compression === 'zstd') {
    const all = clag.tail();
    const foot = all.subarray(-9);
    const tail = digestedTail(foot);
    const at = tail === undefined ? -1 : size - tail;
    const rel = at - (size - all.length);
    const present = at >= 0 && rel >= 0 && rel + 8 <= all.length && all.readUInt32LE(rel) === ZSTD_DIGEST_MAGIC;
    if (tail === undefined) return void (required && bad(Math.max(0, size - 9), 'the zstd stream does not end with a seek table, where its writer put the compressed-stream digest (damaged, or recompressed by another program)'));
    if (!present) return void (required && bad(Math.max(0, at), 'the zstd stream has no digest frame before its seek table (damaged, or recompressed by another program)'));
    const d = clag.cut(at);
    if (d === undefined) res.notes.push(`the compressed-stream digest could not be checked (a seek table of over ${COMPRESSED_LAG >> 20} MiB, read as a stream)`);
    else if (!zstdDigestFrame(d).equals(clag.tail().subarray(0, ZSTD_DIGEST_SIZE))) bad(at, 'the compressed bytes do not match the digest frame before the zstd seek table');
  }
}

/** The seekable format's footer magic (compress/seekable.ts). */
const SEEKABLE_FOOTER_MAGIC = 0x8f92eab1;

/** From a seek table's 9-byte footer: the bytes of the digest frame and the seek table it ends (undefined: no table). */
function digestedTail(foot: Buffer): number | undefined {
  if (foot.length !== 9 || foot.readUInt32LE(5) !== SEEKABLE_FOOTER_MAGIC) return undefined;
  return ZSTD_DIGEST_SIZE + 8 + foot.readUInt32LE(0) * (foot[4]! & 0x80 ? 12 : 8) + 9;
}

/** A reader's error as damage: in the manifest, or in an entry's data (CRC, checksum, truncated data) or headers. */
function readerDamage(err: PortarcError, at: number): Damage {
  const entry = err.details.entry;
  if (entry === MANIFEST_NAME || entry === TRAILER_NAME) return { part: entry === MANIFEST_NAME ? 'manifest' : 'trailer', range: [at, at], what: err.reason };
  if (!entry) return { part: 'archive', range: [at, at], what: err.reason };
  // (Not supported, a method or encryption: the header was read, the content cannot be.)
  const content = err.code === 'PORTARC_DAMAGED' || err.code === 'PORTARC_UNSUPPORTED' || /CRC-32 mismatch|bytes of data missing|decompress|inflate|checksum mismatch/i.test(err.reason);
  return { part: content ? 'content' : 'header', path: entry, range: [at, at], what: err.reason };
}

/** The chunks of `body`, telling `onRead` each one's length once the consumer asks for the next. */
async function* consumed(body: AsyncIterable<Buffer>, onRead: (n: number) => void): AsyncGenerator<Buffer> {
  for await (const c of body) {
    yield c;
    onRead(c.length);
  }
}

/** How far the offsets can be compared: `exact` false after a damaged zstd frame of unknown size; `skipped`, the ranges (exact offsets) the reader skipped past damage. */
interface Placing {
  exact: boolean;
  skipped: readonly [number, number][];
}

/** A .tar.zst file's manifest, read through its seek table: its head, and the items after it. */
interface SideManifest {
  head: ManifestHead;
  items: AsyncIterator<ManifestItem>;
  close(): Promise<void>;
}

/** The comparison of a manifest read beside the stream, as it goes. */
interface Ahead {
  /** The next line, read and not yet compared. */
  line?: ManifestEntry;
  prev: number;
  found: Damage[];
  foot?: ManifestFoot;
  done: boolean;
  error?: PortarcError;
}

/**
 * The manifest of a seekable .tar.zst file, found through its trailer and read through the seek
 * table, when it can be used: its bytes match the trailer's digest and its version is one this
 * reader knows. Otherwise undefined: the manifest is then compared when the stream reaches it,
 * and whatever is wrong is reported from there. Its memory: a zstd decoder (a frame's window),
 * a piece of compressed bytes and a ring of output buffers, all its own.
 */
async function sideManifest(path: string, length: number | undefined, table: SeekTable): Promise<SideManifest | undefined> {
  const { open } = await import('node:fs/promises');
  const fh = await open(path, 'r');
  let items: AsyncIterator<ManifestItem> | undefined;
  let kept = false;
  try {
    // Each piece is decoded before the next is read (streamRange): one buffer takes them all.
    const file = fileReader(fh, Buffer.allocUnsafe(STREAM_PIECE));
    const reader = length === undefined ? file : prefixReader(file, length);
    const ring = new OutputRing();
    const range = (s: number, n: number) => streamRange(reader, table, s, n, { ring });
    const found = await tarTrailer({ size: table.decompressedSize, range });
    if (typeof found === 'string') return undefined;
    const t = found.trailer;
    if (!(t.manifestOffset <= t.manifestData && t.manifestData + t.manifestSize <= t.manifestEnd && t.manifestEnd <= found.at)) return undefined;
    // Checked whole before a line is compared (the manifest is decoded twice): a record taken
    // early cannot be given back when a later part of the manifest turns out damaged.
    const hash = createHash('sha256');
    for await (const c of range(t.manifestData, t.manifestSize)) hash.update(c);
    if (hash.digest('hex') !== t.manifestSha256) return undefined;
    const it = (items = readManifest(range(t.manifestData, t.manifestSize))[Symbol.asyncIterator]());
    const first = await it.next();
    if (first.done || first.value.kind !== 'head') return undefined;
    kept = true;
    return {
      head: first.value.head,
      items: it,
      close: async () => {
        await it.return?.(undefined);
        await fh.close();
      },
    };
  } catch (err) {
    // Damaged frames, trailer or manifest, a version not known: the stream's way reports them.
    if (!(err instanceof PortarcError)) throw err;
    return undefined;
  } finally {
    if (!kept) {
      await items?.return?.(undefined).catch(() => undefined);
      await fh.close();
    }
  }
}

/** The manifest read beside the stream, at its member: the foot checked and what was found reported, as compare() does. */
function settle(a: Ahead, res: StreamResult, archiveSha: string | undefined, manifestAt: number, damaged: Damage[], exact: boolean): boolean {
  if (a.error) return unusable(a.error, res, manifestAt, damaged);
  if (a.foot && exact) checkFoot(a.foot, res, archiveSha, manifestAt, a.found);
  for (const d of a.found) damaged.push(d); // (not push(...found): 100,000 arguments overflow the stack)
  return a.done;
}

/** The manifest's foot against the stream: the bytes before the manifest, and the whole-archive digest. */
function checkFoot(f: ManifestFoot, res: StreamResult, archiveSha: string | undefined, manifestAt: number, found: Damage[]): void {
  if (f.bytes !== manifestAt) found.push({ part: 'manifest', range: [manifestAt, manifestAt], what: `the manifest says ${f.bytes} bytes precede it, but it is at ${manifestAt}` });
  // Every range matched: then so does their digest (a manifest 2.x's); damage already named explains it too.
  else if (res.head && manifestMajor(res.head.version) >= 2 && archiveSha !== undefined && f.sha256 !== archiveSha && !found.length) found.push({ part: 'archive', range: [0, manifestAt], what: 'the range digests do not add up to the whole-archive digest' });
}

/** Check each manifest line against the entries read before it; returns whether the manifest was usable. */
async function compare(xml: AsyncIterable<Buffer>, seen: SeenTable, res: StreamResult, archiveSha: string | undefined, manifestAt: number, damaged: Damage[], placing: Placing = { exact: true, skipped: [] }): Promise<boolean> {
  let prev = 0;
  const found: Damage[] = [];
  try {
    for await (const item of readManifest(xml)) {
      if (item.kind === 'head') res.head = item.head;
      else if (item.kind === 'entry') {
        const e = item.entry;
        checkEntry(e, seen, prev, found, placing.skipped);
        prev = e.end;
      } else if (placing.exact) checkFoot(item.foot, res, archiveSha, manifestAt, found);
    }
  } catch (err) {
    if (!(err instanceof PortarcError)) throw err;
    return unusable(err, res, manifestAt, damaged);
  }
  for (const d of found) damaged.push(d); // (not push(...found): 100,000 arguments overflow the stack)
  return true;
}

/** Why the manifest could not be read to its end: a version not known (a note), else damage. Returns false (not usable). */
function unusable(err: PortarcError, res: StreamResult, manifestAt: number, damaged: Damage[]): false {
  if (err instanceof GapError) damaged.push({ part: 'manifest', range: [manifestAt, manifestAt], what: 'the manifest runs into the tar bytes lost to a damaged zstd frame: the entries could not be checked against it' });
  else if (err.code === 'PORTARC_UNSUPPORTED') res.notes.push(err.reason);
  else damaged.push({ part: 'manifest', range: [manifestAt, manifestAt], what: err.reason });
  return false;
}

function checkEntry(e: ManifestEntry, seen: SeenTable, prev: number, found: Damage[], skipped: readonly [number, number][]): void {
  const p = e.path.toString('latin1');
  const path = displayName(e.path);
  const s = seen.take(p);
  if (!s) {
    const gone = skipped.find(([a, b]) => e.offset >= a && e.offset < b);
    found.push({ part: 'missing', path, range: [e.offset, e.end], what: gone ? `listed in the manifest; its header was in the bytes skipped past damage (${gone[0]}–${gone[1]})` : 'listed in the manifest but not in the archive' });
    return;
  }
  const header = (what: string) => found.push({ part: 'header', path, range: [prev, e.data], what });
  // A range is compared only when it was measured from where the manifest has it begin and end
  // (past skipped damage it starts at the member's first byte, and one cut short is not compared).
  const sameHeaderRange = s.hfrom !== undefined && s.hfrom - s.offset === prev - e.offset;
  const sameDataRange = s.dend !== undefined && s.data !== undefined && s.dend - s.data === e.end - e.data;
  if (s.type !== e.type) header(`type is ${s.type}, the manifest says ${e.type}`);
  else if (!s.inexact && s.offset !== e.offset) header(`member is at offset ${s.offset}, the manifest says ${e.offset}`);
  else if (e.type === 'file' && s.size !== e.size) header(`size is ${s.size}, the manifest says ${e.size}`);
  else if (e.link && !(s.link && s.link.equals(e.link))) header('link target differs from the manifest');
  else if (!s.inexact && s.data !== undefined && s.data !== e.data) header(`data starts at ${s.data}, the manifest says ${e.data}`);
  else if (s.hsha !== undefined && sameHeaderRange && s.hsha !== e.headerSha256) header('header bytes do not match their digest');
  // Its data was lost to a damaged zstd frame: reported with the frame.
  else if (s.lost) return;
  else if (e.type === 'file' && e.sha256 && s.sha256 !== e.sha256) found.push({ part: 'content', path, range: [e.data, e.end], what: 'content does not match its SHA-256 in the manifest' });
  else if (e.end > e.data && s.dsha !== undefined && sameDataRange && s.dsha !== e.dataSha256) found.push({ part: 'content', path, range: [e.data, e.end], what: 'stored data (its padding) does not match its digest' });
}

/** The seek table of a .tar.zst file: none (a plain .tar.zst), or why it cannot be read. */
async function readSeekTable(path: string, length?: number): Promise<{ table?: SeekTable; error?: CompressError }> {
  const { open } = await import('node:fs/promises');
  const fh: FileHandle = await open(path, 'r');
  try {
    // With embedded recovery data, the archive's own table ends at `length`: the copy at the
    // file's end is found only through an intact last locator (spec/recovery.md §10.4).
    const table = await SeekTable.read(length === undefined ? fileReader(fh) : prefixReader(fileReader(fh), length));
    return table ? { table } : {};
  } catch (err) {
    if (!(err instanceof CompressError)) throw err;
    return { error: err };
  } finally {
    await fh.close();
  }
}

/**
 * Hold the seek table of a .tar.zst file against the frames that were read. Past damaged frames
 * (`gaps`): their own entries are not compared (the frame is reported), and where each damaged
 * frame begins in the decoded stream is (the table's sizes of the frames before it).
 */
function checkSeekTable(table: SeekTable, frames: { start: number; size: number; checksum?: number; content?: number }[], decompressed: number, damaged: Damage[], gaps?: FrameGaps): void {
  const bad = (i: number, what: string) => damaged.push({ part: 'compression', range: [0, 0], compressedOffset: frames[i]?.start ?? 0, what: `zstd seek table, frame ${i}: ${what}` });
  if (table.frames !== frames.length) return void bad(0, `${table.frames} frames listed, ${frames.length} read`);
  const lost = gaps?.gaps ?? [];
  if (!lost.length && table.decompressedSize !== decompressed) return void bad(0, `frames decompress to ${decompressed} bytes, the table says ${table.decompressedSize}`);
  for (let g = 0; g < lost.length; g++) {
    const at = gaps!.start(g);
    const i = lost[g]!.frame;
    if (gaps!.inexactFrom(at) !== undefined || i >= table.frames) break;
    if (table.frame(i).decompressedOffset !== at) return void bad(i, `it starts at tar offset ${table.frame(i).decompressedOffset} in the table, but the frames before it decompress to ${at} bytes: the table is damaged, and was not followed past that frame`);
  }
  for (let i = 0; i < frames.length; i++) {
    const f = table.frame(i);
    if (lost.some((g) => frames[i]!.start >= g.compressed[0] && frames[i]!.start < g.compressed[1])) continue;
    if (f.compressedOffset !== frames[i]!.start || f.compressedSize !== frames[i]!.size) bad(i, `compressed size ${f.compressedSize} in the table, ${frames[i]!.size} read`);
    else if (f.checksum !== undefined && frames[i]!.checksum !== undefined && f.checksum !== frames[i]!.checksum) bad(i, 'checksum in the table differs from the frame');
    // Sizes moved between frames keep the total: random access would then place members wrongly.
    else if (frames[i]!.content !== undefined && f.decompressedSize !== frames[i]!.content) bad(i, `decompressed size ${f.decompressedSize} in the table, ${frames[i]!.content} in the frame`);
  }
}
