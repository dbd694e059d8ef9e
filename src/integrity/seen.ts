// The members a streaming verify has read, kept until it reaches the manifest at the archive's end
// and compares each line with them (stream.ts; spec/manifest.md §8). Read as a stream (stdin, a
// .tar.gz, a .tar.zst read front to back), a reader meets the manifest last, so every member's
// record waits: held in memory they grew verify by ~0.3 KB an entry (200,000 files: 138 MiB).
//
// So a record is a fixed row of bytes (its numbers, flags and the digests' 96 bytes) in pages of
// 4,096, its path and link target beside the page; once more than MEM_PAGES pages are in memory,
// the oldest goes to a temporary file (unlinked at once where the system allows) and is read back
// whole when a record of it is wanted (the manifest lists the entries in archive order: a page is
// read back once). What stays in memory per record is ~30 bytes: the chain to the next record of
// the same name, whether it was taken, and a hash table of the names (their hashes, not their
// text). When the manifest is read beside the stream (a seekable .tar.zst), records are taken soon
// after they are added and a page is let go once all of it was taken: nothing reaches the file.

import { closeSync, openSync, readSync, unlinkSync, writeSync, constants as fsConstants } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

/**
 * A row: the numbers as float64 (NaN: not set) at 0, the digests at 40, the flags at 136, then
 * where its path and link are in the page's names (u32), the path's length (u32), the link's
 * length (i32, -1: none).
 */
const R_DIGESTS = COLS * 8;
const R_FLAGS = R_DIGESTS + 96;
const R_VAR = 140;
const R_PATH_LEN = 144;
const R_LINK_LEN = 148;
const ROW = 152;

/** Records a page. */
const PAGE_BITS = 12;
const PAGE = 1 << PAGE_BITS;
const SLOT = PAGE - 1;
/** Pages of rows held in memory (~0.6 MiB each) before the oldest goes to the file. */
const MEM_PAGES = 8;

interface Page {
  /** Its rows and names while in memory (undefined while only in the file). */
  rows?: Buffer;
  names?: Buffer;
  namesUsed: number;
  /** In the file (-1: not yet): where its rows and its names begin, and how many name bytes are there. */
  rowsAt: number;
  namesAt: number;
  namesInFile: number;
  /** Changed since it was last written to the file. */
  dirty: boolean;
  /** Per record, the next one with the same path (-1: none), for archives that hold a name twice. */
  next: Int32Array;
  taken: Uint8Array;
  /** Records not taken yet. */
  live: number;
}

/** FNV-1a of a name's bytes. */
function hashOf(name: Buffer): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name[i]!, 0x01000193);
  return h >>> 0;
}

const EMPTY = -2;
const EXHAUSTED = -1;

export class SeenTable {
  private n = 0;
  private pages: (Page | undefined)[] = [];
  /** Pages whose rows are in memory, in the order they came there. */
  private inMemory: number[] = [];
  // The names: open addressing on the name's hash; a slot holds the first record not taken of
  // that name (EXHAUSTED once all were: the slot then only takes up room). A name held more than
  // once also has its last record in `tails` (by slot): few names are.
  private hashes = new Uint32Array(1024);
  private heads = new Int32Array(1024).fill(EMPTY);
  private tails = new Map<number, number>();
  private used = 0;
  /** The spill file, opened when the first page goes there. */
  private fd = -1;
  private file = '';
  private fileEnd = 0;
  /** No file could be made or written: every page stays in memory. */
  private noFile = false;

  /** Add a member's record (its other fields are set as they are measured); returns its index. */
  add(path: string, type: Entry['type'], size: number, offset: number, link?: Buffer, inexact?: boolean): number {
    const t = TYPES.indexOf(type);
    if (t < 0) throw new Error(`verify: unknown entry type ${type}`);
    if ((this.n & SLOT) === 0) this.newPage();
    const i = this.n++;
    const page = this.load(i >> PAGE_BITS)!;
    const k = i & SLOT;
    const name = Buffer.from(path, 'latin1');
    const varAt = this.putNames(page, name, link);
    const row = page.rows!;
    const at = k * ROW;
    for (let c = 0; c < COLS; c++) row.writeDoubleLE(NaN, at + c * 8);
    row.writeDoubleLE(size, at + SIZE * 8);
    row.writeDoubleLE(offset, at + OFFSET * 8);
    row[at + R_FLAGS] = t | (inexact ? INEXACT : 0);
    row.writeUInt32LE(varAt, at + R_VAR);
    row.writeUInt32LE(name.length, at + R_PATH_LEN);
    row.writeInt32LE(link ? link.length : -1, at + R_LINK_LEN);
    page.next[k] = -1;
    page.live++;
    page.dirty = true;
    const h = hashOf(name);
    const s = this.find(name, h);
    if (s < 0) this.insert(h, i);
    else {
      // A name seen before: chained after its last record, taken in archive order.
      const tail = this.tails.get(s) ?? this.heads[s]!;
      this.pages[tail >> PAGE_BITS]!.next[tail & SLOT] = i;
      this.tails.set(s, i);
    }
    return i;
  }

