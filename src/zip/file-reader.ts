// Random-access ZIP reader for files: find the end record (scanning back over a comment), the zip64
// end record through its locator, check the whole central directory (counts, offsets inside the
// file, NUL in names, overlapping members), then list entries from it and read any one member's
// data on demand, checking its local header, descriptor and CRC against the central directory.
// Spec: spec/zip-profile.md §6.1. Memory: the central directory is read in 1 MiB windows; per
// entry only two numbers are kept (for the overlap check), so a million entries stay small.

import { open as openFile, type FileHandle } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { ArchiveError, DamagedError, LimitError, UnsupportedFeatureError } from '../model/errors.js';
import { DEFAULT_LIMITS, type Limits } from '../model/limits.js';
import { displayName, type Entry } from '../model/entry.js';
import { runsOf } from './body.js';
import { crc32 } from './crc.js';
import { decoder, type Feed } from './decode.js';
import { buildEntry, checkXattrLimits, readExtras } from './entrymap.js';
import { Zip64Error, applyZip64 } from './extra.js';
import { applyArchiveRecord, newZipArchiveInfo, type ZipArchiveInfo } from './info.js';
import { ONE_SHOT, STORE, zipMethod, type ZipMethod } from './methods.js';
import { PX, decodePx, type PxRecord } from './portarc-extra.js';
import {
  CENTRAL_SIZE,
  EOCD_SIZE,
  FLAG,
  LOCAL_SIZE,
  SIG,
  U16,
  U32,
  ZIP64_EOCD_SIZE,
  ZIP64_LOCATOR_SIZE,
  centralLength,
  decodeCentral,
  decodeEocd,
  decodeLocalFixed,
  descriptorCrc,
  matchDescriptor,
  readU64,
  type CentralHeader,
} from './records.js';
import { ZipStreamReader } from './stream-reader.js';

export interface ZipOpenOptions {
  /** Name used in error messages. Default: the path. */
  archiveName?: string;
  /** Bounds (model/limits.ts): entries, xattrs, and headerBytes for symlink targets and overflow members. */
  limits?: Partial<Limits>;
  /**
   * With no end record, read the file as a stream to name the member it was cut inside (the
   * default). False: fail at once, unnamed, for a caller that reads it as a stream itself.
   */
  nameCut?: boolean;
}

export interface ZipFileEntry {
  entry: Entry;
  /** Offset of the entry's local header (what list and the manifest report). */
  offset: number;
  /** The content, checked (CRC, sizes, local header) as it is read. Sparse: the runs, back to back. */
  open(): AsyncIterable<Buffer>;
}

const WINDOW = 1 << 20;
/** Members up to this compressed size are read with their local header in one call. */
const SMALL_MEMBER = 64 * 1024;

/** A central record with its zip64 values resolved and the prefix shift applied. */
interface CdRecord {
  h: CentralHeader;
  /** Real position of the local header in the file. */
  local: number;
  csize: number;
  usize: number;
  /** Position of this central record. */
  at: number;
  /** Its PX records (central copy). */
  px: PxRecord[];
}

export async function openZip(path: string, opts: ZipOpenOptions = {}): Promise<ZipFile> {
  const fh = await openFile(path, 'r');
  try {
    const zf = new ZipFile(fh, opts.archiveName ?? path, { ...DEFAULT_LIMITS, ...opts.limits });
    await zf.load(path, opts.nameCut !== false);
    return zf;
  } catch (err) {
    await fh.close();
    throw err;
  }
}

/**
 * An error that costs a zip file's member alone (damage, a method or encryption this reader
 * lacks): the members of a zip file are read independently, through the central directory.
 */
export function costsItsMember(err: unknown): err is ArchiveError {
  return err instanceof ArchiveError && (err.code === 'PORTARC_DAMAGED' || err.code === 'PORTARC_BAD_ARCHIVE' || err.code === 'PORTARC_UNSUPPORTED');
}

export class ZipFile {
  readonly info: ZipArchiveInfo = newZipArchiveInfo();
  /** Central directory records (portarc's hidden overflow members included). */
  count = 0;
  comment: Buffer = Buffer.alloc(0);
  private size = 0;
  private cdStart = 0;
  private cdEnd = 0;
  private delta = 0;
  /** Local header positions, ascending, and the least end of each member (overlap checks). */
  private starts: Float64Array = new Float64Array(0);
  private overflow = new Map<number, CdRecord>();

