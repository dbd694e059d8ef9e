// A digest of a byte stream up to an offset the consumer learns only later (a member's first
// header, once the reader has parsed past it). The last LAG bytes are kept as copies, not yet
// hashed, so that the digest can stop at any offset within them. Spec: spec/manifest.md §8.3.

import { createHash, type Hash } from 'node:crypto';

/** How far behind the stream's front a cut may fall: the reader's read-ahead plus a large header. */
const LAG = 24 << 20;

export class LagDigest {
  /** Bytes that have passed through. */
  position = 0;
  private hash: Hash = createHash('sha256');
  /** The hash covers [base, hashed); pending holds [hashed, position). */
  private hashed = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  async *wrap(src: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const c of src) {
      this.pending.push(Buffer.from(c));
      this.pendingBytes += c.length;
      this.position += c.length;
      while (this.pendingBytes - this.pending[0]!.length >= LAG) {
        const b = this.pending.shift()!;
        this.hash.update(b);
        this.hashed += b.length;
        this.pendingBytes -= b.length;
      }
      yield c;
    }
  }

  /** The bytes not yet hashed (at most the last LAG), e.g. after cut(): what follows the cut. */
  tail(): Buffer {
    return Buffer.concat(this.pending);
  }

  /**
   * The digest of [start of the current range, at) and a new range starting at `at`. Undefined
   * when `at` is already hashed past or not yet read (the digest cannot be checked).
   */
  cut(at: number): string | undefined {
    if (at < this.hashed || at > this.position) return undefined;
    let left = at - this.hashed;
    while (left > 0) {
      const b = this.pending[0]!;
      const take = Math.min(left, b.length);
      this.hash.update(b.subarray(0, take));
      if (take === b.length) this.pending.shift();
      else this.pending[0] = b.subarray(take);
      this.pendingBytes -= take;
      left -= take;
    }
    this.hashed = at;
    const d = this.hash.digest('hex');
    this.hash = createHash('sha256');
    return d;
  }
}
