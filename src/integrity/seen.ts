// The members a streaming verify has read, kept until it reaches the manifest at the archive's end
// and compares each line with them (stream.ts; spec/manifest.md §8). Read as a stream (stdin, a
// .tar.gz, a .tar.zst read front to back), a reader meets the manifest last, so every member's
// record waits: held in memory they grew verify by ~0.3 KB an entry (200,000 files: 138 MiB).
//
// So a record is a fixed row of bytes (its numbers, flags and the digests' 96 bytes) with its path
// and link target, in PagedRows (src/io/paged-rows.ts: beyond eight pages of 4,096 in memory, the
// oldest goes to a temporary file; the manifest lists the entries in archive order, so a page is
// read back once), found by path through a NameIndex. What stays in memory per record is ~30
// bytes: the chain to the next record of the same name, whether it was taken, the names' hashes.
// When the manifest is read beside the stream (a seekable .tar.zst), records are taken soon after
// they are added and a page is let go once all of it was taken: nothing reaches the file.

import { NameIndex, PAGE_BITS, PagedRows, SLOT } from '../io/paged-rows.js';
import type { Entry } from '../model/entry.js';

/** One record as the comparison reads it. */
export interface SeenRecord {
  type: Entry['type'];
  size: number;
  link?: Buffer;
  offset: number;
  /** Tar: where the stored data starts, and the digests of the header and data ranges (§7). */
  data?: number;
  hsha?: string;
  dsha?: string;
  /** Where the header range measured for `hsha` began, and where the data range for `dsha` ended (tar offsets as read). */
  hfrom?: number;
  dend?: number;
  sha256?: string;
  /** Its data ran into bytes lost to a damaged zstd frame (reported then): no content to compare. */
  lost?: boolean;
  /** Read past a gap of unknown size: its offsets are not archive offsets, only its content is compared. */
  inexact?: boolean;
}

const TYPES: readonly Entry['type'][] = ['file', 'directory', 'symlink', 'hardlink', 'fifo', 'chardev', 'blockdev'];
const LOST = 8;
const INEXACT = 16;
/** Presence bits of the three digests, and where each is in a row's 96 digest bytes. */
export const SHA256 = 0;
export const HSHA = 1;
export const DSHA = 2;
const HAS = [32, 64, 128];
/** Number columns. */
const SIZE = 0;
const OFFSET = 1;
export const DATA = 2;
export const HFROM = 3;
export const DEND = 4;
const COLS = 5;

/** A row: the numbers as float64 (NaN: not set) at 0, the digests at 40, the flags at 136, the path's length (u32) at 140, the link's (i32, -1: none) at 144. */
const R_DIGESTS = COLS * 8;
const R_FLAGS = R_DIGESTS + 96;
const R_PATH_LEN = 140;
const R_LINK_LEN = 144;
const ROW = 148;

export class SeenTable {
  private rows = new PagedRows(ROW, 'portarc-verify');
  private index = new NameIndex((i) => this.path(i));
  /** Per page, which records were taken, and how many were not. */
  private taken: Uint8Array[] = [];
  private live: number[] = [];

  /** Add a member's record (its other fields are set as they are measured); returns its index. */
  add(path: string, type: Entry['type'], size: number, offset: number, link?: Buffer, inexact?: boolean): number {
    const t = TYPES.indexOf(type);
    if (t < 0) throw new Error(`verify: unknown entry type ${type}`);
    const name = Buffer.from(path, 'latin1');
    const i = this.rows.add(link ? [name, link] : [name]);
    const { buf, at } = this.rows.row(i, true)!;
    for (let c = 0; c < COLS; c++) buf.writeDoubleLE(NaN, at + c * 8);
    buf.writeDoubleLE(size, at + SIZE * 8);
    buf.writeDoubleLE(offset, at + OFFSET * 8);
    buf[at + R_FLAGS] = t | (inexact ? INEXACT : 0);
    buf.writeUInt32LE(name.length, at + R_PATH_LEN);
    buf.writeInt32LE(link ? link.length : -1, at + R_LINK_LEN);
    if ((i & SLOT) === 0) {
      this.taken.push(new Uint8Array(1 << PAGE_BITS));
      this.live.push(0);
    }
    this.live[i >> PAGE_BITS]!++;
    this.index.add(name, i);
    return i;
  }

