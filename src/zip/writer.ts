// Streaming ZIP writer: for each entry a local header, the (stored or compressed) data and, for
// large streamed files only, a data descriptor; then the central directory, zip64 records when a
// count, size or offset needs them, and the end record. Writes to any Sink, never seeks.
// Spec: spec/zip-profile.md §2 (records written), §4 (entry types), §5 (PX and overflow).
//
// Data descriptors: a file whose dense size is at most `bufferLimit` (default 1 MiB) is read
// whole first, so its local header holds the real CRC and sizes and streaming readers (ours,
// libarchive's, Java's) need no descriptor. A larger file is streamed: flag bit 3, zero CRC and
// sizes in the local header as APPNOTE 4.4.4 requires, a signed descriptor after the data, and a
// PX size record in the local header so that a streaming reader knows where stored data ends.

import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ZlibDriver } from '../compress/zlibstream.js';
import type { Entry } from '../model/entry.js';
import { collect, densify, exactly, type Body } from './body.js';
import { crc32 } from './crc.js';
import { toDos } from './dostime.js';
import { encodeExtra, libarchiveXlBlock, timestampBlock, unixIdsBlock, zip64Block, type ExtraBlock } from './extra.js';
import { externalAttr, nameFlag, zipName } from './entrymap.js';
import { formatArchiveRecord, type FeatureClass } from './info.js';
import { DEFLATE, STORE, deflateBound, zipMethod, type ZipMethod } from './methods.js';
import { PX, PX_HEAD, PX_ID, RECORD_HEAD, encodePx, metadataRecords, recordSize, u32, u64, type PxRecord } from './portarc-extra.js';
import {
  FLAG,
  MADE_BY,
  U16,
  U32,
  encodeCentral,
  encodeDescriptor,
  encodeEocd,
  encodeLocal,
  encodeZip64Eocd,
  encodeZip64Locator,
} from './records.js';
import { CentralSpool } from './spool.js';
import { EntryError, PortarcError, UsageError } from '../model/errors.js';

/** Where archive bytes go. `write` may return a promise to apply backpressure. (Same as the tar Sink.) */
export interface Sink {
  write(chunk: Buffer): void | Promise<void>;
  /** Told just before a member's stored data is written (the manifest's data offsets, spec/manifest.md §7). */
  markData?(): void;
}

export interface ZipWriterOptions {
  /** Written into the PX archive record of the first member. */
  creator?: string;
  features?: Partial<Record<FeatureClass, string[]>>;
  /** Compression method for file data: 'deflate' (default), 'store', 'zstd', or a registered method's id or name. */
  method?: number | string;
  /** Compression level passed to the method (deflate: 0–9, default 6; zstd: 1–19, default 3). */
  level?: number;
  /** Files up to this dense size are compressed in memory and need no data descriptor. Default 1 MiB. */
  bufferLimit?: number;
  /** Central directory bytes kept in memory before they spill to a temporary file. Default 4 MiB. */
  centralMemoryLimit?: number;
  /** Directory for that temporary file. Default: the OS temporary directory. */
  tempDir?: string;
  /** 'copy' (default): a hardlink given a body stores that content too; 'link-only': never (spec §4.2). */
  hardlinks?: 'copy' | 'link-only';
}

/** Extra data budget per header, less what the standard blocks and PX framing can take. */
const HEADER_EXTRA_MAX = U16;
const STANDARD_EXTRA_MAX = 4 + 24 + 4 + 9 + 4 + 11 + 4 + 7; // zip64 (3 values), UT (local), ux, xl (local)
const PX_BUDGET = HEADER_EXTRA_MAX - STANDARD_EXTRA_MAX - 4 - PX_HEAD - 2 * (RECORD_HEAD + 8); // room for size + overflowRef

const SMALL_SYNC = 128 * 1024;

interface Member {
  name: Buffer;
  externalAttr: number;
  mtimeNs: bigint;
  atimeNs?: bigint;
  uid: number;
  gid: number;
  px: PxRecord[];
  /** Content known up front (possibly empty), or a stream of exactly `size` bytes. */
  data: Buffer | { stream: AsyncIterable<Buffer>; size: number };
  /** Symlink targets and empty members are always stored. */
  store?: boolean;
  /** An overflow member: part of the next entry's header range, so no data mark. */
  overflow?: boolean;
}

export class ZipWriter {
  /** Bytes written so far: the offset of the next local header. */
  position = 0;
  private method: ZipMethod;
  private spool: CentralSpool;
  private first = true;
  private done = false;
  private overflowCount = 0;