  /** A number column of record i (undefined when not set, or once taken and let go). */
  get(i: number, col: number): number | undefined {
    const page = this.load(i >> PAGE_BITS);
    if (!page) return undefined;
    const v = page.rows!.readDoubleLE((i & SLOT) * ROW + col * 8);
    return Number.isNaN(v) ? undefined : v;
  }

  set(i: number, col: number, v: number | undefined): void {
    const page = this.load(i >> PAGE_BITS);
    if (!page) return;
    page.rows!.writeDoubleLE(v ?? NaN, (i & SLOT) * ROW + col * 8);
    page.dirty = true;
  }

  /** Record i's digest `which` (SHA256, HSHA, DSHA), hex; undefined clears it. */
  setDigest(i: number, which: number, hex: string | undefined): void {
    const page = this.load(i >> PAGE_BITS);
    if (!page) return;
    const at = (i & SLOT) * ROW;
    const rows = page.rows!;
    if (hex === undefined) rows[at + R_FLAGS]! &= ~HAS[which]!;
    else {
      rows.write(hex, at + R_DIGESTS + which * 32, 32, 'hex');
      rows[at + R_FLAGS]! |= HAS[which]!;
    }
    page.dirty = true;
  }

  setLost(i: number): void {
    const page = this.load(i >> PAGE_BITS);
    if (!page) return;
    page.rows![(i & SLOT) * ROW + R_FLAGS]! |= LOST;
    page.dirty = true;
  }

  /** The first record of `path` not taken yet, taken (the next one of that name comes next). */
  take(path: string): SeenRecord | undefined {
    const name = Buffer.from(path, 'latin1');
    const s = this.find(name, hashOf(name));
    if (s < 0) return undefined;
    const i = this.heads[s]!;
    const p = i >> PAGE_BITS;
    const page = this.pages[p]!;
    const after = page.next[i & SLOT]!;
    this.heads[s] = after < 0 ? EXHAUSTED : after;
    if (after < 0) this.tails.delete(s);
    const r = this.record(i);
    page.taken[i & SLOT] = 1;
    if (--page.live === 0 && p < this.pages.length - 1) this.letGo(p);
    return r;
  }

  /** The records not taken, in archive order, with their paths (members in the archive and not in the manifest). */
  *rest(): Generator<[string, SeenRecord]> {
    for (let i = 0; i < this.n; i++) {
      const page = this.pages[i >> PAGE_BITS];
      if (!page) {
        i |= SLOT;
        continue;
      }
      if (!page.taken[i & SLOT]) yield [this.path(i).toString('latin1'), this.record(i)];
    }
  }

  /** Remove the spill file; the table is empty afterwards. */
  close(): void {
    this.pages = [];
    this.inMemory = [];
    if (this.fd < 0) return;
    closeSync(this.fd);
    this.fd = -1;
    if (this.file) unlinkQuietly(this.file);
  }

  private newPage(): void {
    this.pages.push({ names: Buffer.allocUnsafeSlow(64 << 10), namesUsed: 0, rowsAt: -1, namesAt: -1, namesInFile: 0, dirty: true, next: new Int32Array(PAGE), taken: new Uint8Array(PAGE), live: 0 });
    this.pages[this.pages.length - 1]!.rows = Buffer.allocUnsafeSlow(PAGE * ROW);
    this.arrived(this.pages.length - 1);
  }

  /** Page p's rows are in memory now: the oldest others go to the file beyond MEM_PAGES. */
  private arrived(p: number): void {
    this.inMemory.push(p);
    while (this.inMemory.length > MEM_PAGES) this.spill(this.inMemory.shift()!);
  }

  /** Page p with its rows in memory (read back from the file if need be); undefined once let go. */
  private load(p: number): Page | undefined {
    const page = this.pages[p];
    if (!page || page.rows) return page;
    const rows = Buffer.allocUnsafeSlow(PAGE * ROW);
    this.readAll(rows, page.rowsAt);
    const names = Buffer.allocUnsafeSlow(Math.max(page.namesInFile, 1024));
    this.readAll(names.subarray(0, page.namesInFile), page.namesAt);
    page.rows = rows;
    page.names = names;
    page.dirty = false;
    this.arrived(p);
    return page;
  }

  /** Append a record's path and link to its page's names; returns where they begin. */
  private putNames(page: Page, name: Buffer, link: Buffer | undefined): number {
    const need = name.length + (link?.length ?? 0);
    if (page.namesUsed + need > page.names!.length) {
      const grown = Buffer.allocUnsafeSlow(Math.max(page.names!.length * 2, page.namesUsed + need));
      page.names!.copy(grown, 0, 0, page.namesUsed);
      page.names = grown;
    }
    const at = page.namesUsed;
    name.copy(page.names!, at);
    link?.copy(page.names!, at + name.length);
    page.namesUsed += need;
    return at;
  }

