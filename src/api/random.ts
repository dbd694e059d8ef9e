// open(source): random access to one archive through its manifest (spec/manifest.md §12). The
// trailer is found from the end (plain tar: the last blocks; seekable .tar.zst: through the seek
// table, decoding only the last frame(s); zip: the end record's comment), the manifest is read and
// checked against the trailer's digest, and each member is then read at the offsets the manifest
// gives: its header range (checked against `hsha256`) and its data (checked against `sha256` as it
// streams). A source that cannot be read at random (gzip, a pipe, no manifest) is read in one
// streaming pass instead, and `info.method` says so; the content it hands out is checked when the
// manifest arrives, at the end.

import { findEmbedded } from '../integrity/par2/embedded.js';
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { SeekTable, prefixReader, readRange, type RandomAccessReader } from '../compress/seektable.js';
import { sniff } from '../compress/sniff.js';
import { CompressError } from '../compress/errors.js';
import { digestBody } from '../integrity/content.js';
import { collect, tarTrailer, zipTrailer, type Container } from '../integrity/container.js';
import { zeros } from '../io/body.js';
import { asFileHandle, asReader, counted, fileSource, httpSource, isRandomAccessSource, isUrl, type CountedSource, type RandomAccessSource } from '../io/random-access.js';
import { sourceName, type ArchiveSource } from '../io/source.js';
import { readManifest } from '../manifest/reader.js';
import type { Trailer } from '../manifest/trailer.js';
import { declaresManifest, isManifestMember, type ManifestEntry } from '../manifest/types.js';
import { displayName, makeEntry, type Entry, type EntryType } from '../model/entry.js';
import { ArchiveError, DamagedError, PortarcError, UsageError, ioError } from '../model/errors.js';
import { DEFAULT_LIMITS, type Limits } from '../model/limits.js';
import { TarReader } from '../tar/reader.js';
import { newArchiveInfo, type ArchiveInfo } from '../tar/version.js';
import { isZip, ZipFile } from '../zip/index.js';
import { openArchive } from './open.js';
import { ContentCheck } from './content-check.js';
import { ManifestIndex, pathKey } from './manifest-index.js';
import { inclusionMatcher, underDot } from './patterns.js';
import { abortable, abortedOr, checkSignal, throwIfAborted } from '../model/abort.js';

/** Whether a hardlink can name a member of this type (a tar link names a file, symlink, fifo or device; never a directory). */
export function canBeLinked(e: Pick<Entry, 'type'>): boolean {
  return e.type !== 'hardlink' && e.type !== 'directory';
}

/**
 * What a selected hardlink whose target was not selected says of the copy it gets instead
 * (spec/manifest.md §12.4): of the content of a file; of a symlink, fifo or device itself.
 */
export function copyNotice(target: string, e: Pick<Entry, 'type'>): string {
  return `hardlink to "${target}", which was not selected: extracted as a copy of ${e.type === 'file' ? 'its content' : `it (a ${e.type})`}`;
}

export { pathKey };

const EMPTY = Buffer.alloc(0);

/** What open() accepts: a file path, an http(s) URL, a random-access object, or any streaming source. */
export type OpenableSource = ArchiveSource | RandomAccessSource;

export interface RandomOptions {
  limits?: Partial<Limits>;
  /**
   * Cancel: open() and every read through the archive (entries, get, read, members) stop before
   * their next chunk or entry and reject with an AbortError. close() still releases the source.
   */
  signal?: AbortSignal;
}

/** An entry as the index knows it (the manifest's fields; in a streaming pass, the header's). */
export interface IndexedEntry {
  path: Buffer;
  name: string;
  type: EntryType;
  size: number;
  /** Symlink target, or the archive path a hardlink points to. */
  link?: Buffer;
  /** SHA-256 of the content (files, from the manifest). */
  sha256?: string;
  /** Offset of the member's first header in the container bytes. */
  offset: number;
}

export interface RandomInfo {
  /** `manifest`: members are read at the manifest's offsets; `stream`: one pass over the archive. */
  method: 'manifest' | 'stream';
  format?: 'tar' | 'zip';
  compression?: 'none' | 'gzip' | 'zstd';
  /** Why the archive is read as a stream, and other facts a caller may want to show. */
  notes: string[];
}

