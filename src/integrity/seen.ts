// The members a streaming verify has read, kept until it reaches the manifest at the archive's end
// and compares each line with them (stream.ts; spec/manifest.md §8). Read as a stream (stdin, a
// .tar.gz, a .tar.zst read front to back), a reader meets the manifest last, so every member's
// record waits: as objects with three hex digests they took ~0.8 KB each (50,000 files: 36-42 MiB of
// heap, verify over the 100 MiB bar). Here a record is a row of typed arrays (numbers, flags, the
// digests' 96 bytes, in pages of 4,096) found by its path: ~0.25 KB each, the path string being
// most of it.

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
/** Presence bits of the three digests, and where each is in a record's 96 bytes. */
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

/** Records a page: the table grows a page at a time (no copy of what it holds, no doubling). */
const PAGE_BITS = 12;
const PAGE = 1 << PAGE_BITS;
const SLOT = PAGE - 1;

/** PAGE records, column by column; slot k is record (page index << PAGE_BITS) + k. */
interface Page {
  num: Float64Array;
  flags: Uint8Array;
  digests: Buffer;
  /** Per record, the next one with the same path (-1: none), for archives that hold a name twice. */
  next: Int32Array;
  /** Records not taken yet. */
  live: number;
}

export class SeenTable {
  private n = 0;
  // A page is let go once every record in it was taken (and the table is past it): when the
  // manifest is read beside the stream (stream.ts), records are taken as they are compared, and
  // the memory is that of the entries between the reading and the comparing, not of them all.
  private pages: (Page | undefined)[] = [];
  private heads = new Map<string, number>();
  private tails = new Map<string, number>();
  private links = new Map<number, Buffer>();

  /** Add a member's record (its other fields are set as they are measured); returns its index. */
  add(path: string, type: Entry['type'], size: number, offset: number, link?: Buffer, inexact?: boolean): number {
    if ((this.n & SLOT) === 0) this.pages.push({ num: new Float64Array(PAGE * COLS), flags: new Uint8Array(PAGE), digests: Buffer.alloc(PAGE * 96), next: new Int32Array(PAGE), live: 0 });
    const i = this.n++;
    const t = TYPES.indexOf(type);
    if (t < 0) throw new Error(`verify: unknown entry type ${type}`);
    const page = this.pages[i >> PAGE_BITS]!;
    const k = i & SLOT;
    page.live++;
    page.flags[k] = t | (inexact ? INEXACT : 0);
    page.num.fill(NaN, k * COLS, k * COLS + COLS);
    page.num[k * COLS + SIZE] = size;
    page.num[k * COLS + OFFSET] = offset;
    page.next[k] = -1;
    if (link) this.links.set(i, link);
    const head = this.heads.get(path);
    if (head === undefined) this.heads.set(path, i);
    else {
      // A name seen before: chained after its last record, taken in archive order.
      const tail = this.tails.get(path) ?? head;
      this.pages[tail >> PAGE_BITS]!.next[tail & SLOT] = i;
      this.tails.set(path, i);
    }
    return i;
  }

  // Records are read and set only before they are taken (stream.ts); one taken has nothing to
  // say or keep: undefined, and nothing set, once its page is let go.
  private page(i: number): Page | undefined {
    return this.pages[i >> PAGE_BITS];
  }

  private nextOf(i: number): number {
    return this.page(i)!.next[i & SLOT]!;
  }

  /** A number column of record i (undefined when not set). */
  get(i: number, col: number): number | undefined {
    const v = this.page(i)?.num[(i & SLOT) * COLS + col] ?? NaN;
    return Number.isNaN(v) ? undefined : v;
  }

  set(i: number, col: number, v: number | undefined): void {
    const page = this.page(i);
    if (page) page.num[(i & SLOT) * COLS + col] = v ?? NaN;
  }

  /** Record i's digest `which` (SHA256, HSHA, DSHA), hex; undefined clears it. */
  setDigest(i: number, which: number, hex: string | undefined): void {
    const page = this.page(i);
    if (!page) return;
    if (hex === undefined) {
      page.flags[i & SLOT]! &= ~HAS[which]!;
      return;
    }
    page.digests.write(hex, (i & SLOT) * 96 + which * 32, 'hex');
    page.flags[i & SLOT]! |= HAS[which]!;
  }

  setLost(i: number): void {
    const page = this.page(i);
    if (page) page.flags[i & SLOT]! |= LOST;
  }

  /** The first record of `path` not taken yet, taken (the next one of that name comes next). */
  take(path: string): SeenRecord | undefined {
    const i = this.heads.get(path);
    if (i === undefined) return undefined;
    const after = this.nextOf(i);
    if (after < 0) {
      this.heads.delete(path);
      this.tails.delete(path);
    } else this.heads.set(path, after);
    const r = this.record(i);
    this.links.delete(i);
    const p = i >> PAGE_BITS;
    if (--this.pages[p]!.live === 0 && p < this.pages.length - 1) this.pages[p] = undefined;
    return r;
  }

  /** The records not taken, by path (members in the archive and not in the manifest). */
  *rest(): Generator<[string, SeenRecord]> {
    for (const [path, head] of this.heads) for (let i = head; i >= 0; i = this.nextOf(i)) yield [path, this.record(i)];
  }

  private record(i: number): SeenRecord {
    const page = this.page(i)!;
    const f = page.flags[i & SLOT]!;
    const at = (i & SLOT) * 96;
    const digest = (which: number) => (f & HAS[which]! ? page.digests.toString('hex', at + which * 32, at + which * 32 + 32) : undefined);
    const r: SeenRecord = { type: TYPES[f & 7]!, size: this.get(i, SIZE)!, offset: this.get(i, OFFSET)!, link: this.links.get(i) };
    r.data = this.get(i, DATA);
    r.hfrom = this.get(i, HFROM);
    r.dend = this.get(i, DEND);
    r.sha256 = digest(SHA256);
    r.hsha = digest(HSHA);
    r.dsha = digest(DSHA);
    if (f & LOST) r.lost = true;
    if (f & INEXACT) r.inexact = true;
    return r;
  }
}