  constructor(
    private sink: Sink,
    private opts: ZipWriterOptions = {},
  ) {
    const m = zipMethod(opts.method ?? DEFLATE);
    if (!m) throw new PortarcError(`compression method ${String(opts.method)} is not available`, {}, 'PORTARC_UNSUPPORTED');
    const why = m.compressError?.();
    if (why) throw new PortarcError(why, {}, 'PORTARC_UNSUPPORTED');
    this.method = m;
    this.spool = new CentralSpool(opts.centralMemoryLimit, opts.tempDir);
  }

  private async out(chunk: Buffer): Promise<void> {
    this.position += chunk.length;
    await this.sink.write(chunk);
  }

  /**
   * Add one entry. For files, `body` must yield exactly entry.size bytes (for sparse entries, the
   * data runs back to back; they are stored dense). A hardlink may come with a body and the size
   * of its content, which is then stored as a copy. Returns the offset of the entry's local header
   * and warnings when the body did not match the size.
   */
  async add(entry: Entry, body?: Body, opts: { store?: boolean } = {}): Promise<{ offset: number; warnings: string[] }> {
    if (this.done) throw new PortarcError('ZipWriter.add after finish');
    const warnings: string[] = [];
    const name = zipName(entry);
    if (entry.path.length === 0) throw new UsageError('an entry needs a non-empty path');
    if (name.includes(0)) throw new EntryError('a path with a NUL byte cannot be stored', { entry: entry.name });
    if (name.length > U16) throw new EntryError(`a path of ${name.length} bytes exceeds ZIP's 65535`, { entry: entry.name });
    if (!Number.isSafeInteger(entry.size) || entry.size < 0) throw new UsageError(`size ${entry.size} is not a byte count`, { entry: entry.name });
    if ((entry.type === 'chardev' || entry.type === 'blockdev') && !((entry.devMajor ?? 0) <= 0xffffffff && (entry.devMinor ?? 0) <= 0xffffffff)) {
      // PX keeps 32-bit device numbers (spec/zip-profile.md §5): cut down, it would name another device.
      throw new EntryError(`device ${entry.devMajor},${entry.devMinor} does not fit the zip profile's 32-bit device numbers (a tar keeps it)`, { entry: entry.name });
    }

    const records = metadataRecords(entry);
    if (this.first) {
      records.unshift({ type: PX.archive, value: formatArchiveRecord(this.opts.creator ?? 'portarc', this.opts.features) });
      this.first = false;
    }
    const { kept, spilled } = splitRecords(records);
    if (spilled.length) {
      const ref = await this.writeOverflow(entry, spilled);
      kept.push({ type: PX.overflowRef, value: u64(ref) });
    }

    let data: Member['data'] = Buffer.alloc(0);
    if (entry.type === 'symlink') data = entry.linkTarget ?? Buffer.alloc(0);
    else if (entry.type === 'file' || (entry.type === 'hardlink' && this.opts.hardlinks !== 'link-only' && body !== undefined && entry.size > 0)) {
      // A hardlink given a body is stored with a copy of the content, so that other tools get
      // the data too; portarc still restores it as a link (spec §4.2).
      const runs = entry.type === 'file' ? entry.sparse : undefined;
      const stored = runs ? runs.reduce((n, r) => n + r.length, 0) : entry.size;
      if (!runs && Buffer.isBuffer(body) && body.length === entry.size) data = body;
      else {
        let stream: AsyncIterable<Buffer> = exactly(body, stored, entry.name, warnings);
        if (runs) stream = densify(stream, runs, entry.size);
        data = entry.size <= (this.opts.bufferLimit ?? 1 << 20) ? await collect(stream, entry.size) : { stream, size: entry.size };
      }
    }
    const offset = this.position;
    await this.writeMember({
      name,
      externalAttr: externalAttr(entry),
      mtimeNs: entry.mtimeNs,
      atimeNs: entry.atimeNs,
      uid: entry.uid,
      gid: entry.gid,
      px: kept,
      data,
      store: entry.type === 'symlink' || opts.store,
    });
    return { offset, warnings };
  }

