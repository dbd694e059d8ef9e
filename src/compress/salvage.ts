// Salvaging zstd decompression (spec/portarc-1.md §6.8, seekable zstd): a frame that fails (bad
// checksum, undecodable block, broken framing, cut short) costs that frame only. Its output is
// dropped, decoding goes on at the next frame, and the gap is recorded in `gaps` for the reader of
// the decompressed bytes (io/bytesource.ts), which learns of it when the bytes after it arrive.
// - The next frame: from the seek table when the source is a seekable file (exact: frame offsets
//   and decompressed sizes are in the table); otherwise the first zstd frame magic 28 B5 2F FD whose
//   header parses (or a skippable-frame magic 0x184D2A5?) at or after the point of failure.
// - The bytes lost: the table's sizes, or the damaged frame's Frame_Content_Size when the next frame
//   starts exactly where it ended; else unknown.
// - A frame's output is held back until the frame is checked (its checksum, its end): a frame that
//   fails at its checksum hands out nothing, so no entry is built from bytes known to be wrong.
//   Memory stays bounded: past HOLD bytes (portarc writes 4 MiB frames) a frame's output is handed
//   out as it comes, and a later failure loses only what follows (the gap says how much went out).
// Without salvage, zstd.ts's zstdDecompress is used: it stops at the first error.

import { zstdBackend, type FrameDecoder } from './backend.js';
import { FrameError, FrameWalker, SKIPPABLE_MAGIC, ZSTD_MAGIC } from './frames.js';
import { MAGIC as PAR2_MAGIC } from '../integrity/par2/packets.js';
import type { SeekTable } from './seektable.js';
import { Xxh64 } from './xxh64.js';
import type { ZstdDecompressOptions } from './zstd.js';

/** Decompressed bytes of one frame held back until the frame is checked. */
const HOLD = 16 << 20;
/** How a held frame is handed out (reuseOutput): the pieces a reader takes at a time. */
const PIECE = 256 << 10;

/** A run of the decompressed stream lost to a damaged frame (or several in a row). */
export interface FrameGap {
  /** Decompressed offset where the loss begins: the bytes handed out before it. */
  at: number;
  /** Decompressed bytes lost, when known (the seek table, or the frame header's content size). */
  size?: number;
  /** Compressed bytes skipped: [the damaged frame's first byte, where decoding went on or the input ended). */
  compressed: [number, number];
  /** Index of the (first) damaged frame among the data frames; a guess after an earlier resync by magic. */
  frame: number;
  /** What was wrong. */
  reason: string;
  /** A frame followed and decoding went on; false: the damage reaches the end of the input. */
  resumed: boolean;
  /** Decompressed bytes of the damaged frame handed out before the damage was found (frames over HOLD). */
  unchecked?: number;
}

/** Where a salvaging zstd read records what it had to skip (see `DecompressOptions.salvage`). */
export interface ZstdSalvage {
  /** Gaps found so far, in stream order; the consumer looks here as it reads. */
  gaps: FrameGap[];
  /** The file's seek table, when the source is a seekable file. */
  table?: SeekTable;
}

const SKIPPABLE_TAIL = Buffer.from([0x2a, 0x4d, 0x18]);
const MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
/** Longest frame header (magic, descriptor, window, dictionary ID, content size) plus a block header. */
const PROBE = 4 + 14 + 3;