  /** A number column of record i (undefined when not set, or once taken and let go). */
  get(i: number, col: number): number | undefined {
    const r = this.rows.row(i);
    if (!r) return undefined;
    const v = r.buf.readDoubleLE(r.at + col * 8);
    return Number.isNaN(v) ? undefined : v;
  }

  set(i: number, col: number, v: number | undefined): void {
    const r = this.rows.row(i, true);
    if (r) r.buf.writeDoubleLE(v ?? NaN, r.at + col * 8);
  }

  /** Record i's digest `which` (SHA256, HSHA, DSHA), hex; undefined clears it. */
  setDigest(i: number, which: number, hex: string | undefined): void {
    const r = this.rows.row(i, true);
    if (!r) return;
    if (hex === undefined) r.buf[r.at + R_FLAGS]! &= ~HAS[which]!;
    else {
      r.buf.write(hex, r.at + R_DIGESTS + which * 32, 32, 'hex');
      r.buf[r.at + R_FLAGS]! |= HAS[which]!;
    }
  }

  setLost(i: number): void {
    const r = this.rows.row(i, true);
    if (r) r.buf[r.at + R_FLAGS]! |= LOST;
  }

  /** The first record of `path` not taken yet, taken (the next one of that name comes next). */
  take(path: string): SeenRecord | undefined {
    const i = this.index.takeFirst(Buffer.from(path, 'latin1'));
    if (i < 0) return undefined;
    const r = this.record(i);
    const p = i >> PAGE_BITS;
    this.taken[p]![i & SLOT] = 1;
    if (--this.live[p]! === 0 && p < this.taken.length - 1) {
      this.rows.letGo(p);
      this.index.letGo(p);
    }
    return r;
  }

  /** The records not taken, in archive order, with their paths (members in the archive and not in the manifest). */
  *rest(): Generator<[string, SeenRecord]> {
    for (let i = 0; i < this.rows.length; i++) {
      if (!this.rows.has(i >> PAGE_BITS)) {
        i |= SLOT;
        continue;
      }
      if (!this.taken[i >> PAGE_BITS]![i & SLOT]) yield [this.path(i).toString('latin1'), this.record(i)];
    }
  }

  /** Remove the temporary file; the table is empty afterwards. */
  close(): void {
    this.rows.close();
  }

  /** Record i's path (a view: valid until another record is asked for). */
  private path(i: number): Buffer {
    const r = this.rows.row(i)!;
    return this.rows.names(i).subarray(0, r.buf.readUInt32LE(r.at + R_PATH_LEN));
  }

  private record(i: number): SeenRecord {
    const names = this.rows.names(i);
    const { buf, at } = this.rows.row(i)!;
    const f = buf[at + R_FLAGS]!;
    const num = (col: number) => {
      const v = buf.readDoubleLE(at + col * 8);
      return Number.isNaN(v) ? undefined : v;
    };
    const digest = (which: number) => (f & HAS[which]! ? buf.toString('hex', at + R_DIGESTS + which * 32, at + R_DIGESTS + which * 32 + 32) : undefined);
    const linkLen = buf.readInt32LE(at + R_LINK_LEN);
    const link = linkLen < 0 ? undefined : Buffer.from(names.subarray(buf.readUInt32LE(at + R_PATH_LEN)));
    const r: SeenRecord = { type: TYPES[f & 7]!, size: num(SIZE)!, offset: num(OFFSET)!, link };
    r.data = num(DATA);
    r.hfrom = num(HFROM);
    r.dend = num(DEND);
    r.sha256 = digest(SHA256);
    r.hsha = digest(HSHA);
    r.dsha = digest(DSHA);
    if (f & LOST) r.lost = true;
    if (f & INEXACT) r.inexact = true;
    return r;
  }
}