export interface MembersOptions {
  /** A hardlink whose target is not selected gets a copy of its content (spec/manifest.md §12.4). */
  copyLinks?: boolean;
  /**
   * Reading at the manifest's offsets, a member whose headers cannot be read (a damaged zstd frame,
   * a header that does not match the manifest) is passed to this and the next one read; without
   * it, the error ends the reading. (Damage in a member's data is thrown as its body is read.)
   */
  onUnreadable?: (err: ArchiveError, member: { name: string; range: [number, number] }) => void;
}

export interface RandomMember {
  entry: Entry;
  /** Offset of the member's first header. */
  offset: number;
  /** Stored data (sparse: the runs back to back), checked against the manifest as it streams. */
  body: AsyncIterable<Buffer>;
}

export interface RandomArchive {
  readonly name: string;
  readonly info: RandomInfo;
  /** The archive-level data (spec version, features), once a header has been read. */
  readonly archiveInfo: ArchiveInfo;
  /** Bytes read from the source so far (undefined for a stream source). */
  readonly bytesRead: number | undefined;
  /** Every entry, in archive order (the manifest and trailer members hidden). */
  entries(): AsyncIterable<IndexedEntry>;
  /** The full entry (all metadata, decoded from its headers), or undefined when the archive has no such path. */
  get(path: string | Buffer): Promise<Entry | undefined>;
  /** The content of a file (a hardlink: its target's), holes of a sparse file as zeros, verified against the manifest. */
  read(path: string | Buffer): AsyncIterable<Buffer>;
  /**
   * The members `select` picks, in archive order. With `copyLinks`, a hardlink whose target is not
   * picked comes as a regular file with the target's content (extract PATH...).
   */
  members(select: (path: Buffer) => boolean, opts?: MembersOptions): AsyncIterable<RandomMember>;
  close(): Promise<void>;
}

const CHUNK = 1 << 20;

export async function open(source: OpenableSource, options: RandomOptions = {}): Promise<RandomArchive> {
  const signal = checkSignal(options.signal);
  const ra = await openUnchecked(source, options);
  return signal ? cancellable(ra, signal) : ra;
}

/** The archive with the signal checked before each chunk and entry it hands out. */
function cancellable(ra: RandomArchive, signal: AbortSignal): RandomArchive {
  const guard = <T>(run: () => Promise<T>) => (throwIfAborted(signal), run().catch((err: unknown) => Promise.reject(abortedOr(signal, err))));
  return {
    get name() { return ra.name; },
    get info() { return ra.info; },
    get archiveInfo() { return ra.archiveInfo; },
    get bytesRead() { return ra.bytesRead; },
    entries: () => abortable(ra.entries(), signal),
    get: (path) => guard(() => ra.get(path)),
    read: (path) => abortable(ra.read(path), signal),
    members: (select, opts) => (async function* () {
      for await (const m of abortable(ra.members(select, opts), signal)) yield { ...m, body: abortable(m.body, signal) };
    })(),
    close: () => ra.close(),
  };
}

async function openUnchecked(source: OpenableSource, options: RandomOptions): Promise<RandomArchive> {
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  let src: CountedSource | undefined;
  if (isUrl(source)) src = await httpSource(source, { signal: options.signal });
  else if (typeof source === 'string' && source !== '-') {
    // A name that is not there fails now (a stream of it would only fail when first read, and
    // info's note would call it "not seekable").
    const st = await stat(source).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR' || err.code === 'EACCES') throw ioError(err, 'cannot open the archive', source);
      return undefined;
    });
    if (st?.isFile()) src = await fileSource(source);
  } else if (source instanceof Uint8Array) {
    const b = Buffer.from(source.buffer, source.byteOffset, source.byteLength);
    src = counted({ size: b.length, read: async (o, n) => b.subarray(o, o + n) }, '(buffer)');
  } else if (isRandomAccessSource(source) && !(source instanceof Readable)) src = counted(source, '(source)');
  if (!src) return streaming(source as ArchiveSource, limits, ['the source is not seekable: it is read in one streaming pass'], undefined, options.signal);
  const notes: string[] = [];
  try {
    const r = await byManifest(src, limits, notes);
    if (r) return r;
  } catch (err) {
    await src.close();
    if (err instanceof PortarcError) throw err.withArchive(src.name);
    throw err;
  }
  return streaming(typeof source === 'string' && !isUrl(source) ? source : sequential(src), limits, notes, src, options.signal);
}


