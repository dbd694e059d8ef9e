// Streaming tar reader: ustar, pax (x and g), GNU (L/K long names, base-256, S sparse, D dumpdir)
// and v7 headers, yielding one Entry at a time with its content as a stream.
// Spec: spec/portarc-1.md §4 (container) and §6 (reader rules).

import { ArchiveError, LimitError, UnsupportedFeatureError } from '../model/errors.js';
import { DEFAULT_LIMITS, type Limits } from '../model/limits.js';
import { displayName, makeEntry, type Entry, type EntryType, type SparseRun } from '../model/entry.js';
import { ByteSource, GapError } from '../io/bytesource.js';
import { bufferBody } from '../io/body.js';
import { describeGap, type FrameGap } from '../compress/salvage.js';
import { BLOCK, HeaderError, TYPE, decodeHeader, isZeroBlock, readSparseRuns, type RawHeader } from './header.js';
import { FieldError, readNumber } from './numbers.js';
import { LOCATOR_PACKET, MAGIC as PAR2_MAGIC, regionEnd } from '../integrity/par2/packets.js';
import { PaxError, parsePaxRecords, type PaxRecord } from './pax.js';
import { applyPaxRecord, finishPax, newPaxState } from './paxmap.js';
import { applyGlobalRecords, newArchiveInfo, type ArchiveInfo } from './version.js';

export interface TarReaderOptions {
  /** Name used in error messages (a file name, or "-" for stdin). */
  archiveName?: string;
  /** Bounds on headers, entries and xattrs (a lying size must not allocate). */
  limits?: Partial<Limits>;
  /**
   * Go on past a damaged header (spec §6.8): scan forward block by block to the next valid header,
   * as GNU tar does ("Skipping to next header"), and report the skipped range in `damaged`.
   * Without it a damaged header ends the reading with an ArchiveError.
   */
  salvage?: boolean;
  /**
   * With `salvage`: the gaps a salvaging decompressor (compress/salvage.ts) leaves where a damaged
   * zstd frame was dropped. The reading goes on after each at the next valid header (spec §6.8).
   */
  gaps?: readonly FrameGap[];
  /**
   * Digest each member's header range (its first header block up to its data, before a GNU
   * sparse 1.0 map: the manifest's hsha256, spec/manifest.md §5) when this says so of the archive;
   * asked again after each global header. Off by default: it costs a SHA-256 per member.
   */
  digestHeaders?: (info: ArchiveInfo) => boolean;
  /**
   * How many bytes to read on after the end-of-archive blocks, looking for data that is not zeros
   * (spec §4.7: an archive appended with `cat`, say, which nothing reads). 0 (the default): only
   * what has arrived; Infinity: to the end of the input (a stream: GNU tar too reads a pipe to its
   * end; what a compressed stream appends arrives only as its frames are decoded).
   */
  readPastEnd?: number;
  /**
   * Read on past the end-of-archive blocks when a header follows them: archives concatenated with
   * `cat` are read as one, each member's `archiveStart` saying where its archive begins (GNU tar's
   * --ignore-zeros; spec §4.7). Lone zero blocks are passed over too.
   */
  ignoreZeros?: boolean;
  /**
   * The length of the input, when it is a plain tar file: data after embedded recovery data
   * (spec/recovery.md §10: its locator says where the region ends) is then seen without reading
   * the region.
   */
  inputLength?: number;
}

/** A place the salvaging reader skipped: a damaged header, up to the next valid header. */
export interface SkippedRange {
  /** The member's name as far as the damaged header still shows it (a guess), if any. */
  path?: string;
  what: string;
  /** Container bytes [start, end) skipped: the damaged header (and its x/L/K headers) and what followed. */
  range: [number, number];
  /** The member whose data was lost (its header was read: the name is sure), when damage hit its data. */
  entry?: string;
  /** Damaged zstd frames: the compressed bytes skipped. */
  compressed?: [number, number];
  /** Damaged zstd frames: the tar bytes lost, from `from`; `size` unknown without the seek table. */
  lost?: { from: number; size?: number };
  /** A zip file's member this reader cannot read (`what` says why): nothing was lost to damage. */
  unreadable?: boolean;
}

/** What a skipped range cost, in a line (the form extract and list report it in). */
export function describeSkipped(s: SkippedRange): string {
  if (s.unreadable) return s.what;
  if (s.entry !== undefined || s.compressed !== undefined) return `data lost: ${s.what}`;
  if (s.range[0] === s.range[1] && s.path === undefined) return s.what; // nothing skipped: said as it is
  return `header${s.path === undefined ? '' : ` of "${s.path}"?`}: ${s.what}`;
}

/** One member: its metadata, where its header starts, and its stored data. */
export interface TarMember {
  entry: Entry;
  /** Offset of the member's first header block (including any x/L/K headers before it). */
  offset: number;
  /** Where its stored data starts (after a GNU sparse 1.0 map): the end of its header range. */
  dataOffset: number;
  /**
   * The stored data: the file content, or for sparse members only the data runs, back to back
   * (entry.sparse says where each run goes). Read it or leave it: the reader skips what is left.
   */
  body: AsyncIterable<Buffer>;
  /** SHA-256 (hex) of the header range [offset, start of data), with `digestHeaders`. */
  headerSha256?: string;
  /** Where the archive holding it starts: 0, or after `ignoreZeros` passed an end (spec §4.7). */
  archiveStart: number;
}


