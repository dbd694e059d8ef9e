// Records kept in bounded memory, whatever their number: fixed-size rows of bytes in pages of
// 4,096, each row's names (paths, link targets: variable length) beside its page. Beyond
// `memPages` pages in memory, the one that came there first is written to a temporary file
// (unlinked at once where the system allows, so a killed process leaves nothing). A row asked for
// there is read alone; a page asked for LOAD_AFTER times is read back whole. Readers that go
// through the rows in order read each page back once; readers that jump about (a manifest out of
// order) read rows, not a 600 KB page a row. Used by the streaming verify's record of members (src/integrity/seen.ts) and by the
// manifest index of random access (src/api/manifest-index.ts): a million entries cost the
// memory of `memPages` pages, not ~0.3 KB each.
//
// Where no temporary file can be made or written (a read-only or full temporary directory),
// every page stays in memory: more memory, the same results.

import { closeSync, constants as fsConstants, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const PAGE_BITS = 12;
export const PAGE = 1 << PAGE_BITS;
export const SLOT = PAGE - 1;

/** Each row starts with where its names are in the page's names, and their length (u32 each). */
const R_NAMES = 0;
const R_NAMES_LEN = 4;
const HEAD = 8;

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
  /** Rows read alone from the file since it was last in memory. */
  hits: number;
}

/** Rows of a page in the file read alone before the page is read back whole. */
const LOAD_AFTER = 64;

export class PagedRows {
  length = 0;
  /** Pages read back whole from the file (tests: a reader out of order must not read one per row). */
  loads = 0;
  private readonly size: number;
  private pages: (Page | undefined)[] = [];
  /** Pages whose rows are in memory, in the order they came there. */
  private inMemory: number[] = [];
  private fd = -1;
  private file = '';
  private fileEnd = 0;
  private noFile = false;
  /** The last row read alone from the file, with its names (-1: none). */
  private single = -1;
  private singleRow: Buffer;
  private singleNames = Buffer.allocUnsafe(1024);
  /** A page's rows buffer let go by a spill, for the next page read back. */
  private spare: Buffer | undefined;

  /** `rowSize`: the caller's bytes a row (its `at` points to them). */
  constructor(
    rowSize: number,
    private readonly prefix: string,
    private readonly memPages = 8,
  ) {
    this.size = HEAD + rowSize;
    this.singleRow = Buffer.allocUnsafe(this.size);
  }

  /** A new row (its bytes zero) with its names, back to back; returns its index. */
  add(names: readonly Buffer[]): number {
    if ((this.length & SLOT) === 0) this.newPage();
    const i = this.length++;
    const page = this.load(i >> PAGE_BITS)!;
    let need = 0;
    for (const n of names) need += n.length;
    if (page.namesUsed + need > page.names!.length) {
      const grown = Buffer.allocUnsafeSlow(Math.max(page.names!.length * 2, page.namesUsed + need));
      page.names!.copy(grown, 0, 0, page.namesUsed);
      page.names = grown;
    }
    const at = (i & SLOT) * this.size;
    page.rows!.fill(0, at, at + this.size);
    page.rows!.writeUInt32LE(page.namesUsed, at + R_NAMES);
    page.rows!.writeUInt32LE(need, at + R_NAMES_LEN);
    for (const n of names) page.namesUsed += n.copy(page.names!, page.namesUsed);
    page.dirty = true;
    return i;
  }

  /**
   * Row i's bytes: `buf` from `at` (the page's buffer: valid until another row is asked for);
   * undefined once its page was let go. `change`: the caller writes into it.
   */
  row(i: number, change = false): { buf: Buffer; at: number } | undefined {
    if (!change && this.alone(i)) return { buf: this.singleRow, at: HEAD };
    const page = this.load(i >> PAGE_BITS);
    if (!page) return undefined;
    if (change) {
      page.dirty = true;
      this.single = -1;
    }
    return { buf: page.rows!, at: (i & SLOT) * this.size + HEAD };
  }