  /**
   * Write page p to the file (if it changed since it was last there) and let its memory go. Where
   * no temporary file can be made or written (a read-only or full temporary directory), the pages
   * stay in memory: verify needs more of it, and its results are the same.
   */
  private spill(p: number): void {
    const page = this.pages[p];
    if (!page?.rows || this.noFile) return;
    if (page.dirty) {
      try {
        if (this.fd < 0) this.openFile();
        const rowsAt = page.rowsAt < 0 ? this.fileEnd : page.rowsAt;
        this.writeAll(page.rows, rowsAt);
        if (page.rowsAt < 0) this.fileEnd += page.rows.length;
        page.rowsAt = rowsAt;
        // Names are only ever appended: when more came since, they are all written anew at the end.
        if (page.namesUsed > page.namesInFile) {
          this.writeAll(page.names!.subarray(0, page.namesUsed), this.fileEnd);
          page.namesAt = this.fileEnd;
          this.fileEnd += page.namesUsed;
          page.namesInFile = page.namesUsed;
        }
      } catch {
        this.noFile = true;
        return;
      }
    }
    page.rows = page.names = undefined;
  }

  private openFile(): void {
    const file = join(tmpdir(), `portarc-verify-${process.pid}-${randomBytes(6).toString('hex')}.tmp`);
    this.fd = openSync(file, fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o600);
    // Unlinked while open where the system allows it: nothing is left behind by a killed verify.
    this.file = unlinkQuietly(file) ? '' : file;
  }

  private writeAll(b: Buffer, at: number): void {
    for (let done = 0; done < b.length; ) done += writeSync(this.fd, b, done, b.length - done, at + done);
  }

  private readAll(b: Buffer, at: number): void {
    for (let done = 0; done < b.length; ) {
      const n = readSync(this.fd, b, done, b.length - done, at + done);
      if (n === 0) throw new Error('verify: the temporary file of the entries read ended early');
      done += n;
    }
  }

  private letGo(p: number): void {
    this.pages[p] = undefined;
    const m = this.inMemory.indexOf(p);
    if (m >= 0) this.inMemory.splice(m, 1);
  }

  /** Record i's path (a view of its page's names: valid until the table changes). */
  private path(i: number): Buffer {
    const page = this.load(i >> PAGE_BITS)!;
    const at = (i & SLOT) * ROW;
    const from = page.rows!.readUInt32LE(at + R_VAR);
    return page.names!.subarray(from, from + page.rows!.readUInt32LE(at + R_PATH_LEN));
  }

  private record(i: number): SeenRecord {
    const page = this.load(i >> PAGE_BITS)!;
    const buf = page.rows!;
    const at = (i & SLOT) * ROW;
    const f = buf[at + R_FLAGS]!;
    const num = (col: number) => {
      const v = buf.readDoubleLE(at + col * 8);
      return Number.isNaN(v) ? undefined : v;
    };
    const digest = (which: number) => (f & HAS[which]! ? buf.toString('hex', at + R_DIGESTS + which * 32, at + R_DIGESTS + which * 32 + 32) : undefined);
    const linkLen = buf.readInt32LE(at + R_LINK_LEN);
    const linkAt = buf.readUInt32LE(at + R_VAR) + buf.readUInt32LE(at + R_PATH_LEN);
    const link = linkLen < 0 ? undefined : Buffer.from(page.names!.subarray(linkAt, linkAt + linkLen));
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

  /** The slot of `name` whose chain still has a record not taken, or -1. */
  private find(name: Buffer, h: number): number {
    const mask = this.heads.length - 1;
    for (let s = h & mask; ; s = (s + 1) & mask) {
      const head = this.heads[s]!;
      if (head === EMPTY) return -1;
      if (head >= 0 && this.hashes[s] === h && this.path(head).equals(name)) return s;
    }
  }

  private insert(h: number, i: number): void {
    if ((this.used + 1) * 4 > this.heads.length * 3) this.rehash();
    const mask = this.heads.length - 1;
    let s = h & mask;
    while (this.heads[s] !== EMPTY) s = (s + 1) & mask;
    this.hashes[s] = h;
    this.heads[s] = i;
    this.used++;
  }

  /** Slots for twice the names with records not taken; names whose records all were are left out. */
  private rehash(): void {
    const { hashes, heads, tails } = this;
    let live = 0;
    for (let s = 0; s < heads.length; s++) if (heads[s]! >= 0) live++;
    let size = 1024;
    while (size < live * 2) size *= 2;
    this.hashes = new Uint32Array(size);
    this.heads = new Int32Array(size).fill(EMPTY);
    this.tails = new Map();
    this.used = 0;
    const mask = size - 1;
    for (let s = 0; s < heads.length; s++) {
      if (heads[s]! < 0) continue;
      let t = hashes[s]! & mask;
      while (this.heads[t] !== EMPTY) t = (t + 1) & mask;
      this.hashes[t] = hashes[s]!;
      this.heads[t] = heads[s]!;
      const tail = tails.get(s);
      if (tail !== undefined) this.tails.set(t, tail);
      this.used++;
    }
  }
}

/** Remove a file; whether it went (Windows keeps an open file). */
function unlinkQuietly(file: string): boolean {
  try {
    unlinkSync(file);
    return true;
  } catch {
    return false;
  }
}
