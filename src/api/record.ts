// create()'s side of the manifest (spec/manifest.md §2, §5, §7): digests every entry as it is
// written, appends one manifest line per entry to a spool (memory, then a temporary file), and at
// the end writes the manifest member and the trailer. The container writer only reports where data
// starts; the rest is here, so the writers stay unaware of the manifest.

import { createHash } from 'node:crypto';
import type { Entry } from '../model/entry.js';
import { makeEntry } from '../model/entry.js';
import { DigestingSink, EMPTY_SHA256, type DownstreamSink } from '../integrity/digest-sink.js';
import type { PackedRun } from '../tar/pack.js';
import type { HashMode } from '../integrity/hash-ring.js';
import { digestBody } from '../integrity/content.js';
import { nativeRunLines } from '../integrity/native-hash.js';
import { RunDigests, type RunPiece } from '../integrity/run-digests.js';
import { MANIFEST_FEATURE, MANIFEST_NAME, ManifestWriter, TRAILER_NAME, TRAILER_SIZE, TRAILER_TEXT_SIZE, encodeTrailer, isManifestMember } from '../manifest/index.js';
import { SPEC_VERSION_TEXT } from '../model/archive-info.js';
import { EntryError } from '../model/errors.js';
import { CentralSpool } from '../zip/spool.js';

type Body = AsyncIterable<Buffer> | Buffer | undefined;

/** The writer calls the recorder needs (TarWriter and ZipWriter both have them). */
export interface RecordedWriter {
  add(entry: Entry, body?: Body, opts?: { store?: boolean }): Promise<{ offset: number; warnings: string[] }>;
  finish(trailer?: { length: number; make: () => Buffer | Promise<Buffer> }): Promise<void>;
}

/** In ManifestRecorder's fold queue of digest ids: the next packed run's range digests. */
const RUN_FOLD = -1;

export const MANIFEST_FEATURES = { compat: [MANIFEST_FEATURE], rocompat: [] as string[], incompat: [] as string[] };

export class ManifestRecorder {
  readonly sink: DigestingSink;
  // 1 MiB in memory, then a temporary file (a manifest takes ~300 bytes an entry).
  private spool = new CentralSpool(1 << 20);
  private manifest: ManifestWriter;
  private started: Promise<void>;
  private pendingDigest?: () => string;
  private headWritten = false;
  /**
   * The whole-archive digest (spec/manifest.md §7): SHA-256 of the member range digests in order,
   * as bytes. Their ids wait in `folds` until they arrive; then their bytes gather in `foldBuf`.
   */
  private rangeList = createHash('sha256');
  private folds = new Float64Array(1024);
  private foldHead = 0;
  private foldTail = 0;
  private foldBuf = Buffer.allocUnsafeSlow(32 << 10);
  private foldUsed = 0;
  /** The last digest id queued to fold (finish waits for it). */
  private lastFoldId = -1;
  private runs = new RunDigests();
  /** Packed runs queued to fold (RUN_FOLD in `folds`), in order. */
  private runFolds: RunPiece[] = [];
  /** The newest entry mtime: the manifest and trailer get it, so that equal inputs give equal bytes. */
  private newest = 0n;

  /**
   * Packed runs are digested by the addon on the threadpool (beforeRun): for a plain tar, unless
   * hashing on this thread was asked for. Not for a compressed one (both cores compress: it is as
   * it was, and the scan keeps its smaller buffer, the memory the compressor needs).
   */
  readonly holdsRuns: boolean;

  constructor(
    down: DownstreamSink,
    private format: 'tar' | 'zip',
    creator: string,
    compression: { filter: 'none' | 'gzip' | 'zstd'; level?: number } = { filter: 'none' },
    hashing: HashMode = 'auto',
  ) {
    this.sink = new DigestingSink(down, hashing);
    this.holdsRuns = format === 'tar' && compression.filter === 'none' && hashing !== 'thread' && nativeRunLines();
    // Lines are written at once; the digests the hashing has not delivered yet are copied in when
    // a batch of lines is handed to the spool.
    this.manifest = new ManifestWriter((chunk) => this.spool.add(chunk), this.sink);
    const gzipHeader = compression.filter === 'gzip' ? gzipHead(compression.level ?? 6) : undefined;
    this.started = this.manifest.head({ spec: SPEC_VERSION_TEXT, creator, container: format, features: MANIFEST_FEATURES, compression: compression.filter, gzipHeader });
  }