  /** Row i's names, back to back (a view: valid until another row is asked for). */
  names(i: number): Buffer {
    if (this.alone(i)) return this.singleNames.subarray(0, this.singleRow.readUInt32LE(R_NAMES_LEN));
    const page = this.load(i >> PAGE_BITS)!;
    const at = (i & SLOT) * this.size;
    const from = page.rows!.readUInt32LE(at + R_NAMES);
    return page.names!.subarray(from, from + page.rows!.readUInt32LE(at + R_NAMES_LEN));
  }

  /**
   * Whether row i is to be read alone (its page is in the file, and has not been asked for
   * LOAD_AFTER times since): then it is in singleRow and singleNames.
   */
  private alone(i: number): boolean {
    if (i === this.single) return true;
    const page = this.pages[i >> PAGE_BITS];
    if (!page || page.rows || ++page.hits > LOAD_AFTER) return false;
    this.readAll(this.singleRow, page.rowsAt + (i & SLOT) * this.size);
    const len = this.singleRow.readUInt32LE(R_NAMES_LEN);
    if (len > this.singleNames.length) this.singleNames = Buffer.allocUnsafe(Math.max(len, this.singleNames.length * 2));
    this.readAll(this.singleNames.subarray(0, len), page.namesAt + this.singleRow.readUInt32LE(R_NAMES));
    this.single = i;
    return true;
  }

  /** Whether page p is still kept. */
  has(p: number): boolean {
    return this.pages[p] !== undefined;
  }

  /** Forget page p: its rows are never asked for again. */
  letGo(p: number): void {
    this.pages[p] = undefined;
    const m = this.inMemory.indexOf(p);
    if (m >= 0) this.inMemory.splice(m, 1);
  }

  /** Remove the temporary file; the rows are gone afterwards. */
  close(): void {
    this.pages = [];
    this.inMemory = [];
    if (this.fd < 0) return;
    closeSync(this.fd);
    this.fd = -1;
    if (this.file) unlinkQuietly(this.file);
  }

  private newPage(): void {
    this.pages.push({ rows: this.takeSpare(), names: Buffer.allocUnsafeSlow(64 << 10), namesUsed: 0, rowsAt: -1, namesAt: -1, namesInFile: 0, dirty: true, hits: 0 });
    this.arrived(this.pages.length - 1);
  }

  /** Page p's rows are in memory now: the oldest others go to the file beyond memPages. */
  private arrived(p: number): void {
    this.inMemory.push(p);
    while (this.inMemory.length > this.memPages) this.spill(this.inMemory.shift()!);
  }

  /** Page p with its rows in memory (read back from the file if need be); undefined once let go. */
  private load(p: number): Page | undefined {
    const page = this.pages[p];
    if (!page || page.rows) return page;
    const rows = this.takeSpare();
    this.loads++;
    this.readAll(rows, page.rowsAt);
    const names = Buffer.allocUnsafeSlow(Math.max(page.namesInFile, 1024));
    this.readAll(names.subarray(0, page.namesInFile), page.namesAt);
    page.rows = rows;
    page.names = names;
    page.dirty = false;
    this.single = -1;
    this.arrived(p);
    return page;
  }

  /** A rows buffer: the one a spill let go, else a new one. */
  private takeSpare(): Buffer {
    const b = this.spare ?? Buffer.allocUnsafeSlow(PAGE * this.size);
    this.spare = undefined;
    return b;
  }

