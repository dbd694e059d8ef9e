// Verification of a seekable, uncompressed archive (a plain tar or a zip file) by its trailer and
// manifest: every container byte belongs to exactly one digested range (an entry's header range or
// data range, the manifest member, the end region, the trailer), so any damage anywhere is found
// and named without parsing a single header. Spec: spec/manifest.md §8.2.

import { createHash, type Hash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { displayName } from '../model/entry.js';
import { PortarcError } from '../model/errors.js';
import { TRAILER_MAGIC, TRAILER_SIZE, TRAILER_TEXT_SIZE, TrailerError, decodeTrailer, findTrailerMagic, isTrailerMagic, manifestMajor, readManifest, type ManifestHead, type Trailer } from '../manifest/index.js';
import type { Damage } from './report.js';
import { headerRangePath } from '../tar/header-range.js';

const CHUNK = 1 << 20;

/**
 * Sequential reads of a file, each byte handed to the hashes of the range it falls in. The file is
 * read 1 MiB at a time whatever the ranges' sizes (a read per range was two thread-pool round trips
 * per entry: 50,000 small files took 10 s, most of it waiting), the next MiB while this one is hashed.
 */
/** Keeps the bytes it is given, up to a limit (a member's headers, for their name). */
class Collector {
  parts: Buffer[] = [];
  bytes = 0;
  constructor(private readonly max: number) {}
  update(part: Buffer): void {
    this.bytes += part.length;
    if (this.bytes <= this.max) this.parts.push(Buffer.from(part));
  }
  /** What it was given, or undefined past the limit. */
  all(): Buffer | undefined {
    return this.bytes <= this.max ? Buffer.concat(this.parts) : undefined;
  }
}

/** Headers longer than this (big xattrs) are not read for their name. */
const NAME_CHECK_MAX = 64 << 10;

class Cursor {
  pos = 0;
  private bufs = [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)];
  /** bufs[cur] holds the file's bytes [winStart, winEnd). */
  private cur = 0;
  private winStart = 0;
  private winEnd = 0;
  /** The read of the next window into the other buffer, started when this one was filled. */
  private ahead: { at: number; bytes: Promise<number> } | undefined;
  constructor(
    private fh: FileHandle,
    private size: number,
  ) {}

  /** Hash the bytes [pos, to) into every hash given; returns false when the file ends first. */
  async feed(to: number, hashes: Array<Pick<Hash, 'update'> | Collector>): Promise<boolean> {
    while (this.pos < to) {
      if ((this.pos < this.winStart || this.pos >= this.winEnd) && !(await this.fill())) return false;
      const end = Math.min(to, this.winEnd);
      const part = this.bufs[this.cur]!.subarray(this.pos - this.winStart, end - this.winStart);
      for (const h of hashes) h.update(part);
      this.pos = end;
    }
    return true;
  }

  private read(k: number, at: number): Promise<number> {
    return this.fh.read(this.bufs[k]!, 0, Math.min(CHUNK, this.size - at), at).then((r) => r.bytesRead);
  }

  /** Make the window hold `pos`: with the read started ahead when it is the one, else a read now. */
  private async fill(): Promise<boolean> {
    if (this.pos >= this.size) return false;
    const next = this.cur ^ 1;
    const ahead = this.ahead;
    this.ahead = undefined;
    let n: number;
    if (ahead?.at === this.pos) n = await ahead.bytes;
    else {
      await ahead?.bytes.catch(() => 0); // its buffer is the one read into now
      n = await this.read(next, this.pos);
    }
    if (n === 0) return false;
    this.cur = next;
    this.winStart = this.pos;
    this.winEnd = this.pos + n;
    if (this.winEnd < this.size) {
      const bytes = this.read(this.cur ^ 1, this.winEnd);
      bytes.catch(() => undefined); // awaited by the next fill; this only keeps Node from calling it unhandled
      this.ahead = { at: this.winEnd, bytes };
    }
    return true;
  }

  /** Wait for a read still under way (before the file is closed). */
  async settle(): Promise<void> {
    await this.ahead?.bytes.catch(() => 0);
    this.ahead = undefined;
  }
}

async function digestOf(fh: FileHandle, size: number, start: number, end: number): Promise<string | undefined> {
  const c = new Cursor(fh, size);
  c.pos = start;
  const h = createHash('sha256');
  try {
    return (await c.feed(end, [h])) ? h.digest('hex') : undefined;
  } finally {
    await c.settle();
  }
}

/**
 * The bytes [start, end) of a file, in chunks of up to 1 MiB (fewer at EOF), read into one reused
 * buffer: a chunk is valid until the next is asked for (every caller hashes, parses or scans it
 * first): a big manifest is read twice (its digest, then its entries), and a fresh buffer per MiB
 * was only garbage for V8 to free.
 */