/** `size`: the archive's end when recovery data is embedded after it (spec/recovery.md §10). */
function plainContainer(src: CountedSource, size = src.size): Container {
  return {
    size,
    async *range(start, length) {
      const end = Math.min(size, start + length);
      for (let at = start; at < end; at += CHUNK) yield await src.read(at, Math.min(CHUNK, end - at));
    },
  };
}

/**
 * Keep the last two reads: the trailer, the manifest and the first member often lie in the same
 * last frame(s), which must not be fetched (over HTTP) and decoded twice. At most two compressed
 * frames are held.
 */
function cachedReader(r: RandomAccessReader): RandomAccessReader {
  const recent: { at: number; n: number; data: Promise<Buffer> }[] = [];
  return {
    size: r.size,
    read(at, n) {
      const hit = recent.find((c) => c.at === at && c.n === n);
      if (hit) return hit.data;
      const data = r.read(at, n);
      recent.unshift({ at, n, data });
      recent.length = Math.min(recent.length, 2);
      return data;
    },
  };
}

/** An http(s) archive's bytes in order, by ranged reads (for a whole pass over what open() cannot read at random). */
export async function urlBytes(url: string, signal?: AbortSignal): Promise<AsyncIterable<Buffer>> {
  return sequential(await httpSource(url, { signal }));
}

/** Every byte of the source, in order (a non-seekable format read from a seekable source). */
async function* sequential(src: CountedSource): AsyncGenerator<Buffer> {
  for (let at = 0; at < src.size; at += CHUNK) yield await src.read(at, Math.min(CHUNK, src.size - at));
}

/** Random access, or undefined (with notes) when the archive must be read as a stream. */
async function byManifest(src: CountedSource, limits: Limits, notes: string[]): Promise<RandomArchive | undefined> {
  const head = await src.read(0, 4);
  let format: 'tar' | 'zip' = 'tar';
  let compression: 'none' | 'zstd' = 'none';
  // Embedded recovery data after a plain tar or zip: its locator says where the archive ends (a
  // few hundred bytes read; a .tar.zst finds its table's copy through SeekTable.read).
  const region = isZip(head) || sniff(head) === 'none' ? await findEmbedded((p, n) => src.read(p, n), src.size) : undefined;
  let container = plainContainer(src, region?.archiveLength);
  if (isZip(head)) format = 'zip';
  else {
    const filter = sniff(head);
    if (filter === 'gzip') {
      notes.push('gzip is not seekable: the archive is read in one streaming pass');
      return undefined;
    }
    if (filter === 'zstd') {
      const table = await SeekTable.read(asReader(src)).catch(async (err: unknown) => {
        // The table's copy after embedded recovery data is found through the last locator; when
        // that is damaged, the region is found the thorough way and the archive's own table read
        // (spec/recovery.md §10.4). Otherwise the table is damaged: the error stands.
        const r = await findEmbedded((p, n) => src.read(p, n), src.size, { thorough: true });
        if (!r) throw err;
        return SeekTable.read(prefixReader(asReader(src), r.archiveLength));
      });
      if (!table) {
        notes.push('this .tar.zst has no seek table: it is read in one streaming pass');
        return undefined;
      }
      compression = 'zstd';
      const reader = cachedReader(asReader(src));
      container = { size: table.decompressedSize, range: (s, n) => readRange(reader, table, s, n) };
    }
  }
  const found = format === 'zip' ? await zipTrailer(container) : await tarTrailer(container);
  if (typeof found === 'string') {
    notes.push(`${found}: it is read in one streaming pass`);
    return undefined;
  }
  const t = found.trailer;
  if (!(t.manifestOffset <= t.manifestData && t.manifestData + t.manifestSize <= t.manifestEnd && t.manifestEnd <= found.at)) {
    throw new DamagedError(`the trailer's offsets (${t.manifestOffset}, ${t.manifestData}+${t.manifestSize}, ${t.manifestEnd}) do not fit the archive: run portarc verify`, { offset: found.at });
  }
  // The manifest, checked against the trailer's digest as it streams; the index keeps per entry
  // what get/read need (spec/manifest.md §12.3 gives its memory cost).
  const index = new ManifestIndex();
  let kept = false;
  try {
    kept = await indexManifest(index, container, t, format, limits, notes);
  } finally {
    if (!kept) index.close();
  }
  return kept ? new ManifestArchive(src, format, compression, container, index, limits) : undefined;
}