  /** Wrap an entry's body so that its content digest is computed as the writer reads it. */
  body(entry: Entry, body: Body): Body {
    // Readers hide members of these names in an archive with a manifest (spec/manifest.md §2): a
    // user's file of that name would never be listed or extracted. Under `./` or `/` too: GNU tar,
    // bsdtar, unzip and 7-Zip take those off, and would extract the archive's own manifest over the
    // user's file (exit 0). (bareName, not pathKey: this runs for every entry archived, and makes
    // no string.)
    if (isManifestMember(bareName(entry.path), MANIFEST_FEATURES.compat)) {
      throw new EntryError(`the name "${entry.name}" is reserved for the archive's manifest (spec/manifest.md §2): portarc would hide this entry, and other tools (which take off "./") would extract the manifest over it; leave it out (--exclude .portarc) or archive without a manifest (create --no-manifest)`, { entry: entry.name });
    }
    this.pendingDigest = undefined;
    this.sink.member(entry.type === 'file' ? entry.size : 0);
    if (entry.type !== 'file') return body;
    if (this.format === 'tar' && !entry.sparse) {
      // A dense tar file stores its content as is: the sink digests it with the data range.
      this.sink.expectContent(entry.size);
      return body;
    }
    const d = digestBody(entry, body);
    this.pendingDigest = d.digest;
    return d.body;
  }

  /**
   * After writer.add(): write the entry's line with its offsets and digests (those still being
   * computed are copied in later). A promise only when it has to wait (the head, the spool, digests).
   */
  added(entry: Entry, offset: number): void | Promise<void> {
    if (!this.headWritten) return this.started.then(() => ((this.headWritten = true), this.added(entry, offset)));
    if (entry.mtimeNs > this.newest) this.newest = entry.mtimeNs;
    const pending = this.pendingDigest;
    const sha256 = entry.type !== 'file' ? undefined : pending ? pending() : this.sink.contentDigest();
    this.pendingDigest = undefined;
    if (entry.type === 'file' && sha256 === undefined) throw new Error(`${entry.name}: no content digest was computed`);
    const range = this.sink.endMember();
    this.foldLater(range.headerSha256);
    if (range.dataSha256 !== undefined) this.foldLater(range.dataSha256);
    // Hashing on this thread: take the digests now (the batch is small), so nothing waits.
    if (this.sink.hashing === 'thread') this.sink.flush();
    this.fold();
    return this.manifest.entry({
      path: entry.path,
      type: entry.type,
      size: entry.type === 'file' ? entry.size : 0,
      link: entry.type === 'symlink' || entry.type === 'hardlink' ? entry.linkTarget : undefined,
      offset,
      data: range.data,
      end: range.end,
      sha256,
      headerSha256: range.headerSha256,
      dataSha256: range.dataSha256,
    });
  }

  /**
   * Before writer.addPacked(): the run's digests and lines can be made by the addon on the
   * threadpool (native/run_lines.c) when its bytes stay as they are until that is done (the scan
   * waits for run.hold). The sink then leaves them out of its ring.
   */
  beforeRun(run: PackedRun): void {
    this.sink.passNext = this.holdsRuns && run.hold !== undefined;
  }

  /**
   * After writer.addPacked(): a line per member of the run, as added() writes it for a file, from
   * the digests the sink's writeMembers() asked for (src/tar/pack.ts), or all made on the
   * threadpool when the sink passed the run.
   */
  async addedRun(run: PackedRun, offset: number): Promise<void> {
    if (!this.headWritten) {
      await this.started;
      this.headWritten = true;
    }
    if (run.newestNs > this.newest) this.newest = run.newestNs;
    if (this.sink.passed) return this.addedRunNative(run, offset);
    const ids = this.sink.runIds;
    const l = run.layout;
    for (let i = 0; i < run.count; i++) {
      const o = i * 4;
      const header = ids[i * 3]!;
      const content = ids[i * 3 + 1]!;
      const data = ids[i * 3 + 2]!;
      this.foldLater(header);
      if (data >= 0) this.foldLater(data);
      const w = this.manifest.entry({
        path: run.paths[i]!,
        type: 'file',
        size: l[o + 2]! - l[o + 1]!,
        offset: offset + l[o]!,
        data: offset + l[o + 1]!,
        end: offset + l[o + 3]!,
        sha256: content >= 0 ? content : EMPTY_SHA256,
        headerSha256: header,
        dataSha256: data >= 0 ? data : undefined,
      });
      if (w) await w;
    }
    if (this.sink.hashing === 'thread') this.sink.flush();
    this.fold();
  }

  /** A run's lines and range digests, made by the addon while the next runs are scanned. */
  private addedRunNative(run: PackedRun, offset: number): void | Promise<void> {
    const piece = this.runs.add(run, offset);
    run.hold!(piece);
    this.runFolds.push(piece);
    this.foldLater(RUN_FOLD);
    this.fold();
    return this.manifest.later(piece, run.count);
  }

  private foldLater(id: number): void {
    if (id >= 0) this.lastFoldId = id;
    if (this.foldTail === this.folds.length) {
      // Move what is waiting to the front; grow when more than half the queue waits.
      const n = this.foldTail - this.foldHead;
      if (n * 2 > this.folds.length) {
        const grown = new Float64Array(this.folds.length * 2);
        grown.set(this.folds.subarray(this.foldHead, this.foldTail));
        this.folds = grown;
      } else this.folds.copyWithin(0, this.foldHead, this.foldTail);
      this.foldTail = n;
      this.foldHead = 0;
    }
    this.folds[this.foldTail++] = id;
  }

