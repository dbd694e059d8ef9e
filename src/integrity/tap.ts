// A digest of a byte stream up to an offset the consumer learns only later (a member's first
// header, once the reader has parsed past it). The last bytes are kept as copies, not yet hashed,
// so that the digest can stop at any offset within them: up to `lag` bytes, fewer when the consumer
// says how far no cut will ever fall (hashUpTo: the part of a member's data it has read).
// Spec: spec/manifest.md §8.3.
//
// The copies go into reused blocks, not a fresh buffer per chunk: a 2 GiB .tar.zst passes ~8,000
// chunks, and fresh copies were garbage that V8 freed late (verify peaked at 220 MiB).

import { createHash, type Hash } from 'node:crypto';

/** How far behind the stream's front a cut may fall: the reader's read-ahead plus the largest header. */
export const LAG = 24 << 20;
const BLOCK = 256 << 10;

export class LagDigest {
  /** Bytes that have passed through. */
  position = 0;
  private hash: Hash = createHash('sha256');
  /** The hash covers [base, hashed); the blocks hold [hashed, position), from `head` in the first. */
  private hashed = 0;
  private blocks: Buffer[] = [];
  private head = 0;
  /** Bytes used in the last block. */
  private fill = 0;
  private spare: Buffer[] = [];

  constructor(private readonly lag = LAG) {}

  async *wrap(src: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const c of src) {
      this.keep(c);
      if (this.position - this.hashed > this.lag) this.hashUpTo(this.position - this.lag);
      yield c;
    }
  }

  private keep(c: Buffer): void {
    for (let p = 0; p < c.length; ) {
      if (!this.blocks.length || this.fill === BLOCK) {
        this.blocks.push(this.spare.pop() ?? Buffer.allocUnsafeSlow(BLOCK));
        this.fill = 0;
      }
      const n = c.copy(this.blocks[this.blocks.length - 1]!, this.fill, p);
      this.fill += n;
      p += n;
    }
    this.position += c.length;
  }

  /** Hash the kept bytes up to `at` (at most to the position). */
  private take(at: number): void {
    while (this.hashed < at) {
      const first = this.blocks[0]!;
      const end = this.blocks.length === 1 ? this.fill : BLOCK;
      const n = Math.min(at - this.hashed, end - this.head);
      this.hash.update(first.subarray(this.head, this.head + n));
      this.head += n;
      this.hashed += n;
      if (this.head === end) {
        this.blocks.shift();
        if (this.spare.length < 4) this.spare.push(first);
        this.head = 0;
        if (!this.blocks.length) this.fill = 0;
      }
    }
  }

  /** No cut will fall before `at`: hash the kept bytes up to it (memory stays at the read-ahead). */
  hashUpTo(at: number): void {
    this.take(Math.min(at, this.position));
  }

  /** The bytes not yet hashed (at most the last `lag`), e.g. after cut(): what follows the cut. */
  tail(): Buffer {
    const parts = this.blocks.map((b, i) => b.subarray(i === 0 ? this.head : 0, i === this.blocks.length - 1 ? this.fill : BLOCK));
    return Buffer.concat(parts);
  }

  /**
   * The digest of [start of the current range, at) and a new range starting at `at`. Undefined
   * when `at` is already hashed past or not yet read (the digest cannot be checked).
   */
  cut(at: number): string | undefined {
    if (at < this.hashed || at > this.position) return undefined;
    this.take(at);
    const d = this.hash.digest('hex');
    this.hash = createHash('sha256');
    return d;
  }
}