export async function* fileChunks(fh: FileHandle, start: number, end: number): AsyncGenerator<Buffer> {
  const buf = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(0, end - start)));
  for (let at = start; at < end; ) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, end - at), at);
    if (bytesRead === 0) return;
    yield buf.subarray(0, bytesRead);
    at += bytesRead;
  }
}

export interface Located {
  /** Offset of the trailer text. */
  at: number;
  trailer?: Trailer;
  /** Why the trailer there could not be used. */
  problem?: string;
  /**
   * Found off the 512-byte block grid (tar): bytes inserted into or deleted from the archive before
   * it (not a multiple of 512) moved it. movedBy() says how far, if its manifest moved with it.
   */
  offGrid?: boolean;
}

/**
 * Find the trailer: in a tar, the last 512-byte block (within the final 64 KiB) that starts with
 * the trailer magic; in a zip, the last TRAILER_TEXT_SIZE bytes (the end record's comment).
 */
export async function locateTrailer(fh: FileHandle, size: number, format: 'tar' | 'zip'): Promise<Located | undefined> {
  if (format === 'zip') {
    if (size < TRAILER_TEXT_SIZE + 22) return undefined;
    const at = size - TRAILER_TEXT_SIZE;
    const text = Buffer.alloc(TRAILER_TEXT_SIZE);
    await fh.read(text, 0, text.length, at);
    if (!isTrailerMagic(text.toString('latin1'))) return undefined;
    return decode(text, at);
  }
  const tailStart = Math.max(0, size - 128 * 512);
  const tail = Buffer.alloc(size - tailStart);
  await fh.read(tail, 0, tail.length, tailStart);
  const first = Math.ceil(tailStart / 512) * 512;
  for (let p = Math.floor((size - 512) / 512) * 512; p >= first; p -= 512) {
    if (isTrailerMagic(tail.toString('latin1', p - tailStart, p - tailStart + TRAILER_MAGIC.length))) return decode(tail.subarray(p - tailStart), p);
  }
  // None on the grid: bytes inserted or deleted before the trailer may have moved it off. Only a
  // trailer whose text is intact (its check line) is taken so: a file near the end of an archive
  // may hold a trailer's magic line.
  const q = findTrailerMagic(tail);
  if (q >= 0 && (tailStart + q) % 512 !== 0) {
    const loc = decode(tail.subarray(q), tailStart + q);
    if (loc.trailer) return { ...loc, offGrid: true };
  }
  return undefined;
}

/**
 * For a trailer found off the block grid: how far the bytes after the damage moved (positive:
 * bytes inserted), when its manifest moved with it: the XML matches the trailer's digest at the
 * moved place (the trailer member's header is one to three blocks). Undefined otherwise.
 */
export async function movedBy(fh: FileHandle, size: number, loc: Located & { trailer: Trailer }): Promise<number | undefined> {
  const t = loc.trailer;
  for (let header = 512; header <= 1536; header += 512) {
    const moved = loc.at - header - t.manifestEnd;
    const start = t.manifestData + moved;
    if (moved === 0 || start < 0 || start + t.manifestSize > size) continue;
    if ((await digestOf(fh, size, start, start + t.manifestSize)) === t.manifestSha256) return moved;
  }
  return undefined;
}

function decode(text: Buffer, at: number): Located {
  try {
    return { at, trailer: decodeTrailer(text) };
  } catch (err) {
    if (err instanceof TrailerError) return { at, problem: err.message };
    throw err;
  }
}

/**
 * Where the archive a tar trailer belongs to starts, when not at the file's start: `cat a.tar
 * b.tar` leaves b's trailer at the end of the file, its offsets counted from b's start. Found by
 * its end-region digest matching with the offsets moved (the trailer member's header is one to
 * three blocks); undefined when the trailer is the file's own (or damaged).
 */
export async function appendedArchiveAt(fh: FileHandle, size: number, loc: Located & { trailer: Trailer }): Promise<number | undefined> {
  const t = loc.trailer;
  for (let header = 512; header <= 1536; header += 512) {
    const start = loc.at - header - t.manifestEnd;
    if (start <= 0 || start % 512 !== 0) continue;
    if ((await digestOf(fh, size, t.manifestEnd + start, loc.at)) === t.endSha256) return start;
  }
  return undefined;
}

export interface RangeResult {
  /** False when the manifest could not be trusted: the caller falls back to structural checks. */
  manifestUsable: boolean;
  entries: number;
  head?: ManifestHead;
  /** Set when the manifest is of a version this reader does not read (not damage). */
  unsupported?: string;
}