  /** Fold the range digests that have arrived, in order. */
  private fold(): void {
    const sink = this.sink;
    while (this.foldHead < this.foldTail) {
      const id = this.folds[this.foldHead]!;
      if (id === RUN_FOLD) {
        // The next packed run's range digests, in its place.
        const run = this.runFolds[0]!;
        if (!run.ready) return;
        this.foldFlush();
        this.rangeList.update(run.fold());
        this.runFolds.shift();
        this.foldHead++;
        continue;
      }
      if (!sink.ready(id)) return;
      if (this.foldUsed === this.foldBuf.length) this.foldFlush();
      sink.copyBytes(id, this.foldBuf, this.foldUsed);
      this.foldHead++;
      this.foldUsed += 32;
    }
  }

  private foldFlush(): void {
    this.rangeList.update(this.foldBuf.subarray(0, this.foldUsed));
    this.foldUsed = 0;
  }

  /** Write the manifest member, the trailer, and end the container. */
  async finish(writer: RecordedWriter): Promise<void> {
    try {
      await this.started;
      const manifestOffset = this.sink.position;
      // Every range digest asked for: the last one, then all are there.
      if (this.lastFoldId >= 0) await this.sink.wait(this.lastFoldId);
      await this.runs.send();
      for (const run of this.runFolds) await run.settled;
      this.fold();
      if (this.foldHead !== this.foldTail) throw new Error('manifest: range digests left out of the archive digest');
      this.foldFlush();
      const archive = { bytes: manifestOffset, sha256: this.rangeList.digest('hex') };
      await this.manifest.foot(archive);
      this.sink.openRange();
      const xmlHash = createHash('sha256');
      const spool = this.spool;
      let manifestData = -1;
      const sink = this.sink;
      const format = this.format;
      async function* xml(): AsyncGenerator<Buffer> {
        // A tar writer is done with each chunk before it asks for the next (the zip writer may
        // gather the body first): the spilled manifest comes through one reused buffer.
        for await (const b of spool.drain(format === 'tar')) {
          if (manifestData < 0) manifestData = sink.position;
          xmlHash.update(b);
          yield b;
        }
      }
      const now = (this.newest / 1_000_000_000n) * 1_000_000_000n;
      const size = spool.bytes;
      // Stored, never compressed, so that its bytes can be read straight from the container.
      const added = await writer.add(makeEntry({ path: MANIFEST_NAME, type: 'file', size, mode: 0o644, mtimeNs: now }), xml(), { store: true });
      if (added.warnings.length) throw new Error(`manifest member: ${added.warnings.join('; ')}`);
      if (size === 0 || manifestData < 0) throw new Error('manifest spool was empty');
      // The data offset the writer reported is where the XML starts (the zip writer may have
      // gathered the body before writing the header).
      const r = this.sink.endMember();
      manifestData = r.data;
      const memberSha256 = await this.sink.closeRange();
      const manifestEnd = this.sink.position;
      this.sink.openRange();
      const trailer = async () =>
        encodeTrailer({
          manifestOffset,
          manifestData,
          manifestSize: size,
          manifestEnd,
          archiveSha256: archive.sha256,
          manifestSha256: xmlHash.digest('hex'),
          memberSha256,
          endSha256: await this.sink.closeRange(),
        });
      if (this.format === 'tar') {
        // The trailer text is made when the writer asks for the body: after its header is out.
        async function* body(): AsyncGenerator<Buffer> {
          const t = await trailer();
          yield Buffer.concat([t, Buffer.alloc(TRAILER_SIZE - t.length)]);
        }
        const t = await writer.add(makeEntry({ path: TRAILER_NAME, type: 'file', size: TRAILER_SIZE, mode: 0o644, mtimeNs: now }), body());
        if (t.warnings.length) throw new Error(`trailer member: ${t.warnings.join('; ')}`);
        await writer.finish();
      } else {
        await writer.finish({ length: TRAILER_TEXT_SIZE, make: trailer });
      }
    } finally {
      await this.sink.release();
      await this.spool.dispose();
    }
  }

  async abort(): Promise<void> {
    await this.sink.release();
    await this.spool.dispose();
  }
}

/** The gzip header node:zlib writes (RFC 1952: no flags, MTIME 0, XFL by level as zlib sets it, OS 3). */
function gzipHead(level: number): string {
  const xfl = level === 9 ? '02' : level < 2 ? '04' : '00';
  return `1f8b080000000000${xfl}03`;
}

/** A path without the `./` and `/` other tools take off its start. */
function bareName(path: Buffer): Buffer {
  let at = 0;
  for (;;) {
    if (path[at] === 0x2f) at++;
    else if (path[at] === 0x2e && path[at + 1] === 0x2f) at += 2;
    else return at ? path.subarray(at) : path;
  }
}