  private maxMeta: number;

  constructor(
    private fh: FileHandle,
    private name: string,
    private limits: Limits,
  ) {
    this.maxMeta = limits.headerBytes;
  }

  private fail(reason: string, offset: number, entry?: string, code?: 'PORTARC_LIMIT'): never {
    if (code) throw new LimitError(reason, { archive: this.name, entry, offset });
    throw new ArchiveError(reason, { archive: this.name, entry, offset });
  }

  private async read(pos: number, n: number): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(Math.max(0, Math.min(n, this.size - pos)));
    let got = 0;
    while (got < buf.length) {
      const { bytesRead } = await this.fh.read(buf, got, buf.length - got, pos + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return got === buf.length ? buf : buf.subarray(0, got);
  }

  /** @internal Find and check the end records and the central directory. */
  async load(path: string, nameCut = true): Promise<void> {
    this.size = (await this.fh.stat()).size;
    const tailLen = Math.min(this.size, EOCD_SIZE + U16 + ZIP64_LOCATOR_SIZE);
    const tailAt = this.size - tailLen;
    const tail = await this.read(tailAt, tailLen);
    let found = -1;
    for (let i = tail.length - EOCD_SIZE; i >= 0; i--) {
      if (tail.readUInt32LE(i) !== SIG.eocd) continue;
      if (i + EOCD_SIZE + tail.readUInt16LE(i + 20) <= tail.length) {
        found = i;
        break;
      }
    }
    if (found < 0) {
      // No end record: find out where a stream read breaks, to name the entry cut off.
      if (this.size > 0 && nameCut) {
        const stream = createReadStream(path);
        try {
          const reader = new ZipStreamReader(stream, { archiveName: this.name, limits: this.limits });
          for await (const m of reader) void m;
        } finally {
          stream.destroy(); // the reader stops at the damage: close the file it was reading
        }
      }
      this.fail('no end of central directory record: not a zip archive, or truncated', this.size);
    }
    const eocdPos = tailAt + found;
    const e = decodeEocd(tail, found);
    const trailing = tail.length - (found + EOCD_SIZE + e.commentLength);
    if (trailing > 0) this.info.warnings.push(`${this.name}: ${trailing} bytes after the end of central directory record ignored`);
    this.comment = Buffer.from(tail.subarray(found + EOCD_SIZE, found + EOCD_SIZE + e.commentLength));
    if (e.disk !== 0 || e.cdDisk !== 0) throw new UnsupportedFeatureError('multi-disk (split) zip archives are not supported', { archive: this.name, offset: eocdPos });
    let { entries, cdSize, cdOffset } = e;
    let cdEnd = eocdPos;
    const locAt = eocdPos - ZIP64_LOCATOR_SIZE;
    const loc = locAt >= 0 ? await this.read(locAt, ZIP64_LOCATOR_SIZE) : Buffer.alloc(0);
    if (loc.length === ZIP64_LOCATOR_SIZE && loc.readUInt32LE(0) === SIG.zip64Locator) {
      const stated = readU64(loc, 8);
      // Prefer the stated offset; with bytes prepended to the archive it is where the record sits less the prefix.
      let recAt = stated ?? -1;
      let rec = recAt >= 0 ? await this.read(recAt, ZIP64_EOCD_SIZE) : Buffer.alloc(0);
      if (rec.length < ZIP64_EOCD_SIZE || rec.readUInt32LE(0) !== SIG.zip64Eocd) {
        recAt = locAt - ZIP64_EOCD_SIZE;
        rec = recAt >= 0 ? await this.read(recAt, ZIP64_EOCD_SIZE) : Buffer.alloc(0);
        if (rec.length < ZIP64_EOCD_SIZE || rec.readUInt32LE(0) !== SIG.zip64Eocd) this.fail('zip64 end of central directory locator points to no zip64 record', locAt);
      }
      const n = readU64(rec, 32);
      const s = readU64(rec, 40);
      const o = readU64(rec, 48);
      if (n === undefined || s === undefined || o === undefined) this.fail('zip64 end of central directory record holds values beyond 2^53', recAt);
      [entries, cdSize, cdOffset, cdEnd] = [n, s, o, recAt];
    } else if (e.entries === U16 && e.cdOffset === U32) {
      this.fail('the end record defers to a zip64 record that is not there', eocdPos);
    }
    this.delta = cdEnd - (cdOffset + cdSize);
    if (this.delta < 0) this.fail(`central directory (offset ${cdOffset}, ${cdSize} bytes) runs past the end record at ${cdEnd}`, eocdPos);
    if (this.delta > 0) {
      // A self-extractor's stub, usually; a zip member's signature there is another archive before
      // this one (cat a.zip b.zip), whose entries nothing reads: said so.
      const first = await this.read(0, 4);
      const zipBefore = first.length === 4 && first.readUInt32LE(0) === SIG.local;
      this.info.warnings.push(`${this.name}: ${this.delta} extra bytes before the archive data; offsets adjusted${zipBefore ? ' (they begin with a zip member: another archive before this one, as by cat? Its entries were not read)' : ''}`);
    }
    this.cdStart = cdOffset + this.delta;
    this.cdEnd = cdEnd;
    await this.checkCentral(entries);
  }

  /** Every central record, in order, with its values resolved. */
  private async *records(): AsyncGenerator<CdRecord> {
    let win: Buffer = Buffer.alloc(0);
    let winAt = this.cdStart;
    let pos = this.cdStart;
    const need = async (n: number): Promise<Buffer> => {
      if (pos < winAt || pos + n > winAt + win.length) {
        win = await this.read(pos, Math.max(n, WINDOW));
        winAt = pos;
        if (pos + n > this.cdEnd || win.length < n) this.fail('central directory is truncated', pos);
      }
      return win.subarray(pos - winAt, pos - winAt + n);
    };
    while (pos < this.cdEnd) {
      const fixed = await need(CENTRAL_SIZE);
      if (fixed.readUInt32LE(0) !== SIG.central) {
        if (fixed.readUInt32LE(0) === SIG.zip64Eocd || fixed.readUInt32LE(0) === SIG.eocd) return;
        this.fail('bad central directory header signature', pos);
      }
      const len = centralLength(fixed, 0);
      const h = decodeCentral(await need(len), 0);
      const shown = displayName(h.name);
      let z: { usize: number; csize: number; offset?: number };
      const x = readExtras(h.extra, false, h.name, () => undefined, new Set());
      try {
        z = applyZip64(x.zip64, h);
      } catch (err) {
        if (err instanceof Zip64Error) this.fail(err.message, pos, shown);
        throw err;
      }
      yield { h, local: z.offset! + this.delta, csize: z.csize, usize: z.usize, at: pos, px: x.px };
      pos += len;
    }
  }

  private async checkCentral(expected: number): Promise<void> {
    let starts: Float64Array = new Float64Array(1024);
    let ends: Float64Array = new Float64Array(1024);
    let ats: Float64Array = new Float64Array(1024);
    let n = 0;
    let archiveSeen = false;
    for await (const r of this.records()) {
      const shown = displayName(r.h.name);
      if (r.h.name.includes(0)) this.fail('the name contains a NUL byte', r.local, shown);
      if (r.local + LOCAL_SIZE + r.h.name.length > this.cdStart) {
        this.fail(`local header offset ${r.local} is past the end of the member data (${this.cdStart} bytes${this.cdStart === this.size ? ', the end of the file' : ''})`, r.local, shown);
      }
      const minEnd = r.local + LOCAL_SIZE + r.h.name.length + r.csize;
      if (minEnd > this.cdStart) this.fail(`member data (${r.csize} bytes) runs past the start of the central directory`, r.local, shown);
      if (n === starts.length) [starts, ends, ats] = [grow(starts), grow(ends), grow(ats)];
      starts[n] = r.local;
      ends[n] = minEnd;
      ats[n] = r.at;
      n++;
      for (const p of r.px) {
        if (p.type === PX.overflowMember) this.overflow.set(r.local, r);
        if (p.type === PX.archive && !archiveSeen) {
          applyArchiveRecord(this.info, p.value.toString('utf8'), this.name, r.local - this.delta);
          archiveSeen = true;
        }
      }
    }
    this.count = n;
    if (n > this.limits.entries) this.fail(`more than ${this.limits.entries} entries (limit "entries")`, this.cdStart, undefined, 'PORTARC_LIMIT');
    if (n !== expected) this.fail(`the end record says ${expected} entries, the central directory holds ${n}`, this.cdStart);
    // Overlaps: sort members by position; each must end before the next begins.
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => starts[a]! - starts[b]!);
    for (let k = 1; k < n; k++) {
      const prev = order[k - 1]!;
      const cur = order[k]!;
      if (ends[prev]! > starts[cur]!) {
        const h = (await this.recordAt(ats[prev]!)).h;
        const what = starts[prev] === starts[cur] ? 'shares its local header with another entry' : `overlaps the member at offset ${starts[cur]}`;
        this.fail(`member ${what}`, starts[prev]!, displayName(h.name));
      }
    }
    this.starts = Float64Array.from(order, (i) => starts[i]!);
  }