/** Read the manifest into `index`, checked against the trailer's digest; false: a later version, read as a stream (the reason is in `notes`). */
async function indexManifest(index: ManifestIndex, container: Container, t: Trailer, format: 'tar' | 'zip', limits: Limits, notes: string[]): Promise<boolean> {
  const hash = createHash('sha256');
  const xml = (async function* () {
    for await (const c of container.range(t.manifestData, t.manifestSize)) {
      hash.update(c);
      yield c;
    }
  })();
  try {
    for await (const item of readManifest(xml)) {
      if (item.kind === 'head') {
        if (item.head.container !== format) throw new DamagedError(`the manifest describes a ${item.head.container} archive, but this is a ${format}: run portarc verify`, { offset: t.manifestData });
      } else if (item.kind === 'entry') {
        if (index.length >= limits.entries) throw new ArchiveError(`more than ${limits.entries} entries in the manifest (limit "entries")`);
        index.add(item.entry);
      } else if (item.foot.entries !== index.length) {
        throw new DamagedError(`the manifest lists ${index.length} entries but says ${item.foot.entries}: run portarc verify`, { offset: t.manifestData });
      }
    }
  } catch (err) {
    if (err instanceof PortarcError && err.code === 'PORTARC_UNSUPPORTED') {
      // A newer version is only what an intact manifest says: one bit flipped in its root element
      // reads as "3.0", and the streaming pass would then give out content unchecked. The reading
      // stopped part way: its digest is taken again, whole.
      const whole = createHash('sha256');
      for await (const c of container.range(t.manifestData, t.manifestSize)) whole.update(c);
      if (whole.digest('hex') !== t.manifestSha256) throw new DamagedError('the manifest does not match its digest in the trailer: run portarc verify', { offset: t.manifestData });
      notes.push(`${err.reason}; the archive is read in one streaming pass`);
      return false;
    }
    if (hash.digest('hex') !== t.manifestSha256) throw new DamagedError('the manifest does not match its digest in the trailer: run portarc verify', { offset: t.manifestData });
    throw err;
  }
  if (hash.digest('hex') !== t.manifestSha256) throw new DamagedError('the manifest does not match its digest in the trailer: run portarc verify', { offset: t.manifestData });
  return true;
}

class ManifestArchive implements RandomArchive {
  readonly info: RandomInfo;
  archiveInfo: ArchiveInfo = newArchiveInfo();
  readonly name: string;
  private globalHeader?: Buffer;
  private zip?: ZipFile;

  constructor(
    private src: CountedSource,
    format: 'tar' | 'zip',
    compression: 'none' | 'zstd',
    private container: Container,
    private index: ManifestIndex,
    private limits: Limits,
  ) {
    this.name = src.name;
    this.info = { method: 'manifest', format, compression, notes: [] };
  }

  get bytesRead(): number {
    return this.src.bytesRead;
  }

  async *entries(): AsyncGenerator<IndexedEntry> {
    for (let i = 0; i < this.index.length; i++) yield indexed(this.index.get(i));
  }

  private find(path: string | Buffer): number | undefined {
    return this.index.find(path);
  }

  async get(path: string | Buffer): Promise<Entry | undefined> {
    const i = this.find(path);
    return i === undefined ? undefined : (await this.member(i)).entry;
  }

  read(path: string | Buffer): AsyncIterable<Buffer> {
    const self = this;
    return (async function* () {
      let i = self.find(path);
      if (i === undefined) throw new ArchiveError('not found in archive', { archive: self.name, entry: String(path) });
      i = self.resolveLink(i);
      const e = self.index.get(i);
      if (e.type !== 'file') throw new UsageError(`${self.name}: "${displayName(e.path)}" is a ${e.type}, not a file: it has no content to read`);
      const m = await self.member(i);
      yield* logical(m.entry, m.body);
    })();
  }

  /** Follow hardlinks to the entry holding the content. */
  private resolveLink(i: number): number {
    for (let hops = 0; this.index.get(i).type === 'hardlink'; hops++) {
      const e = this.index.get(i);
      const t = e.link === undefined ? undefined : this.index.findBefore(e.link, i);
      if (t === undefined || hops > 40) throw new DamagedError(`hardlink target "${e.link ? displayName(e.link) : ''}" is not in the archive`, { archive: this.name, entry: displayName(e.path), offset: e.offset });
      i = t;
    }
    return i;
  }