const TYPE_OF: Record<number, EntryType> = {
  [TYPE.file]: 'file',
  0: 'file',
  [TYPE.contiguous]: 'file',
  [TYPE.hardlink]: 'hardlink',
  [TYPE.symlink]: 'symlink',
  [TYPE.chardev]: 'chardev',
  [TYPE.blockdev]: 'blockdev',
  [TYPE.directory]: 'directory',
  [TYPE.fifo]: 'fifo',
  [TYPE.gnuDumpDir]: 'directory',
  [TYPE.gnuSparse]: 'file',
};

const padding = (size: number) => (BLOCK - (size % BLOCK)) % BLOCK;
/** Members up to this size whose data is in the chunk at hand are handed out as one Buffer. */
const SMALL_BODY = 1 << 20;

export class TarReader implements AsyncIterable<TarMember> {
  /** Spec version, features and archive-level warnings, filled in as global headers are read. */
  readonly info: ArchiveInfo = newArchiveInfo();
  private src: ByteSource;
  private name: string;
  private maxHeader: number;
  private limits: Limits;
  private count = 0;
  private salvage: boolean;
  /** A header block found by resync(), read again by the next readHeaderBlock(). */
  private pending: { block: Buffer; at: number } | undefined;
  /** Set when the input ended where a header was expected, without end-of-archive blocks (§4.7). */
  missingEnd = false;
  /** Where data that is not zeros follows the end of the archive, unread (§4.7), if it does. */
  trailingAt: number | undefined;
  /** The offset of the end-of-archive blocks, once they were read (what fails after is past every member). */
  endAt: number | undefined;
  /** What salvage skipped (spec §6.8), in archive order; complete once iteration has ended. */
  readonly damaged: SkippedRange[] = [];
  private wantDigests: ((info: ArchiveInfo) => boolean) | undefined;
  /** Digest the header ranges of the members from here on (see TarReaderOptions.digestHeaders). */
  private digesting = false;
  private readPastEnd: number;
  private ignoreZeros: boolean;
  private inputLength: number | undefined;
  /** Where the archive being read starts (ignoreZeros reads several). */
  private archiveStart = 0;
  /** Set by nextArchive(): the pax global records so far belong to the archive before. */
  private newArchive = false;
  /** A GNU dumpdir was met (its notice is given once). */
  private dumpDirSaid = false;

  constructor(source: AsyncIterable<Buffer | Uint8Array>, opts: TarReaderOptions = {}) {
    this.src = new ByteSource(source, opts.salvage ? opts.gaps : undefined);
    this.name = opts.archiveName ?? 'archive';
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.maxHeader = this.limits.headerBytes;
    this.salvage = opts.salvage === true;
    this.wantDigests = opts.digestHeaders;
    this.digesting = this.wantDigests?.(this.info) === true;
    this.readPastEnd = opts.readPastEnd ?? 0;
    this.ignoreZeros = opts.ignoreZeros === true;
    this.inputLength = opts.inputLength;
  }

  private fail(reason: string, offset: number, entry?: string, code?: 'PORTARC_LIMIT' | 'PORTARC_UNSUPPORTED'): never {
    if (code === 'PORTARC_UNSUPPORTED') throw new UnsupportedFeatureError(reason, { archive: this.name, entry, offset });
    if (code) throw new LimitError(reason, { archive: this.name, entry, offset });
    throw new ArchiveError(reason, { archive: this.name, entry, offset });
  }

  private async readHeaderBlock(): Promise<{ block: Buffer; at: number } | undefined> {
    if (this.pending) {
      const got = this.pending;
      this.pending = undefined;
      return got;
    }
    const at = this.src.position;
    const block = await this.src.read(BLOCK);
    if (block.length === 0) return undefined;
    if (block.length < BLOCK) this.fail('archive is truncated inside a header block', at);
    return { block, at };
  }

  /**
   * Data of an extension header (x, g, L, K), bounded in size: a copy. Its records are kept until
   * the member's own header is read, and the input may reuse a chunk's memory once the one after
   * next is asked for (src/io/source.ts): a pipe written a few bytes at a time gives chunks that
   * small, and a view's bytes were another header's by then (wrong names, exit 0).
   */
  private async readExtension(h: RawHeader, at: number): Promise<Buffer> {
    const now = this.extensionNow(h, at);
    return now ? Buffer.from(now) : this.readExtensionAsync(h, at);
  }

  /** readExtension() when the bytes are at hand (most are: no promise), else undefined. */
  private extensionNow(h: RawHeader, at: number): Buffer | undefined {
    if (h.size > this.maxHeader) {
      this.fail(`extension header of ${h.size} bytes exceeds the limit of ${this.maxHeader} (limit "headerBytes")`, at, undefined, 'PORTARC_LIMIT');
    }
    const pad = padding(h.size);
    const data = this.src.readNow(h.size + pad);
    return data?.subarray(0, h.size);
  }

  /** The data, copied before its padding is skipped (which may take more chunks than the ring keeps). */
  private async readExtensionAsync(h: RawHeader, at: number): Promise<Buffer> {
    const data = Buffer.from(await this.src.read(h.size));
    if (data.length < h.size) this.fail('archive is truncated inside an extension header', at);
    await this.src.skip(padding(h.size));
    return data;
  }