/** `src` decompressed, frame after frame, past damaged frames (recorded in `salvage.gaps`). */
export async function* zstdSalvage(src: AsyncIterable<Buffer | Uint8Array>, salvage: ZstdSalvage, opts: ZstdDecompressOptions = {}): AsyncGenerator<Buffer> {
  const backend = zstdBackend('decompress', opts.backend);
  /** The seek table, while it agrees with what was decoded (a damaged table is not followed). */
  let table = salvage.table;
  const it = src[Symbol.asyncIterator]();
  let pending: Buffer | undefined;
  let ended = false;
  const next = async (): Promise<Buffer | undefined> => {
    if (pending) {
      const p = pending;
      pending = undefined;
      return p;
    }
    if (ended) return undefined;
    const r = await it.next();
    if (r.done) {
      ended = true;
      return undefined;
    }
    const c = r.value;
    return Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
  };

  let walker = new FrameWalker();
  /** Bytes handed out so far. */
  let out = 0;
  /** Decompressed bytes lost in the gaps recorded so far (NaN once one was of unknown size). */
  let lostSoFar = 0;
  let dec: FrameDecoder | undefined;
  let hash: Xxh64 | undefined;
  // The held output: fresh chunks, or (reuseOutput) copies in one reused buffer, handed out in
  // pieces of PIECE bytes. The consumer may still read the chunk before the one it asks for: so
  // the last piece of a frame goes out as a copy in one of two small buffers taken in turn, and the
  // next frame may be decoded into the big one (not two of them: 4 MiB of memory less).
  const reuse = opts.reuseOutput === true;
  let holdBuf: Buffer | undefined;
  const tails: Buffer[] = [];
  let turn = 0;
  let held: Buffer[] = [];
  let heldBytes = 0;
  const heldChunks = (): Buffer[] => {
    if (!reuse) return held;
    if (!heldBytes) return [];
    const pieces: Buffer[] = [];
    for (let p = 0; p < heldBytes; p += PIECE) pieces.push(holdBuf!.subarray(p, Math.min(heldBytes, p + PIECE)));
    const last = pieces[pieces.length - 1]!;
    const tail = (tails[turn] ??= Buffer.allocUnsafeSlow(PIECE));
    turn ^= 1;
    last.copy(tail);
    pieces[pieces.length - 1] = tail.subarray(0, last.length);
    return pieces;
  };
  const release = () => {
    held = [];
    heldBytes = 0;
  };
  /** Output of the current frame already handed out (it outgrew HOLD). */
  let passed = 0;
  let frame = 0;

  /** With the table: the bytes lost from here to decompressed offset `to` (the stream's offset is what went out plus what was lost). */
  const lostTo = (to: number): number | undefined => {
    const here = out + lostSoFar;
    return Number.isNaN(here) || to < here ? undefined : to - here;
  };
  const drop = () => {
    dec?.destroy();
    dec = undefined;
    // Nothing of it was handed out: its buffer may take the next frame.
    held = [];
    heldBytes = 0;
  };
  const record = (gap: FrameGap) => {
    lostSoFar += gap.size ?? NaN;
    const last = salvage.gaps[salvage.gaps.length - 1];
    // Damaged frames in a row make one gap.
    if (last && last.at === gap.at && last.compressed[1] === gap.compressed[0]) {
      last.compressed[1] = gap.compressed[1];
      last.size = last.size !== undefined && gap.size !== undefined ? last.size + gap.size : undefined;
      last.resumed = gap.resumed;
      if (!last.reason.includes(gap.reason)) last.reason += `; then ${gap.reason}`;
    } else salvage.gaps.push(gap);
  };

  try {
    for (;;) {
      const chunk = await next();
      if (!chunk) {
        try {
          walker.finish();
        } catch (e) {
          if (!(e instanceof FrameError)) throw e;
          // Cut short inside a frame: what its header or the table says it held is lost.
          const inFrame = dec !== undefined;
          drop();
          const size = table ? lostTo(table.decompressedSize) : inFrame && walker.contentSize !== undefined ? walker.contentSize - passed : undefined;
          record({ at: out, size, compressed: [e.offset, walker.offset], frame: e.frame ?? frame, reason: e.message, resumed: false, unchecked: passed || undefined });
        }
        return;
      }
      const base = walker.offset;
      let failure: { reason: string; at: number; frame: number; start: number; atEnd: boolean; contentSize?: number; magic?: Buffer } | undefined;
      try {
        for (const piece of walker.split(chunk)) {
          if (piece.first) {
            dec = backend.frameDecoder(reuse);
            hash = backend.checksChecksums ? undefined : new Xxh64();
            passed = 0;
            frame = piece.frame;
          }
          const at = piece.offset + piece.data.length;
          /** Hold `b`; or, past HOLD, what is to go out now (the gap will say so if the frame fails). */
          const take = (b: Buffer): Buffer[] => {
            if (!b.length) return [];
            hash?.update(b);
            if (heldBytes + b.length <= HOLD && passed === 0) {
              if (reuse) b.copy((holdBuf ??= Buffer.allocUnsafeSlow(HOLD)), heldBytes);
              else held.push(b);
              heldBytes += b.length;
              return [];
            }
            const now = [...heldChunks(), b];
            passed += heldBytes + b.length;
            release();
            return now;
          };
          try {
            // Each chunk goes out before the decoder makes the next: it may reuse its buffers.
            for await (const b of dec!.push(piece.data)) {
              for (const o of take(b)) {
                out += o.length;
                yield o;
              }
            }
            if (piece.last) {
              for await (const b of dec!.end()) {
                for (const o of take(b)) {
                  out += o.length;
                  yield o;
                }
              }
              dec = undefined;
              if (hash && piece.checksum !== undefined && hash.low32() !== piece.checksum)
                throw new Error(`checksum mismatch (frame says 0x${piece.checksum.toString(16)}, content hashes to 0x${hash.low32().toString(16)})`);
              // Checked: the frame goes out.
              for (const o of heldChunks()) {
                out += o.length;
                yield o;
              }
              release();
              passed = 0;
            }
          } catch (e) {
            if (!(e instanceof Error)) throw e;
            failure = { reason: e.message, at, frame: piece.frame, start: piece.frameStart, atEnd: piece.last, contentSize: walker.contentSize };
            break;
          }
        }
      } catch (e) {
        if (!(e instanceof FrameError)) throw e;
        failure = { reason: e.message, at: walker.stoppedAt, frame: e.frame ?? frame, start: walker.frameStart, atEnd: false, magic: e.magic };
      }
      if (!failure) continue;

      // Drop the damaged frame's output and find where to go on.
      const unchecked = passed;
      drop();
      passed = 0;
      let rest = chunk.subarray(Math.min(chunk.length, Math.max(0, failure.at - base)));
      const from = base + (chunk.length - rest.length);
      // Embedded recovery data after the last frame (spec/recovery.md §10): the zstd stream ends
      // there, whole; it is no damaged frame. (Anything else there is, and is reported.) Its
      // magic may run across chunks: the walker's four bytes begin it, the next chunk ends it.
      if (unchecked === 0 && failure.magic && failure.start === failure.at && failure.start <= from && from - failure.start <= 4) {
        const seen = failure.magic.subarray(0, from - failure.start);
        while (seen.length + rest.length < PAR2_MAGIC.length) {
          const more = await next();
          if (!more) break;
          rest = Buffer.concat([rest, more]);
        }
        if (Buffer.concat([seen, rest.subarray(0, PAR2_MAGIC.length - seen.length)]).equals(PAR2_MAGIC)) return;
      }
      let resume: { at: number; rest: Buffer; frame: number; size?: number };
      // The table must place the damaged frame where it began, in the compressed bytes and in the
      // decoded ones; if not, its sizes are wrong and the next frame is found by its magic.
      const listed = table && failure.frame < table.frames ? table.frame(failure.frame) : undefined;
      if (!listed || listed.compressedOffset !== failure.start || listed.decompressedOffset + unchecked !== out + lostSoFar) table = undefined;
      if (table) {
        // The first frame after the damaged one that the reading has not passed yet; past the
        // last data frame, only skippable frames (digest, seek table) remain: nothing to decode.
        let j = 0;
        while (j < table.frames && (table.frame(j).compressedOffset <= failure.start || table.frame(j).compressedOffset < from)) j++;
        const got = j < table.frames ? await skipTo(rest, from, table.frame(j).compressedOffset, next) : undefined;
        if (!got) {
          const end = j < table.frames ? table.frame(j).compressedOffset : Math.max(failure.at, table.compressedSize);
          record({ at: out, size: lostTo(table.decompressedSize), compressed: [failure.start, end], frame: failure.frame, reason: failure.reason, resumed: false, unchecked: unchecked || undefined });
          return;
        }
        resume = { ...got, frame: j, size: lostTo(table.frame(j).decompressedOffset) };
      } else {
        const found = await scan(rest, from, next);
        if (found.rest) {
          // The frame ended where it failed (checksum, last block) and the next begins right there:
          // its header's content size is what was lost.
          const size = failure.atEnd && found.at === failure.at && failure.contentSize !== undefined ? failure.contentSize - unchecked : undefined;
          resume = { at: found.at, rest: found.rest, frame: failure.frame + 1, size };
        } else {
          record({ at: out, compressed: [failure.start, found.at], frame: failure.frame, reason: failure.reason, resumed: false, unchecked: unchecked || undefined });
          return;
        }
      }
      record({ at: out, size: resume.size, compressed: [failure.start, resume.at], frame: failure.frame, reason: failure.reason, resumed: true, unchecked: unchecked || undefined });
      walker = new FrameWalker(resume.at, resume.frame);
      pending = resume.rest.length ? resume.rest : undefined;
    }
  } finally {
    dec?.destroy();
    await it.return?.();
  }
}