  async *members(select: (path: Buffer) => boolean, opts: MembersOptions = {}): AsyncGenerator<RandomMember> {
    const chosen = new Set<number>();
    // A target not selected, by index: the name its first selected link got a copy of it under.
    const copies = new Map<number, Buffer>();
    for (let i = 0; i < this.index.length; i++) {
      const e = this.index.get(i);
      if (!select(e.path)) continue;
      chosen.add(i);
      try {
        if (e.type === 'hardlink' && opts.copyLinks) {
          const t = this.resolveLink(i);
          if (!chosen.has(t)) {
            const first = copies.get(t);
            if (first) {
              // The other links link to that copy: the names still share one inode.
              const m = await this.member(i);
              yield { entry: makeEntry({ ...m.entry, linkTarget: first }), offset: e.offset, body: m.body };
              continue;
            }
            // The target is not extracted: the link's name gets a copy of it (spec/manifest.md §12.4).
            const m = await this.member(t);
            const entry = makeEntry({ ...m.entry, path: e.path });
            entry.notices.push(copyNotice(displayName(e.link!), m.entry));
            copies.set(t, e.path);
            yield { entry, offset: e.offset, body: m.body };
            continue;
          }
        }
        yield await this.member(i);
      } catch (err) {
        // Each member is read on its own: one whose header cannot be read (a damaged frame) costs
        // itself only, when the caller takes such losses.
        if (!opts.onUnreadable || !(err instanceof ArchiveError)) throw err;
        opts.onUnreadable(err, { name: displayName(e.path), range: [e.offset, e.end] });
      }
    }
  }

  /** The member at index i: its headers read and checked, its data checked as it streams. */
  private async member(i: number): Promise<RandomMember> {
    const e = this.index.get(i);
    const name = displayName(e.path);
    const start = i === 0 ? 0 : this.index.get(i - 1).end;
    if (e.data - start > this.limits.headerBytes + (1 << 16)) throw new ArchiveError(`header of ${e.data - start} bytes exceeds the limit (limit "headerBytes")`, { archive: this.name, entry: name, offset: start });
    const header = await collect(this.container.range(start, e.data - start));
    if (createHash('sha256').update(header).digest('hex') !== e.headerSha256) {
      throw new DamagedError(`header (bytes ${start}-${e.data}) does not match the manifest: run portarc verify`, { archive: this.name, entry: name, offset: start });
    }
    const m = this.info.format === 'zip' ? await this.zipMember(e, name) : await this.tarMember(i, e, header, name);
    if (!m.entry.path.equals(e.path) && pathKey(m.entry.path) !== pathKey(e.path)) {
      throw new DamagedError(`the header at offset ${e.offset} is for "${m.entry.name}", not the manifest's entry`, { archive: this.name, entry: name, offset: e.offset });
    }
    m.body = checked(m.entry, m.body, e, this.name);
    return m;
  }

  private async tarMember(i: number, e: ManifestEntry, header: Buffer, name: string): Promise<RandomMember> {
    // Members after the first need the archive's global header (its PORTARC records, pax defaults).
    if (i > 0 && this.globalHeader === undefined) {
      const first = this.index.get(0).offset;
      try {
        this.globalHeader = first > 0 ? await collect(this.container.range(0, Math.min(first, this.limits.headerBytes + 1024))) : Buffer.alloc(0);
      } catch (err) {
        // Its zstd frame damaged: an intact member elsewhere is still read, its own header checked
        // against the manifest; only the archive's PORTARC records (version, features) are not.
        if (!(err instanceof CompressError)) throw err;
        this.globalHeader = Buffer.alloc(0);
        this.info.notes.push(`the archive's global header could not be read (${err.reason}): members are read without it`);
      }
    }
    const container = this.container;
    const parts = async function* (prefix: Buffer | undefined): AsyncGenerator<Buffer> {
      if (prefix?.length) yield prefix;
      yield header;
      yield* container.range(e.data, e.end - e.data);
      yield Buffer.alloc(1024);
    };
    const reader = new TarReader(parts(i > 0 ? this.globalHeader : undefined), { archiveName: this.name, limits: this.limits });
    const it = reader[Symbol.asyncIterator]();
    const first = await it.next();
    if (first.done) throw new DamagedError(`no member at offset ${e.offset}`, { archive: this.name, entry: name, offset: e.offset });
    this.archiveInfo = reader.info;
    return { entry: first.value.entry, offset: e.offset, body: first.value.body };
  }