  /** The records of a pax header whose data is `data`; an error names the byte. */
  private paxRecords(data: Buffer, at: number): PaxRecord[] {
    try {
      return parsePaxRecords(data);
    } catch (err) {
      if (err instanceof PaxError) this.fail(err.message, at + BLOCK + err.at);
      throw err;
    }
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<TarMember> {
    let globals: PaxRecord[] = [];
    for (;;) {
      // Where the member being read starts, and once its header is read its name and whether its
      // data was all read: what a gap (a damaged zstd frame) cost, if one comes.
      const current: { start: number; entry?: string; complete?: () => boolean } = { start: -1 };
      try {
        // Extension headers gathered for the next real member.
        let local: PaxRecord[] | undefined;
        let longName: Buffer | undefined;
        let longLink: Buffer | undefined;
        let memberStart = -1;
        let header: RawHeader | undefined;
        let headerAt = 0;
        // A member's header range runs from the end of the member before (global headers between
        // are in it: spec/manifest.md §5). Not after a resync: its block was read before.
        if (this.wantDigests) {
          if (this.pending) this.src.dropDigest();
          else this.src.startDigest();
        }
        for (;;) {
          // The block without a promise when it is at hand (most are).
          let got: { block: Buffer; at: number } | undefined;
          const now = this.pending ? undefined : this.src.readNow(BLOCK);
          if (now) got = { block: now, at: this.src.position - BLOCK };
          else got = await this.readHeaderBlock();
          if (!got) {
            if (memberStart !== -1) this.fail('archive ends after an extension header with no member', memberStart);
            this.info.warnings.push(`${this.name}: archive ends without its end-of-archive blocks`);
            this.missingEnd = true;
            return;
          }
          if (isZeroBlock(got.block)) {
            if (memberStart !== -1) this.fail('end-of-archive block after an extension header', got.at);
            // Two zero blocks end the archive; one followed by EOF is accepted too. One followed
            // by more of the archive took a member's header's place (damage, §4.7).
            // With ignoreZeros, past end blocks (two or more) the next archive may start; a lone
            // zero block is the damage it is without it (the rest is the same archive).
            if (this.ignoreZeros && (await this.endBlocksFollow())) {
              if (!(await this.nextArchive())) return;
              if (this.newArchive) {
                // The next archive states its own version and features (or none: another tool's).
                globals = [];
                delete this.info.version;
                delete this.info.creator;
                this.info.features = { compat: [], rocompat: [], incompat: [] };
                this.digesting = this.wantDigests?.(this.info) === true;
              }
              this.newArchive = false;
              continue;
            }
            if (!(await this.loneZeroBlock(got.at))) return;
            this.src.dropDigest();
            continue;
          }
          if (memberStart === -1) current.start = memberStart = got.at;
          let h: RawHeader;
          try {
            h = decodeHeader(got.block);
          } catch (err) {
            if (!(err instanceof HeaderError)) throw err;
            if (!this.salvage) this.fail(err.message, got.at);
            // The extension headers read so far belong to the lost member: dropped with it.
            await this.resync(got.block, memberStart, err.message);
            this.src.dropDigest();
            local = longName = longLink = undefined;
            current.start = memberStart = -1;
            continue;
          }
          if (h.typeflag === TYPE.paxLocal) {
            // A copy: its records wait for the member's header (see readExtension).
            const data = await this.readExtension(h, got.at);
            let recs: PaxRecord[];
            try {
              recs = parsePaxRecords(data);
            } catch (err) {
              if (!(err instanceof PaxError)) throw err;
              const where = got.at + BLOCK + err.at;
              if (!this.salvage) this.fail(err.message, where);
              // Its records are lost, but its own header was valid: its data ends where that says.
              // The member it describes is skipped with it, never restored without them (§6.8).
              await this.skipDescribed(memberStart, `pax header damaged at offset ${where}: ${err.message}`);
              this.src.dropDigest();
              local = longName = longLink = undefined;
              current.start = memberStart = -1;
              continue;
            }
            local = local ? [...local, ...recs] : recs;
          } else if (h.typeflag === TYPE.paxGlobal) {
            const recs = this.paxRecords(await this.readExtension(h, got.at), got.at);
            globals = [...globals, ...applyGlobalRecords(this.info, recs, this.name, got.at)];
            current.start = memberStart = -1;
            this.digesting = this.wantDigests?.(this.info) === true;
          } else if (h.typeflag === TYPE.gnuLongName) longName = stripTrailingNul(await this.readExtension(h, got.at));
          else if (h.typeflag === TYPE.gnuLongLink) longLink = stripTrailingNul(await this.readExtension(h, got.at));
          else if (h.typeflag === TYPE.gnuVolume) {
            this.info.notices.push(`${this.name}: GNU volume label "${h.path.toString('utf8')}" skipped`);
            await this.src.skip(h.size + padding(h.size));
            current.start = memberStart = -1;
          } else if (h.typeflag === TYPE.gnuMultiVol) {
            // GNU tar -M: the rest of a file begun in the volume before. Restored alone it would put
            // the file's tail under its name (it once did, exit 1, "unknown type flag"): named and
            // passed over, as GNU tar refuses it ("file is continued from another volume").
            const path = [...(local ?? [])].reverse().find((r) => r.key === 'path')?.value ?? longName ?? h.path;
            let from: bigint | number | string;
            try {
              from = readNumber(got.block, 369, 12, 'offset');
            } catch {
              from = 'an unreadable offset';
            }
            const end = got.at + BLOCK + h.size + padding(h.size);
            const what = `continued from another volume (GNU tar -M): only its bytes from ${from} on are in this archive`;
            if (!this.salvage) this.fail(what, got.at, displayName(path), 'PORTARC_UNSUPPORTED');
            this.damaged.push({ entry: displayName(path), what, range: [memberStart, end] });
            await this.src.skip(h.size + padding(h.size));
            local = longName = longLink = undefined;
            current.start = memberStart = -1;
          } else {
            header = h;
            headerAt = got.at;
            break;
          }
        }
        if (++this.count > this.limits.entries) this.fail(`more than ${this.limits.entries} entries (limit "entries")`, headerAt, undefined, 'PORTARC_LIMIT');
        const member = await this.buildMember(header, headerAt, memberStart, globals, local, longName, longLink);
        current.entry = member.member.entry.name;
        current.complete = member.complete;
        yield member.member;
        // Skip whatever the consumer left of the body, then the padding.
        const draining = member.drain();
        if (draining) await draining;
      } catch (err) {
        if (!(this.salvage && err instanceof GapError)) throw err;
        await this.afterGap(current);
      }
    }
  }

  private async buildMember(
    h: RawHeader,
    headerAt: number,
    memberStart: number,
    globals: PaxRecord[],
    local: PaxRecord[] | undefined,
    longName: Buffer | undefined,
    longLink: Buffer | undefined,
  ): Promise<{ member: TarMember; drain: () => void | Promise<void>; complete: () => boolean }> {
    let type = TYPE_OF[h.typeflag];
    const entry = makeEntry({ path: longName ?? h.path, type: type ?? 'file' });
    if (type === undefined) {
      entry.warnings.push(`unknown type flag "${String.fromCharCode(h.typeflag)}"; read as a regular file`);
    }
    entry.mode = h.mode;
    entry.uid = h.uid;
    entry.gid = h.gid;
    entry.uname = h.uname;
    entry.gname = h.gname;
    entry.size = h.size;
    entry.mtimeNs = h.mtime * 1_000_000_000n;
    if (h.atime !== undefined) entry.atimeNs = h.atime * 1_000_000_000n;
    if (h.ctime !== undefined) entry.ctimeNs = h.ctime * 1_000_000_000n;
    if (entry.type === 'chardev' || entry.type === 'blockdev') {
      entry.devMajor = h.devmajor;
      entry.devMinor = h.devminor;
    }
    const link = longLink ?? h.linkname;
    const isLink = entry.type === 'symlink' || entry.type === 'hardlink';
    if (link.length && isLink) entry.linkTarget = link;
    // The ustar linkname of other types is ignored silently (writers leave junk there); a GNU 'K'
    // header is the writer's explicit statement, so it is worth a notice (spec §6.2).
    if (longLink && !isLink) entry.notices.push(`GNU long link name ('K' header) does not apply to a ${entry.type}; ignored`);

    const state = newPaxState();
    for (const rec of globals) applyPaxRecord(entry, state, rec, true);
    for (const rec of local ?? []) applyPaxRecord(entry, state, rec);
    finishPax(entry, state);
    let xattrBytes = 0;
    for (const v of entry.xattrs.values()) xattrBytes += v.length;
    if (entry.xattrs.size > this.limits.xattrs || xattrBytes > this.limits.xattrBytes) {
      this.fail(`${entry.xattrs.size} xattrs of ${xattrBytes} bytes exceed the limits "xattrs"/"xattrBytes"`, headerAt, displayName(entry.path), 'PORTARC_LIMIT');
    }

    // The data stored in the archive: the header's size, unless a pax size overrides it.
    let stored = entry.size;
    // Hardlinks, directories and special files carry no data in practice, but a size may still
    // be stored (POSIX allows hardlink data); it is skipped, never read as another header.
    if (entry.type === 'hardlink' || entry.type === 'symlink' || entry.type === 'directory' || entry.type === 'fifo' || entry.type === 'chardev' || entry.type === 'blockdev') {
      if (h.typeflag !== TYPE.gnuDumpDir && stored > 0 && entry.type !== 'hardlink') {
        entry.warnings.push(`${entry.type} carries ${stored} bytes of data; skipped`);
      }
      // Once per archive: GNU tar -g's deletions are not applied (spec §6.3), which a restore of a
      // chain of incremental dumps would expect.
      if (h.typeflag === TYPE.gnuDumpDir && !this.dumpDirSaid) {
        this.dumpDirSaid = true;
        this.info.notices.push(`${this.name}: a GNU incremental dump (typeflag 'D' directories): restored as plain directories; the names each one lists, which \`tar -g\` uses to delete files removed since the previous dump, are not applied`);
      }
      entry.size = 0;
    }

    // v7 and some old writers mark directories only by a trailing slash.
    if (entry.type === 'file' && entry.path.length > 1 && entry.path[entry.path.length - 1] === 0x2f && stored === 0) {
      entry.type = 'directory';
    }

    // Sparse members: old GNU 'S', or pax GNU.sparse 0.0 / 0.1 / 1.0 (spec §5.5.2).
    let mapBytes = 0;
    const sparseForm = state.sparseMajor !== undefined ? `${state.sparseMajor}.${state.sparseMinor ?? 0}` : undefined;
    if (sparseForm !== undefined && sparseForm !== '1.0' && !(state.sparseMajor === 0 && state.sparseMap)) {
      // Reading an unknown form as dense would hand out its map as file content.
      this.fail(`GNU sparse format ${sparseForm} is not supported (known: 0.0, 0.1, 1.0)`, headerAt, displayName(entry.path), 'PORTARC_UNSUPPORTED');
    }
    if (!h.gnuSparse && (state.sparseMajor === 1 || state.sparseMap) && state.sparseRealSize === undefined) {
      this.fail('sparse member has no real size (GNU.sparse.realsize or GNU.sparse.size)', headerAt, displayName(entry.path));
    }
    if (h.gnuSparse) {
      const runs = [...h.gnuSparse.runs];
      let extended = h.gnuSparse.extended;
      while (extended) {
        if (runs.length * 24 > this.maxHeader) this.fail('sparse map exceeds the header size limit', headerAt, displayName(entry.path));
        const got = await this.readHeaderBlock();
        if (!got) this.fail('archive is truncated inside a sparse header', headerAt, displayName(entry.path));
        try {
          runs.push(...readSparseRuns(got.block, 0, 21));
        } catch (err) {
          if (err instanceof FieldError) this.fail(`sparse extension block: ${err.message}`, got.at, displayName(entry.path));
          throw err;
        }
        extended = got.block[504] !== 0;
      }
      entry.sparse = runs;
      entry.size = state.sparseRealSize ?? h.gnuSparse.realSize;
    } else if (state.sparseMajor === 1) {
      const parsed = await this.readSparseMap1(stored, headerAt, entry);
      entry.sparse = parsed.runs;
      mapBytes = parsed.bytes;
      stored -= mapBytes;
      entry.size = state.sparseRealSize ?? entry.size;
    } else if (state.sparseMap) {
      entry.sparse = pairsToRuns(state.sparseMap);
      entry.size = state.sparseRealSize ?? entry.size;
    }
    if (state.sparseName) entry.path = state.sparseName;
    if (entry.sparse) {
      const bad = sparseMapProblem(entry.sparse, entry.size);
      if (bad) this.fail(`sparse map is invalid: ${bad}`, headerAt, displayName(entry.path));
      const total = entry.sparse.reduce((n, r) => n + r.length, 0);
      if (total !== stored) this.fail(`sparse map describes ${total} bytes but ${stored} are stored`, headerAt, displayName(entry.path));
    }

    // Names: drop trailing slashes (directories) so paths compare byte for byte.
    let end = entry.path.length;
    while (end > 1 && entry.path[end - 1] === 0x2f) end--;
    entry.path = entry.path.subarray(0, end);
    entry.name = displayName(entry.path);

    // The header range ends where the data starts (after a sparse 1.0 map, as dataOffset).
    const headerSha256 = this.digesting ? this.src.endDigest() : (this.src.dropDigest(), undefined);
    const dataAt = this.src.position;
    // Data and padding in the chunk at hand (most small members): the body is that data, taken
    // now, a Buffer (also an async iterable of itself): no generator, nothing left to drain.
    const whole = stored <= SMALL_BODY ? this.src.readNow(stored + padding(stored + mapBytes)) : undefined;
    if (whole) {
      const member = { entry, offset: memberStart, dataOffset: dataAt, body: bufferBody(whole.subarray(0, stored)), headerSha256, archiveStart: this.archiveStart };
      return { member, drain: () => undefined, complete: () => true };
    }
    const src = this.src;
    let consumed = 0;
    const name = this.name;
    const entryName = entry.name;
    async function* body(): AsyncGenerator<Buffer> {
      for await (const part of src.stream(stored - consumed)) {
        consumed += part.length;
        yield part;
      }
      if (consumed < stored) {
        throw new ArchiveError(`archive is truncated: ${stored - consumed} bytes of data missing`, { archive: name, entry: entryName, offset: dataAt + consumed });
      }
    }
    const drain = (): void | Promise<void> => {
      const left = stored - consumed;
      // What is left and the padding at hand (a small member): no promise.
      if (src.skipNow(left + padding(stored + mapBytes))) {
        consumed = stored;
        return;
      }
      return (async () => {
        const got = await src.skip(left);
        consumed += got;
        if (got < left) this.fail(`archive is truncated: ${left - got} bytes of data missing`, dataAt + consumed, entryName);
        await src.skip(padding(stored + mapBytes));
      })();
    };
    // An iterable, not a generator made now: most members' bodies are never read (list, directories).
    return { member: { entry, offset: memberStart, dataOffset: dataAt, body: { [Symbol.asyncIterator]: body }, headerSha256, archiveStart: this.archiveStart }, drain, complete: () => consumed === stored };
  }

  /** Is the block after a zero block zeros too, or the end of the input? (Looked at, not taken.) */
  private async endBlocksFollow(): Promise<boolean> {
    const next = this.src.readNow(BLOCK) ?? (await this.src.read(BLOCK));
    const end = next.length < BLOCK || isZeroBlock(next);
    this.src.unread(next);
    return end;
  }

  /**
   * ignoreZeros after a zero block where a header was expected: pass the zero blocks; true when a
   * header follows, where the next archive starts (its header range digest starts there too),
   * false at the end of the input or at embedded recovery data. Anything else after the zeros is
   * damage, as after a lone zero block: skipped to the next header (with salvage), or the end.
   */
  private async nextArchive(): Promise<boolean> {
    for (;;) {
      const block = this.src.readNow(BLOCK) ?? (await this.src.read(BLOCK));
      const at = this.src.position - block.length;
      if (block.length < BLOCK) {
        if (block.some((b) => b !== 0)) this.trailing(at);
        return false;
      }
      if (isZeroBlock(block)) continue;
      if (block.subarray(0, PAR2_MAGIC.length).equals(PAR2_MAGIC)) {
        // Embedded recovery data: past it (its locator says how long it is) another archive may follow.
        const end = regionEnd(block, at);
        if (end === undefined) return false;
        if ((await this.src.skip(end - at - BLOCK)) < end - at - BLOCK) return false;
        continue;
      }
      if (plausibleHeader(block)) {
        this.src.unread(block);
        if (this.wantDigests) this.src.startDigest();
        this.archiveStart = at;
        this.newArchive = true;
        return true;
      }
      if (!this.salvage) {
        this.trailing(at);
        return false;
      }
      this.src.unread(block);
      const gaps: string[] = [];
      const found = await this.scanToHeader(gaps);
      if (found.at === undefined) {
        this.trailing(at);
        return false;
      }
      this.damaged.push({ what: `not a header after zero blocks${gaps.map((g) => `; then ${g}`).join('')}; skipped to the next header`, range: [at, found.at] });
      this.src.dropDigest();
      return true;
    }
  }

  /**
   * The all-zero block at `at` came where a header was expected (spec §4.7). When the block after
   * it is zeros too, or the input ends, it is the end of the archive: false, and data that is not
   * zeros after the end blocks is said in a warning (nothing reads it). When a member's header
   * follows (with salvage: anywhere further on), the zero block took the place of that member's
   * first header — a lone zero block, as GNU tar calls it, is damage: an error, or with salvage a
   * skipped range and true (the header found is kept for the next read).
   */
  private async loneZeroBlock(at: number): Promise<boolean> {
    const next = this.src.readNow(BLOCK) ?? (await this.src.read(BLOCK));
    if (next.length < BLOCK || isZeroBlock(next)) {
      this.endAt = at;
      await this.afterEnd(at + BLOCK, next);
      return false;
    }
    // A header right after it, or (a zeroed x header, say) further on: the scan keeps it pending.
    const gaps: string[] = [];
    let headerAt: number | undefined;
    if (plausibleHeader(next)) {
      headerAt = at + BLOCK;
      this.pending = { block: Buffer.from(next), at: headerAt };
    } else {
      this.src.unread(next);
      headerAt = (await this.scanToHeader(gaps)).at;
    }
    if (headerAt === undefined) {
      // No header follows: the end of the archive, with something after it that is not read.
      this.trailing(at + BLOCK);
      return false;
    }
    const lone = `an all-zero block where a header was expected, and a header at offset ${headerAt} after it (a lone zero block: the end of an archive is two; a member's header was zeroed)`;
    if (!this.salvage) this.fail(lone, at);
    this.damaged.push({ what: `${lone}${gaps.map((g) => `; then ${g}`).join('')}; skipped to the next header`, range: [at, headerAt] });
    return true;
  }

  private trailing(at: number): void {
    this.trailingAt = at;
    this.info.warnings.push(`${this.name}: data follows the end of the archive, at offset ${at}, and was not read (another archive appended, as by cat? --ignore-zeros reads on)`);
  }

  /**
   * The end-of-archive blocks were read up to `from` (`last`: the block read after the first zero
   * block, zeros or a short end). Record padding is zeros, and embedded recovery data
   * (spec/recovery.md §10) starts with a PAR2 packet; anything else after the end is data nothing
   * reads — another archive appended with `cat`, say — and is said in a warning (spec §4.7).
   * Looked for within readPastEnd bytes (and what has arrived of a stream).
   */
  private async afterEnd(from: number, last: Buffer): Promise<void> {
    let at = from;
    let part = last;
    let budget = this.readPastEnd;
    try {
      for (;;) {
        const nz = part.findIndex((b) => b !== 0);
        if (nz >= 0) {
          let head = part.subarray(nz, nz + LOCATOR_PACKET);
          if (head.length < LOCATOR_PACKET && budget > 0) head = Buffer.concat([head, await this.src.read(LOCATOR_PACKET - head.length)]);
          if (!head.subarray(0, PAR2_MAGIC.length).equals(PAR2_MAGIC)) return this.trailing(at + nz);
          // Embedded recovery data: its locator says where it ends; anything after that is data too.
          const end = regionEnd(head, at + nz);
          if (end === undefined) return;
          if (this.inputLength !== undefined) return void (end < this.inputLength && this.trailing(end));
          // A stream (`cat a.tar b.tar | portarc list -f -`, a with recovery data): read past the
          // region and look on from its end, as for the end blocks.
          if (end <= at + part.length) {
            part = part.subarray(end - at);
            at = end;
            continue;
          }
          // (A region is longer than its first packet: `end` is past what `head` read.)
          const skip = end - this.src.position;
          if (skip > budget || (await this.src.skip(skip)) < skip) return;
          budget -= skip;
          at = end;
          part = Buffer.alloc(0);
          continue;
        }
        at += part.length;
        part = this.src.takeNow(64 << 10);
        if (part.length === 0) {
          if (budget <= 0) return;
          part = await this.src.read(Math.min(budget, 64 << 10));
          if (part.length === 0) return;
          budget -= part.length;
        }
      }
    } catch (err) {
      // Compressed bytes after the archive's last frame that are no zstd data (or a damaged frame
      // there, salvage): nothing can read them (zstd -d fails on them, and GNU tar with it):
      // damage of the file, as a damaged frame inside it would be (spec §4.7).
      if (!(err instanceof GapError)) throw err;
      const g = err.gap as Partial<FrameGap>;
      const where = g.compressed ? `compressed bytes ${g.compressed[0]}-${g.compressed[1]}` : `the bytes from offset ${at}`;
      // (With `compressed`, verify leaves it to its own report of the gap.)
      this.damaged.push({ what: `${where} after the end of the archive are no zstd data or a damaged frame (${err.gap.reason}); not read`, range: [at, at], ...(g.compressed ? { compressed: g.compressed } : {}) });
    }
  }

  /**
   * After a damaged header at `start`: read on block by block to the next block that is a valid
   * header (its checksum right, ustar magic or v7's none), keep it for the next read, and report
   * the range skipped. Zero blocks are passed over (a file's data may hold them); the end of the
   * input ends the scan, and the reading.
   */
  private async resync(bad: Buffer, start: number, reason: string): Promise<void> {
    const path = guessName(bad);
    const gaps: string[] = [];
    const found = await this.scanToHeader(gaps);
    const also = gaps.map((g) => `; then ${g}`).join('');
    if (found.at === undefined) this.damaged.push({ path, what: `${reason}${also}; no valid header follows before the end of the archive`, range: [start, found.end] });
    else this.damaged.push({ path, what: `${reason}${also}; skipped to the next header`, range: [start, found.at] });
  }

  /**
   * After an x header whose records are damaged, `start` its offset: the member it describes (the
   * valid header right after it, and that header's data) is skipped with it and reported, since
   * what the records said of it (a long name, a size, times, xattrs) is lost. When no valid
   * header follows, the reading scans on as after a damaged header.
   */
  private async skipDescribed(start: number, reason: string): Promise<void> {
    const block = this.src.readNow(BLOCK) ?? (await this.src.read(BLOCK));
    const at = this.src.position - block.length;
    let h: RawHeader | undefined;
    try {
      if (block.length === BLOCK && !isZeroBlock(block)) h = decodeHeader(block);
    } catch (err) {
      if (!(err instanceof HeaderError)) throw err;
    }
    const extension = h && (h.typeflag === TYPE.paxLocal || h.typeflag === TYPE.paxGlobal || h.typeflag === TYPE.gnuLongName || h.typeflag === TYPE.gnuLongLink);
    if (!h || extension) {
      this.src.unread(block);
      return this.resync(block, start, reason);
    }
    const end = at + BLOCK + h.size + padding(h.size);
    const got = await this.src.skip(end - at - BLOCK);
    const what = `${reason}; the member it describes is not extracted${got < end - at - BLOCK ? ', and the archive ends inside its data' : ''}`;
    this.damaged.push({ path: displayName(h.path), what, range: [start, at + BLOCK + got] });
  }

  /**
   * The reading reached a gap (a damaged zstd frame dropped by the decompressor): the member being
   * read loses its data (it is named when its header was read), and the reading goes on at the next
   * valid header after the gap, as after a damaged header.
   */
  private async afterGap(current: { start: number; entry?: string; complete?: () => boolean }): Promise<void> {
    this.pending = undefined;
    const from = this.src.position;
    const gap = this.src.acceptGap() as FrameGap;
    // A member whose data was all read before the gap (the gap is in its padding) lost nothing.
    const entry = current.entry !== undefined && !current.complete?.() ? current.entry : undefined;
    const start = entry !== undefined || (current.entry === undefined && current.start >= 0) ? current.start : from;
    const gaps: string[] = [];
    const found = await this.scanToHeader(gaps);
    const also = gaps.map((g) => `; then ${g}`).join('');
    const next = found.at === undefined ? 'no valid header follows before the end of the archive' : 'skipped to the next header';
    this.damaged.push({
      entry,
      path: entry,
      what: `${describeGap(gap, from)}${also}; ${next}`,
      range: [start, found.at ?? Math.max(found.end, start)],
      compressed: [...gap.compressed],
      lost: gap.size === undefined ? { from } : { from, size: gap.size },
    });
  }

  /**
   * Read on to the next valid header and keep it for the next read. Block by block while offsets
   * are archive offsets; after a gap of unknown size, byte by byte (the ustar magic, then the
   * checksum), since the bytes after it need not start a block. Gaps met on the way are passed
   * and described in `gaps`. `at` is undefined when the input ends first; `end` is the end of the
   * last non-zero bytes read.
   */
  private async scanToHeader(gaps: string[]): Promise<{ at?: number; end: number }> {
    let end = this.src.position;
    let window = Buffer.alloc(0);
    for (;;) {
      let block: Buffer;
      try {
        // Back on the block grid after a gap of known size that did not end on it.
        if (this.src.exact && this.src.position % BLOCK) await this.src.skip(BLOCK - (this.src.position % BLOCK));
        block = await this.src.read(BLOCK);
      } catch (err) {
        if (!(err instanceof GapError)) throw err;
        const from = this.src.position;
        gaps.push(describeGap(this.src.acceptGap() as FrameGap, from));
        window = Buffer.alloc(0);
        continue;
      }
      const at = this.src.position - block.length;
      if (this.src.exact) {
        if (block.length < BLOCK) return { end };
        if (isZeroBlock(block)) continue;
        end = at + BLOCK;
        if (plausibleHeader(block)) {
          this.pending = { block: Buffer.from(block), at };
          return { at, end };
        }
        continue;
      }
      if (block.length === 0) return { end };
      window = Buffer.concat([window.subarray(Math.max(0, window.length - (BLOCK - 1))), block]);
      const base = this.src.position - window.length;
      for (let u = window.indexOf('ustar', 257); u >= 0; u = window.indexOf('ustar', u + 1)) {
        const k = u - 257;
        if (k + BLOCK > window.length) break;
        const cand = window.subarray(k, k + BLOCK);
        if (plausibleHeader(cand)) {
          this.pending = { block: Buffer.from(cand), at: base + k };
          this.src.unread(window.subarray(k + BLOCK));
          return { at: base + k, end: base + k };
        }
      }
      if (!isZeroBlock(block)) end = this.src.position;
      if (block.length < BLOCK) return { end };
    }
  }

  /** GNU sparse 1.0: decimal numbers, one per line, at the start of the data, padded to a block. */
  private async readSparseMap1(stored: number, headerAt: number, entry: Entry): Promise<{ runs: SparseRun[]; bytes: number }> {
    const lines: number[] = [];
    let bytes = 0;
    let text = '';
    let count = -1;
    while (count < 0 || lines.length < 1 + count * 2) {
      if (bytes + BLOCK > stored) this.fail('sparse map runs past the member data', headerAt, displayName(entry.path));
      text += (await this.src.read(BLOCK)).toString('latin1');
      bytes += BLOCK;
      const parts = text.split('\n');
      text = parts.pop()!;
      for (const p of parts) {
        if (!/^\d+$/.test(p)) this.fail(`bad sparse map line "${p.slice(0, 20)}"`, headerAt, displayName(entry.path));
        lines.push(Number(p));
      }
      if (lines.length > 0) count = lines[0]!;
      if (bytes > this.maxHeader) this.fail('sparse map exceeds the header size limit', headerAt, displayName(entry.path));
    }
    return { runs: pairsToRuns(lines.slice(1, 1 + count * 2)), bytes };
  }
}

/** A block with a right checksum and ustar magic (or v7's none): where salvage starts again. */
function plausibleHeader(block: Buffer): boolean {
  const magic = block.toString('latin1', 257, 263);
  if (magic !== 'ustar\0' && magic !== 'ustar ' && !block.subarray(257, 263).every((b) => b === 0)) return false;
  try {
    decodeHeader(block);
    return true;
  } catch {
    return false;
  }
}

/** The name field of a damaged header, when it still looks like a name (printable, non-empty). */
function guessName(block: Buffer): string | undefined {
  const end = block.indexOf(0);
  const name = block.subarray(0, end < 0 || end > 100 ? 100 : end).toString('utf8');
  return name.length && !/[\u0000-\u001f\u007f\ufffd]/.test(name) ? name : undefined;
}

/** Runs must be in order, must not overlap, and must lie within the real size. */
function sparseMapProblem(runs: SparseRun[], size: number): string | undefined {
  let end = 0;
  for (const r of runs) {
    if (r.offset < end) return `run at ${r.offset} overlaps or precedes the one before`;
    end = r.offset + r.length;
    if (end > size) return `run at ${r.offset} ends past the real size ${size}`;
  }
  return undefined;
}

function pairsToRuns(nums: number[]): SparseRun[] {
  const runs: SparseRun[] = [];
  for (let i = 0; i + 1 < nums.length; i += 2) runs.push({ offset: nums[i]!, length: nums[i + 1]! });
  return runs;
}

/** A copy without the trailing NULs: the input's buffers may be reused once read. */
function stripTrailingNul(b: Buffer): Buffer {
  let end = b.length;
  while (end > 0 && b[end - 1] === 0) end--;
  return Buffer.from(b.subarray(0, end));
}

/**
 * Why the first block is not the start of a tar, or undefined when it may be: an empty input, or
 * bytes that are neither a header (valid checksum or ustar magic) nor zeros. Spec §8.2: the user is
 * told what the file looks like instead of "truncated inside a header block".
 */
export function whyNotTar(head: Buffer, what: 'file' | 'input' | 'decompressed input'): string | undefined {
  if (head.length === 0) return `empty ${what}: not an archive`;
  const block = head.subarray(0, BLOCK);
  if (block.length > 262 && block.toString('latin1', 257, 262) === 'ustar') return undefined;
  if (block.every((b) => b === 0)) return undefined;
  if (block.length === BLOCK) {
    if (isZeroBlock(block)) return undefined;
    try {
      decodeHeader(block);
      return undefined;
    } catch {
      // not a header: fall through
    }
  }
  const first = block.subarray(0, 16);
  const text = [...first].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
  const kind = what === 'decompressed input' ? 'the decompressed data is not a tar archive' : 'not a tar or zip archive (portarc reads tar, tar.gz, tar.zst and zip)';
  return `${kind}: it starts with ${first.toString('hex').replace(/(..)(?!$)/g, '$1 ')} "${text}"`;
}
