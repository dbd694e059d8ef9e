// Streaming pax writer: a global header naming the spec version, then for each entry an optional
// `x` header with what the ustar fields cannot hold, the ustar header, and the data.
// Spec: spec/portarc-1.md §4 (container) and §5 (metadata encodings).

import type { Entry } from '../model/entry.js';
import { BLOCK, TYPE, USTAR_MAX, encodeUstar, encodeUstarInto, splitUstarPath, type UstarFields } from './header.js';
import { formatPaxRecord } from './pax.js';
import { metadataRecords } from './paxmap.js';
import { exactly } from '../io/body.js';
import { globalRecords, type FeatureClass } from './version.js';
import { packStats, type PackedRun } from './pack.js';

/** Where archive bytes go. `write` may return a promise to apply backpressure. */
export interface Sink {
  write(chunk: Buffer): void | Promise<void>;
  /** Told just before a member's stored data is written (the manifest's data offsets, spec/manifest.md §7). */
  markData?(): void;
  /** Whole members written at once (addPacked), `layout` as PackedRun's; else they go to write(). */
  writeMembers?(chunk: Buffer, layout: Float64Array, count: number): void | Promise<void>;
}

export interface TarWriterOptions {
  creator?: string;
  features?: Record<FeatureClass, string[]>;
}

const TYPEFLAG: Record<Entry['type'], number> = {
  file: TYPE.file,
  directory: TYPE.directory,
  symlink: TYPE.symlink,
  hardlink: TYPE.hardlink,
  fifo: TYPE.fifo,
  chardev: TYPE.chardev,
  blockdev: TYPE.blockdev,
};

const ZEROS = Buffer.alloc(BLOCK * 20);
/** The name of every member's `x` header (GNU tar's and bsdtar's is other; any name is valid). */
const PAX_NAME = '././@PaxHeader';
const PAX_NAME_BYTES = Buffer.from(PAX_NAME);
/** An empty field, shared (fields are only read). */
const EMPTY = Buffer.alloc(0);
/** Archives end on a multiple of this, as GNU tar and bsdtar write them (blocking factor 20). */
const RECORD = BLOCK * 20;
const padding = (n: number) => (BLOCK - (n % BLOCK)) % BLOCK;
/** Name of the member that marks a stream whose writer failed (see poison()). */
export const INCOMPLETE = 'PORTARC-INCOMPLETE-ARCHIVE';

export class TarWriter {
  private started = false;
  /** Bytes written so far: the offset of the next member. */
  position = 0;
  /** Where the data of the member being written ends (without padding). */
  private dataEnd = 0;
  /**
   * A member's headers (the `x` header with its records, and the ustar block) are encoded here and
   * written in one piece; reused for every member (the sink is done with a chunk once its write
   * returns), so that many small files cost no fresh buffers.
   */
  private scratch = Buffer.allocUnsafeSlow(16 << 10);

  constructor(
    private sink: Sink,
    private opts: TarWriterOptions = {},
  ) {}

  /** Write a chunk; a promise only when the sink must be waited for (most writes need none). */
  private out(chunk: Buffer): void | Promise<void> {
    this.position += chunk.length;
    return this.sink.write(chunk);
  }

  private async extensionHeader(typeflag: number, name: string, records: Buffer[], mtime: number): Promise<void> {
    await this.out(Buffer.from(this.encodeHeaders(typeflag, name, records, mtime)));
  }

  /**
   * Encode into `scratch`: an extension header of type `typeflag` holding `records` (when there are
   * any), then `fields` as the ustar block (when given). Returns the view of what was encoded.
   */
  private encodeHeaders(typeflag: number, name: string, records: Buffer[], mtime: number, fields?: UstarFields): Buffer {
    let dataLength = 0;
    for (const r of records) dataLength += r.length;
    const need = (records.length ? BLOCK + dataLength + padding(dataLength) : 0) + (fields ? BLOCK : 0);
    if (need > this.scratch.length) this.scratch = Buffer.allocUnsafeSlow(Math.max(need, 2 * this.scratch.length));
    const b = this.scratch;
    let at = 0;
    if (records.length) {
      encodeUstarInto(b, 0, { ...BLANK, name: name === PAX_NAME ? PAX_NAME_BYTES : Buffer.from(name), mode: 0o644, size: dataLength, mtime, typeflag });
      at = BLOCK;
      for (const r of records) at += r.copy(b, at);
      const pad = padding(dataLength);
      b.fill(0, at, at + pad);
      at += pad;
    }
    if (fields) {
      encodeUstarInto(b, at, fields);
      at += BLOCK;
    }
    return b.subarray(0, at);
  }