  private async zipMember(e: ManifestEntry, name: string): Promise<RandomMember> {
    if (!this.zip) {
      const zf = new ZipFile(asFileHandle(this.src), this.name, this.limits);
      await zf.load(this.name);
      this.zip = zf;
      this.archiveInfo = zf.info;
    }
    const z = await this.zip.at(e.offset);
    if (!z) throw new DamagedError(`the central directory has no member at offset ${e.offset}`, { archive: this.name, entry: name, offset: e.offset });
    return { entry: z.entry, offset: e.offset, body: z.open() };
  }

  async close(): Promise<void> {
    this.index.close();
    await this.src.close();
  }
}

function indexed(e: ManifestEntry): IndexedEntry {
  const out: IndexedEntry = { path: e.path, name: displayName(e.path), type: e.type, size: e.size, offset: e.offset };
  if (e.link) out.link = e.link;
  if (e.sha256) out.sha256 = e.sha256;
  return out;
}

/** The body, its content digest compared with the manifest's at its end: a mismatch is DamagedError. */
function checked(entry: Entry, body: AsyncIterable<Buffer>, e: ManifestEntry, archive: string): AsyncIterable<Buffer> {
  if (e.type !== 'file' || e.sha256 === undefined) return body;
  if (entry.size !== e.size) throw new DamagedError(`size ${entry.size} in the header, ${e.size} in the manifest: run portarc verify`, { archive, entry: entry.name, offset: e.offset });
  const d = digestBody(entry, body);
  return (async function* () {
    yield* d.body as AsyncIterable<Buffer>;
    const got = d.digest();
    if (got !== e.sha256) throw new DamagedError(`content does not match the manifest's SHA-256 (${got.slice(0, 16)}…, manifest ${e.sha256!.slice(0, 16)}…): run portarc verify`, { archive, entry: entry.name, offset: e.data });
  })();
}

/** Stored data (sparse: runs back to back) as the logical content, holes as zeros. */
export async function* logical(entry: Entry, body: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  if (!entry.sparse) {
    yield* body;
    return;
  }
  const runs = entry.sparse;
  let run = 0;
  let inRun = 0;
  let at = 0;
  for await (const part of body) {
    let p = 0;
    while (p < part.length && run < runs.length) {
      const r = runs[run]!;
      if (inRun === 0 && r.offset > at) yield* zeros(r.offset - at), (at = r.offset);
      const take = Math.min(r.length - inRun, part.length - p);
      yield part.subarray(p, p + take);
      p += take;
      inRun += take;
      at += take;
      if (inRun === r.length) run++, (inRun = 0);
    }
  }
  if (entry.size > at) yield* zeros(entry.size - at);
}

/** A member of a streaming pass; `handed`: its body is the caller's to read (and is checked). */
interface PassMember extends RandomMember {
  handed: boolean;
}

/**
 * One streaming pass per call over a source that cannot be read at random (or has no manifest).
 * The members handed out with their content are logged as they go and held against the manifest
 * when it arrives, last (spec/manifest.md §11.2, §12.5): a mismatch is a DamagedError at the end
 * of the pass, naming the entry, after its bytes went out. What the caller leaves unread of a
 * handed member is read here, so that each digest has every byte.
 */