  /** A hidden member holding the PX records that did not fit in the entry's headers (spec §5.5). */
  private async writeOverflow(entry: Entry, records: PxRecord[]): Promise<number> {
    const offset = this.position;
    await this.writeMember({
      name: Buffer.from(`.portarc/overflow/${++this.overflowCount}`),
      externalAttr: ((0o100600 << 16) >>> 0),
      mtimeNs: entry.mtimeNs,
      uid: 0,
      gid: 0,
      px: [
        { type: PX.mode, value: u32(0o100600) },
        { type: PX.overflowMember, value: Buffer.alloc(0) },
      ],
      data: encodePx(records),
      overflow: true,
    });
    return offset;
  }

  private async writeMember(m: Member): Promise<void> {
    const offset = this.position;
    const dos = toDos(m.mtimeNs);
    const flags = nameFlag(m.name);
    const ux = unixIdsBlock(m.uid, m.gid);
    const localUt = timestampBlock(m.mtimeNs, m.atimeNs, true);
    const centralUt = timestampBlock(m.mtimeNs, m.atimeNs, false);
    const xl = libarchiveXlBlock(MADE_BY, m.externalAttr);
    const std = (ut: ExtraBlock | undefined, local = false): ExtraBlock[] => [...(ut ? [ut] : []), ux, ...(local ? [xl] : [])];
    const px: ExtraBlock = { id: PX_ID, data: encodePx(m.px) }; // shared by both headers

    let method = STORE;
    let versionNeeded = m.name[m.name.length - 1] === 0x2f ? 20 : 10;
    let crc = 0;
    let csize = 0;
    let usize = 0;
    let zip64 = false;
    let descriptor = false;

    if (Buffer.isBuffer(m.data)) {
      const raw = m.data;
      usize = raw.length;
      crc = crc32(raw);
      let payload = raw;
      if (usize > 0 && !m.store && this.method.id !== STORE) {
        const packed = await compressBuffer(this.method, raw, this.opts.level);
        if (packed.length < usize) {
          payload = packed;
          method = this.method.id;
          versionNeeded = Math.max(versionNeeded, this.method.versionNeeded);
        }
      }
      csize = payload.length;
      zip64 = usize >= U32 || csize >= U32;
      if (zip64) versionNeeded = Math.max(versionNeeded, 45);
      const localExtra = encodeExtra([...(zip64 ? [zip64Block([usize, csize])] : []), ...std(localUt, true), px]);
      const local = encodeLocal({
        versionNeeded,
        flags,
        method,
        dosTime: dos.time,
        dosDate: dos.date,
        crc,
        csize: zip64 ? U32 : csize,
        usize: zip64 ? U32 : usize,
        name: m.name,
        extra: localExtra,
      });
      if (payload.length <= SMALL_SYNC && (!this.sink.markData || m.overflow)) await this.out(Buffer.concat([local, payload]));
      else {
        await this.out(local);
        if (!m.overflow) this.sink.markData?.();
        await this.out(payload);
      }
    } else {
      const { stream, size } = m.data;
      descriptor = true;
      const codec = m.store ? zipMethod(STORE)! : this.method;
      method = codec.id;
      versionNeeded = Math.max(versionNeeded, codec.versionNeeded);
      // The local header must announce zip64 now if the entry may need it (APPNOTE 4.3.9.2).
      const bound = codec.id === STORE ? size : codec.id === DEFLATE ? deflateBound(size) : size + Math.ceil(size / 64) + 1024;
      zip64 = size >= U32 || bound >= U32;
      if (zip64) versionNeeded = Math.max(versionNeeded, 45);
      const localPx: ExtraBlock = { id: PX_ID, data: encodePx([...m.px, { type: PX.size, value: u64(size) }]) };
      const localExtra = encodeExtra([...(zip64 ? [zip64Block([0, 0])] : []), ...std(localUt, true), localPx]);
      await this.out(
        encodeLocal({
          versionNeeded,
          flags: flags | FLAG.descriptor,
          method,
          dosTime: dos.time,
          dosDate: dos.date,
          crc: 0,
          csize: zip64 ? U32 : 0,
          usize: zip64 ? U32 : 0,
          name: m.name,
          extra: localExtra,
        }),
      );
      this.sink.markData?.();
      const counted = countingStream(stream);
      if (codec.id === STORE) {
        for await (const part of counted.iterable) {
          csize += part.length;
          await this.out(part);
        }
      } else {
        // One input chunk at a time, its output written before the next is read (ZlibDriver:
        // zlib's own backpressure, and the input chunk is done with once its push ends, so the
        // scan may reuse its buffer). A pipe queued up to 16 chunks of 1 MiB and their output.
        const z = new ZlibDriver(codec.compressor(this.opts.level));
        try {
          for await (const part of counted.iterable) {
            for await (const c of z.push(part)) {
              csize += c.length;
              await this.out(c);
            }
          }
          for await (const c of z.end()) {
            csize += c.length;
            await this.out(c);
          }
        } catch (err) {
          z.destroy();
          throw err;
        }
      }
      crc = counted.crc();
      usize = counted.size();
      if (!zip64 && (csize >= U32 || usize >= U32)) throw new EntryError('entry outgrew the 4 GiB its local header announced', { entry: m.name.toString() });
      await this.out(encodeDescriptor(crc, csize, usize, zip64));
    }

    // Central header: zip64 holds whichever of usize, csize, offset do not fit, in that order.
    const big = [usize >= U32 ? usize : undefined, csize >= U32 ? csize : undefined, offset >= U32 ? offset : undefined];
    const wide = big.filter((v): v is number => v !== undefined);
    if (wide.length) versionNeeded = Math.max(versionNeeded, 45);
    const centralExtra = encodeExtra([...(wide.length ? [zip64Block(wide)] : []), ...std(centralUt), px]);
    await this.spool.add(
      encodeCentral({
        madeBy: MADE_BY,
        versionNeeded,
        flags: flags | (descriptor ? FLAG.descriptor : 0),
        method,
        dosTime: dos.time,
        dosDate: dos.date,
        crc,
        csize: csize >= U32 ? U32 : csize,
        usize: usize >= U32 ? U32 : usize,
        name: m.name,
        extra: centralExtra,
        comment: Buffer.alloc(0),
        diskStart: 0,
        internalAttr: 0,
        externalAttr: m.externalAttr,
        offset: offset >= U32 ? U32 : offset,
      }),
    );
  }