  /** Write page p to the file (if it changed since it was last there) and let its memory go. */
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
    this.spare = page.rows;
    page.rows = page.names = undefined;
    page.hits = 0;
  }

  private openFile(): void {
    const file = join(tmpdir(), `${this.prefix}-${process.pid}-${randomBytes(6).toString('hex')}.tmp`);
    this.fd = openSync(file, fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o600);
    this.file = unlinkQuietly(file) ? '' : file;
  }

  private writeAll(b: Buffer, at: number): void {
    for (let done = 0; done < b.length; ) done += writeSync(this.fd, b, done, b.length - done, at + done);
  }

  private readAll(b: Buffer, at: number): void {
    for (let done = 0; done < b.length; ) {
      const n = readSync(this.fd, b, done, b.length - done, at + done);
      if (n === 0) throw new Error(`${this.prefix}: its temporary file ended early`);
      done += n;
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

/**
 * Rows found by name: an open-addressing table of the names' FNV-1a hashes (the names themselves
 * stay in the rows), each slot the first and last row of that name; rows of one name are chained
 * in the order they were added. ~20 bytes a name in memory.
 */
export class NameIndex {
  private hashes = new Uint32Array(1024);
  /** First row of the slot's name still wanted (EXHAUSTED once none is: the slot only takes room). */
  private heads = new Int32Array(1024).fill(EMPTY);
  /** Last row, for names held more than once (few are): by slot. */
  private tails = new Map<number, number>();
  private used = 0;
  /** Per row, the next row of the same name (-1: none), in pages. */
  private next: Int32Array[] = [];

  /** `nameOf(i)`: row i's name (compared when hashes meet). */
  constructor(private readonly nameOf: (i: number) => Buffer) {}

  /** Row i (the next row: rows are added in order) has this name. */
  add(name: Buffer, i: number): void {
    if ((i & SLOT) === 0) this.next.push(new Int32Array(PAGE));
    this.next[i >> PAGE_BITS]![i & SLOT] = -1;
    const h = hashOf(name);
    const s = this.slot(name, h);
    if (s >= 0) {
      const tail = this.tails.get(s) ?? this.heads[s]!;
      this.next[tail >> PAGE_BITS]![tail & SLOT] = i;
      this.tails.set(s, i);
      return;
    }
    if ((this.used + 1) * 4 > this.heads.length * 3) this.rehash();
    const mask = this.heads.length - 1;
    let t = h & mask;
    while (this.heads[t] !== EMPTY) t = (t + 1) & mask;
    this.hashes[t] = h;
    this.heads[t] = i;
    this.used++;
  }

  /** The first row of that name still wanted, or -1. */
  first(name: Buffer): number {
    const s = this.slot(name, hashOf(name));
    return s < 0 ? -1 : this.heads[s]!;
  }

  /** The last row of that name, or -1. */
  last(name: Buffer): number {
    const s = this.slot(name, hashOf(name));
    return s < 0 ? -1 : (this.tails.get(s) ?? this.heads[s]!);
  }

  /** The row after i with its name, or -1. */
  after(i: number): number {
    return this.next[i >> PAGE_BITS]![i & SLOT]!;
  }

  /** The first row of that name still wanted, no longer wanted (the next of its name comes next); -1 if none. */
  takeFirst(name: Buffer): number {
    const s = this.slot(name, hashOf(name));
    if (s < 0) return -1;
    const i = this.heads[s]!;
    const after = this.after(i);
    this.heads[s] = after < 0 ? EXHAUSTED : after;
    if (after < 0) this.tails.delete(s);
    return i;
  }

  /** Let the chains of page p go (every row of it was taken). */
  letGo(p: number): void {
    this.next[p] = EMPTY_PAGE;
  }

  /** The slot of `name` whose chain still has a row wanted, or -1. */
  private slot(name: Buffer, h: number): number {
    const mask = this.heads.length - 1;
    for (let s = h & mask; ; s = (s + 1) & mask) {
      const head = this.heads[s]!;
      if (head === EMPTY) return -1;
      if (head >= 0 && this.hashes[s] === h && this.nameOf(head).equals(name)) return s;
    }
  }

  /** Slots for twice the names with rows wanted; names whose rows all went are left out. */
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

const EMPTY = -2;
const EXHAUSTED = -1;
const EMPTY_PAGE = new Int32Array(0);

/** FNV-1a of a name's bytes. */
export function hashOf(name: Buffer): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name[i]!, 0x01000193);
  return h >>> 0;
}