/**
 * Check every range the trailer and manifest describe; push what is wrong onto `damaged`.
 * `moved`: the trailer was found off the block grid, its manifest that many bytes from where the
 * trailer says (movedBy): the manifest and what follows it are read at their moved places, and an
 * entry that does not match at its own offsets but does at the moved ones is intact, moved.
 */
export async function verifyRanges(fh: FileHandle, size: number, format: 'tar' | 'zip', loc: Located & { trailer: Trailer }, damaged: Damage[], moved = 0): Promise<RangeResult> {
  const t = loc.trailer;
  const xmlStart = t.manifestData + moved;
  const xmlEnd = xmlStart + t.manifestSize;
  const manifestOffset = t.manifestOffset + moved;
  const manifestEnd = t.manifestEnd + moved;
  if (!(t.manifestOffset <= t.manifestData && t.manifestData + t.manifestSize <= t.manifestEnd && manifestEnd <= loc.at && loc.at <= size)) {
    damaged.push({ part: 'trailer', range: [loc.at, loc.at + TRAILER_TEXT_SIZE], what: `offsets in the trailer are inconsistent (manifest ${t.manifestOffset}–${t.manifestEnd}, trailer at ${loc.at})` });
    return { manifestUsable: false, entries: 0 };
  }
  // After the trailer text: NULs to the end of its block, then the end-of-archive blocks (tar).
  if (format === 'tar') {
    await checkZeros(fh, loc.at + TRAILER_TEXT_SIZE, Math.min(size, loc.at + TRAILER_SIZE), 'trailer', 'the trailer block is not NUL-padded', damaged);
    // (Moved, the size is off by as much: the move itself is reported below.)
    if (size % 512 !== 0 && (size - moved) % 512 === 0 && moved) await checkZeros(fh, loc.at + TRAILER_SIZE, size, 'end', 'the end-of-archive blocks are not all zeros', damaged);
    else if (size % 512 !== 0) damaged.push({ part: 'end', range: [size - (size % 512), size], what: `archive size ${size} is not a multiple of 512 bytes (truncated or extended)` });
    else await checkZeros(fh, loc.at + TRAILER_SIZE, size, 'end', 'the end-of-archive blocks are not all zeros', damaged);
  }
  const endSha = await digestOf(fh, size, manifestEnd, loc.at);
  if (endSha !== t.endSha256) {
    damaged.push(
      format === 'tar'
        ? { part: 'trailer', range: [manifestEnd, loc.at], what: 'the trailer member header does not match its digest' }
        : { part: 'central-directory', range: [manifestEnd, loc.at], what: 'the central directory or end records do not match their digest' },
    );
  }
  const memberSha = await digestOf(fh, size, manifestOffset, manifestEnd);
  const xmlSha = await digestOf(fh, size, xmlStart, xmlEnd);
  if (xmlSha !== t.manifestSha256) {
    damaged.push({ part: 'manifest', range: [xmlStart, xmlEnd], what: 'the manifest does not match its digest in the trailer' });
    return { manifestUsable: false, entries: 0 };
  }
  if (memberSha !== t.memberSha256) {
    damaged.push({ part: 'manifest', range: [manifestOffset, manifestEnd], what: "the manifest member's header does not match its digest (the manifest itself is intact)" });
  }
  /** The first entry found intact at its moved place: where the move is reported. */
  let movedFrom: number | undefined;
  const movedMatch = async (start: number, end: number, want: string | undefined): Promise<boolean> => {
    if (!moved || want === undefined || start + moved < 0) return false;
    if ((await digestOf(fh, size, start + moved, end + moved)) !== want) return false;
    movedFrom ??= start;
    return true;
  };

  // Every byte before the manifest, range by range, in one sequential read. The whole-archive
  // digest (§7): of the range digests in order (manifest 2.x), of the bytes themselves (1.x).
  const cursor = new Cursor(fh, size);
  const archive = createHash('sha256');
  let ofBytes = false;
  const ranged = (h: Hash, whole: boolean): string | undefined => {
    const d = whole ? h.digest('hex') : undefined;
    if (!ofBytes && d) archive.update(Buffer.from(d, 'hex'));
    return d;
  };
  const before = damaged.length;
  let prev = 0;
  let entries = 0;
  let head: ManifestHead | undefined;
  try {
    for await (const item of readManifest(fileChunks(fh, xmlStart, xmlEnd))) {
      if (item.kind === 'head') {
        head = item.head;
        ofBytes = manifestMajor(head.version) < 2;
        if (manifestMajor(head.version) !== t.version) {
          damaged.push({ part: 'trailer', range: [loc.at, loc.at + TRAILER_TEXT_SIZE], what: `trailer format ${t.version}.0 does not go with manifest version ${head.version}` });
          return { manifestUsable: false, entries: 0, head };
        }
      } else if (item.kind === 'entry') {
        const e = item.entry;
        const path = displayName(e.path);
        if (e.offset < prev || e.end > t.manifestOffset) {
          damaged.push({ part: 'manifest', range: [xmlStart, xmlEnd], what: `entry "${path}" has offsets ${e.offset}–${e.end} outside ${prev}–${t.manifestOffset}` });
          return { manifestUsable: false, entries, head };
        }
        entries++;
        const h = createHash('sha256');
        // A tar member's headers are also read for its name (zip: the manifest's path is checked
        // where the reader lists the member).
        const names = format === 'tar' && !moved ? new Collector(NAME_CHECK_MAX) : undefined;
        const whole = await cursor.feed(e.data, ofBytes ? [h, archive] : names ? [h, names] : [h]);
        if (ranged(h, whole) !== e.headerSha256 && !(await movedMatch(prev, e.data, e.headerSha256))) damaged.push({ part: 'header', path, range: [prev, e.data], what: whole ? 'header bytes do not match their digest' : 'archive ends inside the header' });
        else if (names) {
          // The digest vouches for the bytes, not for the manifest naming them rightly: a member
          // whose headers name another path is one extract refuses.
          const headers = names.all();
          const named = headers && headerRangePath(headers);
          if (named && !named.equals(e.path)) damaged.push({ part: 'header', path, range: [prev, e.data], what: `the member's headers name it "${displayName(named)}", not what the manifest lists at this offset` });
        }
        if (e.end > e.data) {
          const d = createHash('sha256');
          const all = await cursor.feed(e.end, ofBytes ? [d, archive] : [d]);
          if (ranged(d, all) !== e.dataSha256 && !(await movedMatch(e.data, e.end, e.dataSha256))) damaged.push({ part: 'content', path, range: [e.data, e.end], what: all ? 'stored data does not match its digest' : 'archive ends inside the data' });
        }
        prev = e.end;
      } else {
        const f = item.foot;
        if (ofBytes) await cursor.feed(t.manifestOffset, [archive]);
        const sha = archive.digest('hex');
        if (moved) {
          const n = Math.abs(moved);
          const from = movedFrom ?? t.manifestOffset;
          damaged.push({
            part: 'archive',
            range: [from, from + Math.max(moved, 0)],
            what: `${n} byte${n === 1 ? ' was' : 's were'} ${moved > 0 ? 'inserted' : 'deleted'} before offset ${from} (not a multiple of 512: no tar reader finds the members after it): the ${movedFrom === undefined ? 'manifest is' : 'members from there on are'} intact, ${n} bytes ${moved > 0 ? 'after' : 'before'} where the manifest places them`,
          });
        }
        if (prev !== t.manifestOffset || f.bytes !== t.manifestOffset || f.entries !== entries) {
          damaged.push({ part: 'manifest', range: [xmlStart, xmlEnd], what: `the manifest's entries end at ${prev} and count ${entries}, but it says ${f.bytes} bytes and ${f.entries} entries before the manifest at ${t.manifestOffset}` });
        } else if ((sha !== t.archiveSha256 || sha !== f.sha256) && !moved && !damaged.slice(before).some((d) => d.part === 'header' || d.part === 'content')) {
          // Cannot happen when every range matched: say so rather than hide it.
          damaged.push({ part: 'archive', range: [0, t.manifestOffset], what: 'the whole-archive digest does not match' });
        }
      }
    }
  } catch (err) {
    if (!(err instanceof PortarcError)) throw err;
    if (err.code === 'PORTARC_UNSUPPORTED') return { manifestUsable: false, entries: 0, head, unsupported: err.reason };
    damaged.push({ part: 'manifest', range: [xmlStart, xmlEnd], what: err.reason });
    return { manifestUsable: false, entries, head };
  } finally {
    await cursor.settle(); // the caller closes the file next
  }
  return { manifestUsable: true, entries, head };
}

async function checkZeros(fh: FileHandle, start: number, end: number, part: 'trailer' | 'end', what: string, damaged: Damage[]): Promise<void> {
  for await (const chunk of fileChunks(fh, start, end)) {
    const bad = chunk.findIndex((b) => b !== 0);
    if (bad >= 0) {
      damaged.push({ part, range: [start, end], what: `${what} (byte ${start + bad} is 0x${chunk[bad]!.toString(16)})` });
      return;
    }
    start += chunk.length;
  }
}