  /** Central directory, zip64 end records when needed, end of central directory record. */
  async finish(trailer?: { length: number; make: () => Buffer | Promise<Buffer> }): Promise<void> {
    if (this.done) return;
    this.done = true;
    try {
      const cdOffset = this.position;
      for await (const block of this.spool.drain()) await this.out(block);
      const cdSize = this.position - cdOffset;
      const count = this.spool.count;
      if (count >= U16 || cdSize >= U32 || cdOffset >= U32) {
        const at = this.position;
        await this.out(Buffer.concat([encodeZip64Eocd(count, cdSize, cdOffset), encodeZip64Locator(at)]));
      }
      // The comment holds the manifest's trailer (spec/manifest.md §5.2), made once the bytes before it are out.
      await this.out(encodeEocd(count, cdSize, cdOffset, trailer?.length ?? 0));
      if (trailer) await this.out(await trailer.make());
    } finally {
      await this.spool.dispose();
    }
  }

  /** Give up: remove the temporary central directory file. The sink is the caller's to discard. */
  async abort(): Promise<void> {
    this.done = true;
    await this.spool.dispose();
  }
}

/** Keep the records that fit one header in order, spill the rest (spec §5.5). */
function splitRecords(records: PxRecord[]): { kept: PxRecord[]; spilled: PxRecord[] } {
  const total = records.reduce((n, r) => n + recordSize(r), 0);
  if (total <= PX_BUDGET) return { kept: records, spilled: [] };
  const kept: PxRecord[] = [];
  const spilled: PxRecord[] = [];
  let left = PX_BUDGET;
  for (const r of records) {
    // Archive data and the mode are needed by every reader, and are small: never spilled.
    if (r.type === PX.archive || r.type === PX.mode || recordSize(r) <= left) {
      kept.push(r);
      left -= recordSize(r);
    } else spilled.push(r);
  }
  return { kept, spilled };
}

async function compressBuffer(method: ZipMethod, data: Buffer, level: number | undefined): Promise<Buffer> {
  if (method.compressSync && data.length <= SMALL_SYNC) return method.compressSync(data, level);
  const chunks: Buffer[] = [];
  await pipeline(Readable.from([data]), method.compressor(level), async (src: AsyncIterable<Buffer>) => {
    for await (const c of src) chunks.push(c);
  });
  return Buffer.concat(chunks);
}

/** Pass chunks through while keeping their CRC and total length. */
function countingStream(src: AsyncIterable<Buffer>): { iterable: AsyncIterable<Buffer>; crc: () => number; size: () => number } {
  let crc = 0;
  let size = 0;
  return {
    iterable: (async function* () {
      for await (const part of src) {
        crc = crc32(part, crc);
        size += part.length;
        yield part;
      }
    })(),
    crc: () => crc,
    size: () => size,
  };
}