  private async recordAt(at: number): Promise<CdRecord> {
    const fixed = await this.read(at, CENTRAL_SIZE);
    const h = decodeCentral(await this.read(at, centralLength(fixed, 0)), 0);
    const x = readExtras(h.extra, false, h.name, () => undefined, new Set());
    const z = applyZip64(x.zip64, h);
    return { h, local: z.offset! + this.delta, csize: z.csize, usize: z.usize, at, px: x.px };
  }

  /** Where the member starting at `local` must end: the next member, or the central directory. */
  private boundary(local: number): number {
    let lo = 0;
    let hi = this.starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.starts[mid]! <= local) lo = mid + 1;
      else hi = mid;
    }
    return lo < this.starts.length ? this.starts[lo]! : this.cdStart;
  }

  /**
   * Entries in central directory order (portarc writes it in archive order). A member whose
   * metadata cannot be read (a symlink's target stored with a method this reader lacks, or
   * encrypted, or damaged) is given to `onUnreadable`, when there is one, and the others follow:
   * members are independent (spec/zip-profile.md §2.5). Without it, the error ends the listing.
   */
  async *entries(onUnreadable?: (err: ArchiveError, range: [number, number]) => void): AsyncGenerator<ZipFileEntry> {
    for await (const r of this.records()) {
      let e: ZipFileEntry | undefined;
      try {
        e = await this.toEntry(r);
      } catch (err) {
        if (!onUnreadable || !costsItsMember(err) || err.details.entry === undefined) throw err;
        const at = r.local - this.delta;
        onUnreadable(err, [at, this.boundary(r.local) - this.delta]);
        continue;
      }
      if (e) yield e;
    }
  }

  /** The entry with this archive path (a linear scan of the central directory). */
  async find(path: Buffer | string): Promise<ZipFileEntry | undefined> {
    const want = typeof path === 'string' ? Buffer.from(path) : path;
    for await (const e of this.entries()) if (e.entry.path.equals(want)) return e;
    return undefined;
  }

  /** The entry whose local header is at `offset` (as list and the manifest report it). */
  async at(offset: number): Promise<ZipFileEntry | undefined> {
    for await (const r of this.records()) if (r.local - this.delta === offset) return this.toEntry(r);
    return undefined;
  }

  async close(): Promise<void> {
    await this.fh.close();
  }

  private async toEntry(r: CdRecord): Promise<ZipFileEntry | undefined> {
    const warnings: string[] = [];
    const notices: string[] = [];
    const x = readExtras(r.h.extra, false, r.h.name, (w) => warnings.push(w), new Set(), (n) => notices.push(n));
    const ref = x.px.find((p) => p.type === PX.overflowRef);
    if (ref && ref.value.length === 8) {
      const records = await this.overflowRecords(Number(ref.value.readBigUInt64LE(0)) + this.delta, warnings);
      for (const r of records) x.px.push(r);
    }
    const { entry, facts } = buildEntry({ ...r.h, usize: r.usize }, x);
    if (facts.overflowMember) return undefined;
    entry.warnings.push(...warnings);
    entry.notices.unshift(...notices);
    if (facts.critical !== undefined) {
      throw new UnsupportedFeatureError(`portarc extra record type 0x${facts.critical.toString(16)} is critical and not known to this reader: upgrade portarc`, {
        archive: this.name,
        entry: entry.name,
        offset: r.local,
      });
    }
    checkXattrLimits(entry, this.limits, (reason) => this.fail(reason, r.local - this.delta, entry.name));
    if (entry.type === 'symlink') entry.linkTarget = await this.readAll(r, this.maxMeta);
    else if (entry.type !== 'file' && entry.type !== 'hardlink' && r.usize > 0) entry.warnings.push(`${entry.type} carries ${r.usize} bytes of data; skipped`);
    // A member without data (a directory, a node, a hardlink) is not read through data(), which
    // compares the two copies of its portarc metadata: compared here (one small read).
    if (entry.type !== 'file' && entry.type !== 'symlink' && r.px.length && (await this.localPxDiffers(r))) {
      entry.warnings.push(`${PX_COPIES_DIFFER}; restored as the central directory says`);
    }
    const isFile = entry.type === 'file';
    return {
      entry,
      offset: r.local - this.delta,
      open: () => (!isFile ? empty() : entry.sparse ? runsOf(this.data(r), entry.sparse) : this.data(r)),
    };
  }

  /** Whether the local header's PX records (but its size record) differ from the central copy's. */
  private async localPxDiffers(r: CdRecord): Promise<boolean> {
    const fixed = await this.read(r.local, LOCAL_SIZE);
    if (fixed.length < LOCAL_SIZE || fixed.readUInt32LE(0) !== SIG.local) return false; // data() and verify report a missing header
    const l = decodeLocalFixed(fixed);
    const extra = await this.read(r.local + LOCAL_SIZE + l.nameLength, l.extraLength);
    const x = readExtras(extra, true, r.h.name, () => undefined, new Set());
    return x.px.length > 0 && !samePx(x.px.filter((p) => p.type !== PX.size), r.px);
  }

  private async overflowRecords(local: number, warnings: string[]): Promise<PxRecord[]> {
    const r = this.overflow.get(local);
    if (!r) {
      warnings.push(`its metadata overflow member (offset ${local}) is missing; the metadata kept there is lost`);
      return [];
    }
    const d = decodePx(await this.readAll(r, this.maxMeta));
    if ('problem' in d) {
      warnings.push(`metadata overflow member: ${d.problem}`);
      return [];
    }
    return d.records;
  }

  private async readAll(r: CdRecord, limit: number): Promise<Buffer> {
    if (r.usize > limit) this.fail(`content of ${r.usize} bytes exceeds the limit of ${limit} for metadata`, r.local, displayName(r.h.name));
    const parts: Buffer[] = [];
    for await (const b of this.data(r)) parts.push(b);
    return Buffer.concat(parts);
  }

  /** One member's data, checked against its local header, descriptor and the central CRC. */
  private async *data(r: CdRecord): AsyncGenerator<Buffer> {
    const shown = displayName(r.h.name);
    const fail = (reason: string): never => this.fail(reason, r.local - this.delta, shown);
    // One read for the local header and, for a small member, its data and descriptor too (the
    // local extra is usually as long as the central one): a small file costs one system call.
    const guess = LOCAL_SIZE + r.h.name.length + r.h.extra.length + 64;
    const head = await this.read(r.local, guess + (r.csize <= SMALL_MEMBER ? r.csize + 24 : 0));
    const at = async (pos: number, n: number): Promise<Buffer> =>
      pos >= r.local && pos + n <= r.local + head.length ? head.subarray(pos - r.local, pos - r.local + n) : this.read(pos, n);
    if (head.length < LOCAL_SIZE || head.readUInt32LE(0) !== SIG.local) fail(`no local header at offset ${r.local} (bad offset in the central directory)`);
    const l = decodeLocalFixed(head);
    const varPart = await at(r.local + LOCAL_SIZE, l.nameLength + l.extraLength);
    if (varPart.length < l.nameLength + l.extraLength) fail('local header runs past the end of the file');
    const name = varPart.subarray(0, l.nameLength);
    if (!name.equals(r.h.name)) fail(`local and central headers disagree on the name (local "${displayName(name)}")`);
    if (l.method !== r.h.method) fail(`local and central headers disagree on the compression method (local ${l.method}, central ${r.h.method})`);
    if (l.flags & (FLAG.encrypted | FLAG.strongEncryption)) throw new UnsupportedFeatureError('encrypted entries are not supported', { archive: this.name, entry: shown, offset: r.local });
    const descriptor = (l.flags & FLAG.descriptor) !== 0;
    const x = readExtras(varPart.subarray(l.nameLength), true, name, () => undefined, new Set());
    // portarc's metadata is in both headers (the local copy may add a size record): copies that
    // differ mean one is damaged, and the central one (read for the mode, owner, times, xattrs)
    // would be restored as if sound. Which is right cannot be told: the member is refused.
    if (x.px.length && r.px.length && !samePx(x.px.filter((p) => p.type !== PX.size), r.px)) fail(PX_COPIES_DIFFER);
    if (!descriptor) {
      let z: { usize: number; csize: number };
      try {
        z = applyZip64(x.zip64, l);
      } catch (err) {
        if (err instanceof Zip64Error) fail(`local header: ${err.message}`);
        throw err;
      }
      if (l.crc !== r.h.crc) fail(`local and central headers disagree on the CRC-32 (local 0x${hex(l.crc)}, central 0x${hex(r.h.crc)})`);
      if (z.csize !== r.csize) fail(`local and central headers disagree on the compressed size (local ${z.csize}, central ${r.csize})`);
      if (z.usize !== r.usize) fail(`local and central headers disagree on the size (local ${z.usize}, central ${r.usize})`);
    }
    const start = r.local + LOCAL_SIZE + l.nameLength + l.extraLength;
    let end = start + r.csize;
    if (descriptor) {
      const d = await at(end, Math.min(24, this.size - end));
      const len = matchDescriptor(d, r.h.crc, r.csize, r.usize);
      if (!len) {
        const said = descriptorCrc(d, r.csize, r.usize);
        fail(said !== undefined ? `data descriptor and central directory disagree on the CRC-32 (0x${hex(said)}, 0x${hex(r.h.crc)})` : 'the data descriptor disagrees with the central directory');
      }
      end += len;
    }
    const limit = this.boundary(r.local);
    if (end > limit) fail(`member data ends at ${end}, inside the next member or the central directory (at ${limit})`);

    const method = zipMethod(r.h.method);
    if (!method) throw new UnsupportedFeatureError(`compression method ${r.h.method} is not supported`, { archive: this.name, entry: shown, offset: r.local });
    let pos = start;
    const stop = start + r.csize;
    const feed: Feed = {
      next: async (max) => {
        if (pos >= stop) return Buffer.alloc(0);
        const b = await at(pos, Math.min(max, stop - pos));
        if (!b.length) fail('archive is truncated inside the member data');
        pos += b.length;
        return b;
      },
      unread: (b) => void (pos -= b.length),
    };
    let crc = 0;
    let usize = 0;
    const oneShot = method.id !== STORE && method.decompressSync && r.csize <= ONE_SHOT.compressed && r.usize <= ONE_SHOT.uncompressed;
    try {
      const chunks = method.id === STORE ? storedChunks(feed) : oneShot ? decodeOnce(method, feed, r.csize, r.usize) : decoder(method, feed, false);
      for await (const b of chunks) {
        crc = crc32(b, crc);
        usize += b.length;
        if (usize > r.usize) fail(`size mismatch: the data holds more than the ${r.usize} bytes the central directory says`);
        yield b;
      }
    } catch (err) {
      if (err instanceof ArchiveError) throw err;
      fail(`compressed data is corrupt: ${(err as Error).message}`);
    }
    if (crc !== r.h.crc) throw new DamagedError(`CRC-32 mismatch: central directory says 0x${hex(r.h.crc)}, data has 0x${hex(crc)}`, { archive: this.name, entry: shown, offset: r.local - this.delta });
    if (usize !== r.usize) fail(`size mismatch: central directory says ${r.usize} bytes, data has ${usize}`);
  }
}

