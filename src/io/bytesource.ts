// Pull bytes from any async stream of Buffers in exact amounts, tracking the absolute offset.
// The tar reader sits on this; it never holds more than one chunk of the input plus what it asked for.
// Gaps (spec §6.8, seekable zstd): a salvaging decompressor (compress/salvage.ts) may drop a damaged
// frame's bytes and go on; it lists each gap, with the count of bytes it had handed out before it.
// When the reading reaches a gap, every read throws a GapError until the reader accepts the gap
// (acceptGap): the offset then moves past the bytes lost, when their number is known.

import * as crypto from 'node:crypto';
import { createHash, type Hash } from 'node:crypto';
import { DamagedError } from '../model/errors.js';

/** crypto.hash (Node 20.12+): a digest in one call; undefined on older runtimes. */
const hashOnce = (crypto as { hash?: (algorithm: string, data: Buffer, encoding: 'hex') => string }).hash;

/** Bytes lost from the stream: after the first `at` bytes of the source, `size` of them (if known). */
export interface Gap {
  at: number;
  size?: number;
  reason: string;
}

/** The reading reached bytes lost to damage; `offset` is where the loss begins (see Gap). */
export class GapError extends DamagedError {
  constructor(
    readonly gap: Gap,
    offset: number,
  ) {
    super(gap.reason, { offset });
    this.name = 'GapError';
  }
}

export class ByteSource {
  private iter: AsyncIterator<Buffer | Uint8Array>;
  /** The chunk being read, and how much of it is consumed (a view per read would be garbage per header). */
  private chunk: Buffer = Buffer.alloc(0);
  private off = 0;
  private done = false;
  /** Bytes received from the source (not counting gaps). */
  private raw = 0;
  private gapIndex = 0;
  /** A gap reached and not accepted yet. */
  private gap: Gap | undefined;
  /** Bytes received after the next gap, not counted in `raw` yet: read before the source. */
  private stash: Buffer[] = [];
  /** Bytes consumed so far: the offset in the archive of the next byte. */
  position = 0;
  /** False once a gap of unknown size was passed: `position` then counts the bytes read, not archive offsets. */
  exact = true;
  /**
   * The SHA-256 of the bytes consumed since startDigest() (a tar member's header range, checked
   * against the manifest's hsha256): where in `chunk` they begin (-1: not digesting; -2: from the
   * start of the next chunk), and a Hash only once they cross a chunk (most headers do not: one
   * call hashes them).
   */
  private digestFrom = -1;
  private digestHash: Hash | undefined;

  constructor(
    source: AsyncIterable<Buffer | Uint8Array>,
    private gaps?: readonly Gap[],
  ) {
    this.iter = source[Symbol.asyncIterator]();
  }

  /** Begin a digest of the bytes consumed from here on (see digestFrom). */
  startDigest(): void {
    this.digestFrom = this.off;
    this.digestHash = undefined;
  }

  /** The hex SHA-256 of the bytes consumed since startDigest(), or undefined when none was started. */
  endDigest(): string | undefined {
    const from = this.digestFrom;
    if (from === -1) return undefined;
    this.digestFrom = -1;
    const tail = from >= 0 ? this.chunk.subarray(from, this.off) : Buffer.alloc(0);
    const h = this.digestHash;
    this.digestHash = undefined;
    if (h) return h.update(tail).digest('hex');
    return hashOnce ? hashOnce('sha256', tail, 'hex') : createHash('sha256').update(tail).digest('hex');
  }

  /** Stop a digest without its result (the member it was for is lost). */
  dropDigest(): void {
    this.digestFrom = -1;
    this.digestHash = undefined;
  }