function streaming(source: ArchiveSource, limits: Limits, notes: string[], src?: CountedSource, signal?: AbortSignal): RandomArchive {
  const name = src?.name ?? sourceName(source);
  const reopenable = typeof source === 'string' ? source !== '-' : source instanceof Uint8Array || src !== undefined;
  let passes = 0;
  let archiveInfo = newArchiveInfo();
  const pass = async function* (hand: (m: RandomMember) => boolean): AsyncGenerator<PassMember> {
    if (passes++ > 0 && !reopenable) throw new UsageError(`${name}: a stream can be read only once: save it to a file to read it again`);
    const input = src && typeof source !== 'string' ? sequential(src) : source;
    // The signal also stops the skipping of members' data between the ones asked for. The
    // caller's chunks are its own (keepsChunks): the reader's reused buffers would be refilled by
    // the pass going on to the manifest before the caller is done with them (read() gave other
    // members' bytes, the promise resolved).
    const a = await openArchive(input, { limits, signal, headerDigests: declaresManifest, keepsChunks: true });
    archiveInfo = a.info;
    const check = await ContentCheck.open('-', false, a.format);
    check.nothingOnDisk = true;
    try {
      for await (const m of a.members) {
        check.met(m.entry.path);
        if (isManifestMember(m.entry.path, a.info.features.compat)) {
          await check.manifestMember(m.entry, m.body, undefined, false, a.skipped);
          continue;
        }
        if (!hand(m)) {
          yield { entry: m.entry, offset: m.offset, body: m.body, handed: false };
          continue;
        }
        const plan = await check.plan(m.entry, m.body, m.offset, a.info, m.headerSha256);
        if (plan.refused) throw new DamagedError(plan.refused.what, { archive: name, entry: plan.refused.path, offset: plan.refused.range?.[0] });
        const it = plan.body[Symbol.asyncIterator]();
        // The caller's loop may stop early (break): that must not end `it`, which is drained below.
        yield { entry: m.entry, offset: m.offset, body: { [Symbol.asyncIterator]: () => ({ next: () => it.next() }) }, handed: true };
        for (let r = await it.next(); !r.done; r = await it.next());
        plan.check.written?.(EMPTY, 0);
      }
      await check.finish('', undefined, false, a.skipped);
    } finally {
      await a.close();
      await check.close();
    }
    const bad = [...check.damaged, ...check.lost];
    if (bad.length) {
      const [first] = bad;
      const more = bad.length > 1 ? ` (and ${bad.length - 1} more damaged: run portarc verify)` : '';
      throw new DamagedError(`${first!.what}${more}`, { archive: name, entry: first!.path, offset: first!.range?.[0] });
    }
  };
  const headers = () => pass(() => false);
  /**
   * The content of `want` as extraction leaves it: its last member (a name stored twice, `tar -r`,
   * is the later copy), before `before` for a hardlink's target (the copy the link was made to).
   * A source read again finds that member in a first pass; a stream read once hands the first and
   * fails if a later copy follows (its bytes went out already: never passed as the content).
   */
  const findContent = async function* (want: string, before = Infinity): AsyncGenerator<Buffer> {
    let last: { offset: number; entry: Entry } | undefined;
    if (reopenable) {
      for await (const m of headers()) if (m.offset < before && pathKey(m.entry.path) === want) last = { offset: m.offset, entry: m.entry };
      if (!last) throw new ArchiveError('not found in archive', { archive: name, entry: want });
    }
    const at = last?.offset;
    let met: { offset: number; entry: Entry } | undefined;
    // The pass goes on to the manifest after the member: its content is checked there.
    for await (const m of pass((x) => !met && (at === undefined ? pathKey(x.entry.path) === want && x.offset < before : x.offset === at) && x.entry.type === 'file')) {
      if (m.offset >= before || pathKey(m.entry.path) !== want || (at !== undefined && m.offset !== at)) continue;
      if (met) {
        throw new ArchiveError(`the archive holds "${want}" more than once (a later copy at offset ${m.offset}, appended as tar -r does): the content given was of the copy at offset ${met.offset}, not the one extraction keeps; read the archive from a file, which is read twice`, { archive: name, entry: want, offset: m.offset });
      }
      met = { offset: m.offset, entry: m.entry };
      if (m.entry.type === 'hardlink' && m.entry.linkTarget) continue;
      if (m.entry.type !== 'file') throw new UsageError(`${name}: "${m.entry.name}" is a ${m.entry.type}, not a file: it has no content to read`);
      yield* logical(m.entry, m.body);
    }
    if (!met) throw new ArchiveError('not found in archive', { archive: name, entry: want });
    if (met.entry.type === 'hardlink' && met.entry.linkTarget) yield* findContent(pathKey(met.entry.linkTarget), met.offset);
  };
  return {
    name,
    info: { method: 'stream', notes },
    get archiveInfo() {
      return archiveInfo;
    },
    get bytesRead() {
      return src?.bytesRead;
    },
    async *entries() {
      for await (const m of headers()) {
        const e: IndexedEntry = { path: m.entry.path, name: m.entry.name, type: m.entry.type, size: m.entry.size, offset: m.offset };
        if (m.entry.linkTarget) e.link = m.entry.linkTarget;
        yield e;
      }
    },
    async get(path) {
      // The last member of the name: the one extraction leaves (tar -r appends newer copies).
      const want = pathKey(path);
      let last: Entry | undefined;
      for await (const m of headers()) if (pathKey(m.entry.path) === want) last = m.entry;
      return last;
    },
    read: (path) => findContent(pathKey(path)),
    async *members(select, opts = {}) {
      const wanted: { entry: Entry; offset: number; target: string }[] = [];
      const chosen = new Set<string>();
      const pick = (m: RandomMember) => {
        if (!select(m.entry.path)) return false;
        chosen.add(pathKey(m.entry.path));
        if (opts.copyLinks && m.entry.type === 'hardlink' && m.entry.linkTarget && !chosen.has(pathKey(m.entry.linkTarget))) {
          wanted.push({ entry: m.entry, offset: m.offset, target: pathKey(m.entry.linkTarget) });
          return false;
        }
        return true;
      };
      for await (const m of pass(pick)) if (m.handed) yield m;
      // Hardlinks whose target was not selected: a second pass copies the targets' content.
      if (!wanted.length) return;
      if (!reopenable) {
        throw new ArchiveError(`hardlink to "${wanted[0]!.target}", which was not selected, and the input cannot be read twice: select "${wanted[0]!.target}" too`, { archive: name, entry: wanted[0]!.entry.name });
      }
      const targets = new Set(wanted.map((w) => w.target));
      const copied = new Set<string>();
      for await (const m of pass((x) => canBeLinked(x.entry) && targets.has(pathKey(x.entry.path)) && !copied.has(pathKey(x.entry.path)))) {
        const k = pathKey(m.entry.path);
        if (!m.handed) continue;
        copied.add(k);
        const links = wanted.filter((w) => w.target === k);
        // One body, read once: the first link gets the content; the others link to it.
        const [first, ...rest] = links;
        const entry = makeEntry({ ...m.entry, path: first!.entry.path });
        entry.notices.push(copyNotice(m.entry.name, m.entry));
        yield { entry, offset: first!.offset, body: m.body };
        for (const l of rest) yield { entry: makeEntry({ ...l.entry, linkTarget: first!.entry.path }), offset: l.offset, body: (async function* () {})() };
      }
      for (const k of targets) if (!copied.has(k)) throw new ArchiveError(`hardlink target "${k}" is not in the archive`, { archive: name, entry: wanted.find((w) => w.target === k)!.entry.name });
    },
    close: async () => void (await src?.close()),
  };
}