/** Skip to compressed offset `target`; the bytes from there, or undefined if the input ends first. */
async function skipTo(rest: Buffer, from: number, target: number, next: () => Promise<Buffer | undefined>): Promise<{ at: number; rest: Buffer } | undefined> {
  let buf = rest;
  let at = from;
  while (at + buf.length <= target) {
    at += buf.length;
    const c = await next();
    if (!c) return undefined;
    buf = c;
  }
  return { at: target, rest: buf.subarray(target - at) };
}

/**
 * The next frame start at or after `from` (bytes `rest` onwards): a zstd magic whose header and
 * first block header parse, or a skippable-frame magic. `rest` undefined: none before the end (`at`).
 */
async function scan(rest: Buffer, from: number, next: () => Promise<Buffer | undefined>): Promise<{ at: number; rest?: Buffer }> {
  let buf = rest;
  let at = from;
  let done = false;
  for (;;) {
    let i = 0;
    let keep = Math.max(0, buf.length - 3);
    for (;;) {
      const z = buf.indexOf(MAGIC, i);
      const s = buf.indexOf(SKIPPABLE_TAIL, i + 1);
      const cand = Math.min(z < 0 ? Infinity : z, s < 0 ? Infinity : s - 1);
      if (cand === Infinity) break;
      i = cand + 1;
      const magic = cand + 4 <= buf.length ? buf.readUInt32LE(cand) : -1;
      if (magic !== ZSTD_MAGIC && (magic & 0xfffffff0) >>> 0 !== SKIPPABLE_MAGIC) continue;
      if (cand + PROBE > buf.length && !done) {
        keep = cand; // decide once more bytes are here
        break;
      }
      if (magic === ZSTD_MAGIC ? plausibleHeader(buf.subarray(cand)) : plausibleSkippable(buf.subarray(cand))) return { at: at + cand, rest: buf.subarray(cand) };
    }
    if (done) return { at: at + buf.length };
    const c = await next();
    if (!c) done = true;
    at += keep;
    buf = c ? Buffer.concat([buf.subarray(keep), c]) : buf.subarray(keep);
  }
}