async function* decodeOnce(method: ZipMethod, feed: Feed, csize: number, usize: number): AsyncGenerator<Buffer> {
  const parts: Buffer[] = [];
  for (let b = await feed.next(csize); b.length; b = await feed.next(csize)) parts.push(b);
  const out = method.decompressSync!(parts.length === 1 ? parts[0]! : Buffer.concat(parts), usize + 1);
  if (out.length) yield out;
}

async function* storedChunks(feed: Feed): AsyncGenerator<Buffer> {
  for (let b = await feed.next(WINDOW); b.length; b = await feed.next(WINDOW)) yield b;
}

function grow(a: Float64Array): Float64Array {
  const b = new Float64Array(a.length * 2);
  b.set(a);
  return b;
}

const hex = (n: number) => (n >>> 0).toString(16).padStart(8, '0');

function empty(): AsyncIterable<Buffer> {
  return { async *[Symbol.asyncIterator]() {} };
}

export const PX_COPIES_DIFFER = 'local and central headers disagree on the portarc metadata (PX field): one copy is damaged';

/** Whether two PX record lists are the same records, in the same order. */
function samePx(a: readonly PxRecord[], b: readonly PxRecord[]): boolean {
  return a.length === b.length && a.every((r, i) => r.type === b[i]!.type && r.value.equals(b[i]!.value));
}