/**
 * Member selection as tar does it: a PATH selects the member of that name and, when it is a
 * directory, everything under it. `unmatched()` lists the PATHs that selected nothing;
 * `checkAllMatched()` throws for them, as tar does once the archive has been read.
 */
export function selector(paths: readonly string[], opts: { wildcards?: boolean } = {}): { select(path: Buffer): boolean; selects(path: Buffer): boolean; unmatched(): string[]; checkAllMatched(): void } {
  // With `wildcards` (tar's --wildcards) each PATH is a shell pattern (src/api/patterns.ts).
  const keys = paths.map((p) => ({ p, k: pathKey(p), hit: false, match: opts.wildcards ? inclusionMatcher(p) : undefined }));
  const dot = keys.some((s) => s.k === '.' && !s.match);
  const pick = (path: Buffer, mark: boolean) => {
    const k = pathKey(path);
    let any = false;
    // "." selects the archive's "./" tree, as GNU tar's does (its key would match only "." itself).
    const inDot = dot && underDot(path);
    for (const s of keys) {
      if (s.match ? s.match(path) : s.k === '' || k === s.k || k.startsWith(s.k + '/') || (s.k === '.' && inDot)) {
        any = true;
        if (mark) s.hit = true;
      }
    }
    return any;
  };
  return {
    /** Whether a member of this path is selected; its PATHs have then matched. */
    select: (path) => pick(path, true),
    /** Whether a member of this path would be selected (a hardlink's target, asked about): no PATH is marked. */
    selects: (path) => pick(path, false),
    unmatched: () => keys.filter((s) => !s.hit).map((s) => s.p),
    checkAllMatched() {
      const missing = this.unmatched();
      if (missing.length) throw new ArchiveError(`not found in archive${missing.length > 1 ? ` (nor ${missing.slice(1).map((p) => `"${p}"`).join(', ')})` : ''}`, { entry: missing[0] });
    },
  };
}