  /** Owner names as ustar fields, by name (a tree has few owners: encoded once each). */
  private names = new Map<string, Buffer | undefined>();

  /** The ustar field for an owner name, or EMPTY with a pax record when it does not fit (non-ASCII, over 31 bytes). */
  private ownerName(v: string, key: 'uname' | 'gname', records: Buffer[]): Buffer {
    let b = this.names.get(v);
    if (b === undefined && !this.names.has(v)) {
      b = ustarName(v);
      if (this.names.size < 1024) this.names.set(v, b);
    }
    if (b) return b;
    records.push(formatPaxRecord(key, v));
    return EMPTY;
  }

  private async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const creator = this.opts.creator ?? 'portarc';
    await this.extensionHeader(TYPE.paxGlobal, '././@PaxGlobalHeader', globalRecords(creator, this.opts.features), 0);
  }

  /**
   * Add one entry. For files, `body` must yield exactly entry.size bytes (for sparse entries, the
   * data runs back to back). Returns warnings when the body did not match the size.
   * Returns the offset of the member's first header block.
   */
  async add(entry: Entry, body?: AsyncIterable<Buffer> | Buffer): Promise<{ offset: number; warnings: string[] }> {
    await this.start();
    const offset = this.position;
    const warnings: string[] = [];
    const isFile = entry.type === 'file';
    const sparse = isFile && entry.sparse ? entry.sparse : undefined;
    const sparseMap = sparse ? encodeSparseMap(sparse) : undefined;
    const dataSize = !isFile ? 0 : sparse ? sparse.reduce((n, r) => n + r.length, 0) : entry.size;
    const storedSize = dataSize + (sparseMap?.length ?? 0);

    const records: Buffer[] = [];
    let path: Buffer = entry.type === 'directory' ? Buffer.concat([entry.path, Buffer.from('/')]) : entry.path;
    if (sparse) {
      // GNU sparse 1.0: the real name goes in GNU.sparse.name, the ustar name is a stand-in.
      records.push(
        formatPaxRecord('GNU.sparse.major', '1'),
        formatPaxRecord('GNU.sparse.minor', '0'),
        formatPaxRecord('GNU.sparse.name', entry.path),
        formatPaxRecord('GNU.sparse.realsize', String(entry.size)),
      );
      const slash = entry.path.lastIndexOf(0x2f);
      const dir = slash >= 0 ? entry.path.subarray(0, slash + 1) : EMPTY;
      path = Buffer.concat([dir, Buffer.from('GNUSparseFile.0/'), entry.path.subarray(slash + 1)]);
    }
    let split = splitUstarPath(path);
    let locates = true;
    if (!split) {
      records.push(formatPaxRecord('path', path));
      split = { prefix: EMPTY, name: path.subarray(0, 100) };
      locates = false;
    }
    let linkname: Buffer = EMPTY;
    if (entry.linkTarget && (entry.type === 'symlink' || entry.type === 'hardlink')) {
      linkname = entry.linkTarget;
      if (linkname.length > 100) {
        records.push(formatPaxRecord('linkpath', linkname));
        linkname = linkname.subarray(0, 100);
        locates = false;
      }
    }
    const fit = (v: number, max: number, key: string) => {
      if (v <= max) return v;
      records.push(formatPaxRecord(key, String(v)));
      if (key === 'size') locates = false;
      return 0;
    };
    const size = fit(storedSize, USTAR_MAX.size, 'size');
    const uid = fit(entry.uid, USTAR_MAX.id, 'uid');
    const gid = fit(entry.gid, USTAR_MAX.id, 'gid');
    const uname = this.ownerName(entry.uname, 'uname', records);
    const gname = this.ownerName(entry.gname, 'gname', records);
    let devmajor = 0;
    let devminor = 0;
    if (entry.type === 'chardev' || entry.type === 'blockdev') {
      devmajor = fit(entry.devMajor ?? 0, USTAR_MAX.id, 'SCHILY.devmajor');
      devminor = fit(entry.devMinor ?? 0, USTAR_MAX.id, 'SCHILY.devminor');
    }
    records.push(...metadataRecords(entry, locates));

    const mtimeSec = entry.mtimeNs / 1_000_000_000n;
    const mtime = mtimeSec < 0n ? 0 : mtimeSec > BigInt(USTAR_MAX.time) ? USTAR_MAX.time : Number(mtimeSec);
    const fields: UstarFields = {
      name: split.name,
      prefix: split.prefix,
      mode: entry.mode & 0o7777,
      uid,
      gid,
      size,
      mtime,
      typeflag: TYPEFLAG[entry.type],
      linkname,
      uname,
      gname,
      devmajor,
      devminor,
    };
    let w = this.out(this.encodeHeaders(TYPE.paxLocal, PAX_NAME, records, mtime, fields));
    if (w) await w;
    this.dataEnd = this.position + storedSize;
    if (sparseMap && (w = this.out(sparseMap))) await w;
    if (isFile) {
      this.sink.markData?.();
      if ((w = this.writeBody(entry, body, dataSize, warnings))) await w;
    }
    if ((w = this.out(ZEROS.subarray(0, padding(storedSize))))) await w;
    return { offset, warnings };
  }

  /**
   * Write files the scan encoded as whole members, as add() would have (src/tar/pack.ts). Returns
   * the offset of the first one.
   */
  async addPacked(run: PackedRun): Promise<number> {
    await this.start();
    const offset = this.position;
    this.position += run.bytes.length;
    this.dataEnd = this.position;
    packStats.runs++;
    packStats.members += run.count;
    const w = this.sink.writeMembers ? this.sink.writeMembers(run.bytes, run.layout, run.count) : this.sink.write(run.bytes);
    if (w) await w;
    return offset;
  }

  private writeBody(entry: Entry, body: AsyncIterable<Buffer> | Buffer | undefined, size: number, warnings: string[]): void | Promise<void> {
    // The common small file: its content whole in memory, exactly the size announced.
    if (Buffer.isBuffer(body) && body.length === size) return this.out(body);
    return this.writeParts(exactly(body, size, entry.name, warnings));
  }

  private async writeParts(parts: AsyncIterable<Buffer>): Promise<void> {
    for await (const part of parts) await this.out(part);
  }

  /**
   * Mark a stream that cannot be completed (spec §8.5). Inside a member's data, nothing: the
   * stream ends before the data does. Between members: a header for a file larger than anything
   * that follows, and no end-of-archive blocks. Every reader (GNU tar, bsdtar, Python, portarc)
   * then fails with "unexpected EOF", where a stream merely cut between members would list and
   * extract as a complete, shorter archive.
   */
  async poison(): Promise<void> {
    await this.start();
    if (this.position < this.dataEnd) return;
    await this.out(ZEROS.subarray(0, padding(this.position)));
    await this.out(
      encodeUstar({ ...BLANK, name: Buffer.from(INCOMPLETE), size: USTAR_MAX.size, mode: 0o400, typeflag: TYPE.file }),
    );
  }

  /** End-of-archive: two zero blocks, then zeros up to a whole 10 KiB record. */
  async finish(): Promise<void> {
    await this.start();
    const end = this.position + 2 * BLOCK;
    const total = end + ((RECORD - (end % RECORD)) % RECORD);
    for (let left = total - this.position; left > 0; ) {
      const n = Math.min(left, ZEROS.length);
      await this.out(ZEROS.subarray(0, n));
      left -= n;
    }
  }
}

/** An owner name as its ustar field, or undefined when it needs a pax record (non-ASCII, over 31 bytes). */
export function ustarName(v: string): Buffer | undefined {
  const bytes = Buffer.from(v, 'utf8');
  return bytes.length <= 31 && /^[\x20-\x7e]*$/.test(v) ? bytes : undefined;
}

/** Empty ustar fields, to be spread and completed (never written to). */
const BLANK: Readonly<UstarFields> = { name: EMPTY, prefix: EMPTY, mode: 0, uid: 0, gid: 0, size: 0, mtime: 0, typeflag: TYPE.file, linkname: EMPTY, uname: EMPTY, gname: EMPTY, devmajor: 0, devminor: 0 };

/** GNU sparse 1.0 map: count, then offset/length pairs, one decimal per line, NUL-padded to a block. */
function encodeSparseMap(runs: Entry['sparse'] & object): Buffer {
  const text = [runs.length, ...runs.flatMap((r) => [r.offset, r.length])].join('\n') + '\n';
  const b = Buffer.from(text, 'latin1');
  return Buffer.concat([b, Buffer.alloc(padding(b.length))]);
}