  private async fill(): Promise<boolean> {
    // The chunk is used up: what the digest took of it goes into the Hash before it is replaced.
    if (this.digestFrom >= 0 && this.off === this.chunk.length) {
      (this.digestHash ??= createHash('sha256')).update(this.chunk.subarray(this.digestFrom));
      this.digestFrom = -2;
    }
    while (this.off === this.chunk.length) {
      if (this.gap) throw new GapError(this.gap, this.position);
      let c = this.stash.shift();
      if (!c && !this.done) {
        const r = await this.iter.next();
        if (r.done) this.done = true;
        else c = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
      }
      const g = this.gaps?.[this.gapIndex];
      if (g && g.at <= this.raw) {
        this.gapIndex++;
        this.gap = g;
        if (c) this.stash.unshift(c);
        throw new GapError(g, this.position);
      }
      if (!c) return false;
      if (g && g.at < this.raw + c.length) {
        // The gap lies inside the chunk (bytes gathered ahead, by a peek): split it there.
        this.stash.unshift(c.subarray(g.at - this.raw));
        c = c.subarray(0, g.at - this.raw);
      }
      this.raw += c.length;
      this.chunk = c;
      this.off = 0;
      if (this.digestFrom === -2) this.digestFrom = 0;
    }
    return true;
  }

  /** Go on past the gap reached: the offset moves past the bytes lost (if their number is known). */
  acceptGap(): Gap {
    const g = this.gap!;
    this.gap = undefined;
    if (g.size !== undefined) this.position += g.size;
    else this.exact = false;
    return g;
  }

  /** Put bytes just read back in front of the stream (a scan that read past what it found). */
  unread(b: Buffer): void {
    if (!b.length) return;
    this.dropDigest(); // only a resync unreads: the member being digested is lost
    // Into `chunk`, not the stash: these bytes were counted as received already.
    this.chunk = this.off < this.chunk.length ? Buffer.concat([b, this.chunk.subarray(this.off)]) : Buffer.from(b);
    this.off = 0;
    this.position -= b.length;
  }

  /**
   * Exactly n bytes when the chunk at hand holds them, else undefined (then read() them): the
   * tar reader's headers, most of which are there already, without a promise each.
   */
  readNow(n: number): Buffer | undefined {
    if (this.chunk.length - this.off < n || n === 0) return undefined;
    const out = this.chunk.subarray(this.off, this.off + n);
    this.off += n;
    this.position += n;
    return out;
  }

  /** Up to n bytes of the chunk at hand (none when it is used up), without waiting for more. */
  takeNow(n: number): Buffer {
    const out = this.chunk.subarray(this.off, Math.min(this.chunk.length, this.off + n));
    this.off += out.length;
    this.position += out.length;
    return out;
  }

  /** Discard n bytes when the chunk at hand holds them (true), else nothing (false: skip() them). */
  skipNow(n: number): boolean {
    if (this.chunk.length - this.off < n) return false;
    this.off += n;
    this.position += n;
    return true;
  }

  /** Exactly n bytes, or fewer only at the end of the input. */
  async read(n: number): Promise<Buffer> {
    // fill() only when the chunk is used up: an async call per read was garbage per header.
    if (this.off === this.chunk.length && !(await this.fill())) return Buffer.alloc(0);
    if (this.chunk.length - this.off >= n) {
      const out = this.chunk.subarray(this.off, this.off + n);
      this.off += n;
      this.position += n;
      return out;
    }
    // Copied as each chunk comes: the input may reuse a chunk's memory once the one after it is
    // asked for (src/io/source.ts), and views joined at the end held other bytes by then (a pax
    // header of more than two chunks lost its records).
    const out = Buffer.allocUnsafe(n);
    let got = 0;
    while (got < n && (await this.fill())) {
      const take = Math.min(n - got, this.chunk.length - this.off);
      this.chunk.copy(out, got, this.off, this.off + take);
      this.off += take;
      // Counted as it goes: a gap may stop the read halfway, and the offset must be right then.
      this.position += take;
      got += take;
    }
    return got === n ? out : out.subarray(0, got);
  }

  /** Up to n bytes, as the chunks arrive (no copying). Ends early only at the end of the input. */
  async *stream(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0 && (this.off < this.chunk.length || (await this.fill()))) {
      const take = Math.min(left, this.chunk.length - this.off);
      const out = this.chunk.subarray(this.off, this.off + take);
      this.off += take;
      this.position += take;
      left -= take;
      yield out;
    }
  }

  /** Discard n bytes; returns how many were really there. */
  async skip(n: number): Promise<number> {
    let got = 0;
    while (got < n && (this.off < this.chunk.length || (await this.fill()))) {
      const take = Math.min(n - got, this.chunk.length - this.off);
      this.off += take;
      this.position += take;
      got += take;
    }
    return got;
  }
}