/**
 * A skippable frame that could be one: its size at most 16 MiB (a seek table of 1.4 million frames).
 * Damaged bytes hold a skippable magic by chance every 256 MiB or so; taking one would skip up to
 * 4 GiB of good frames.
 */
function plausibleSkippable(b: Buffer): boolean {
  return b.length >= 8 && b.readUInt32LE(4) <= MAX_SKIPPABLE;
}

const MAX_SKIPPABLE = 16 << 20;

/** A zstd frame header that could be one (FACTS §6): reserved bit clear, a sane window, a real first block. */
function plausibleHeader(b: Buffer): boolean {
  if (b.length < 6) return false;
  const fhd = b[4]!;
  if (fhd & 8) return false;
  const single = (fhd >> 5) & 1;
  if (!single && b[5]! >> 3 > 21) return false; // window log above 31
  const len = 5 + (single ? 0 : 1) + [0, 1, 2, 4][fhd & 3]! + [single, 2, 4, 8][fhd >> 6]!;
  if (b.length < len + 3) return b.length === len; // a frame header at the very end: let the walker judge
  const block = b[len]! | (b[len + 1]! << 8) | (b[len + 2]! << 16);
  return ((block >> 1) & 3) !== 3 && block >>> 3 <= 1 << 17;
}

/** A gap in a line, `from` being its offset in the decompressed (tar) stream. */
export function describeGap(g: FrameGap, from: number): string {
  const frame = `zstd frame ${g.frame} (compressed bytes ${g.compressed[0]}-${g.compressed[1]})`;
  const lost = g.size !== undefined ? `tar bytes ${from}-${from + g.size} lost` : `tar bytes from ${from} lost, how many is unknown without the seek table (later offsets count the bytes read)`;
  const unchecked = g.unchecked ? `; the ${g.unchecked} bytes of the frame before the damage were handed out unchecked` : '';
  return `${frame} is damaged: ${g.reason}: ${lost}${unchecked}${g.resumed ? '' : '; no zstd frame follows'}`;
}
