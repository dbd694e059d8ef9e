// A byte source with give-back: the streaming zip reader hands a decompressor more input than the
// compressed data may hold (its end is only known once the decoder stops), then returns the rest.
// Built on io/bytesource.ts. Spec: spec/zip-profile.md §6.2 (streaming reads).

import { ByteSource } from '../io/bytesource.js';

export class PullSource {
  private src: ByteSource;
  private front: Buffer[] = [];
  private frontBytes = 0;

  constructor(source: AsyncIterable<Buffer | Uint8Array>) {
    this.src = new ByteSource(source);
  }

  /** Offset in the input of the next byte. */
  get position(): number {
    return this.src.position - this.frontBytes;
  }

  unread(b: Buffer): void {
    if (!b.length) return;
    this.front.unshift(b);
    this.frontBytes += b.length;
  }

  /** Between 1 and `max` bytes, or an empty buffer at the end of the input. */
  async some(max: number): Promise<Buffer> {
    if (this.front.length) {
      const head = this.front[0]!;
      const out = head.length <= max ? head : head.subarray(0, max);
      if (out.length === head.length) this.front.shift();
      else this.front[0] = head.subarray(max);
      this.frontBytes -= out.length;
      return out;
    }
    for await (const part of this.src.stream(max)) return part;
    return Buffer.alloc(0);
  }

  /** Exactly n bytes, or fewer only at the end of the input. */
  async read(n: number): Promise<Buffer> {
    if (!this.front.length) return this.src.read(n);
    const parts: Buffer[] = [];
    let got = 0;
    while (got < n) {
      const p = await this.some(n - got);
      if (!p.length) break;
      parts.push(p);
      got += p.length;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, got);
  }

  /** Discard n bytes; returns how many were there. */
  async skip(n: number): Promise<number> {
    let got = 0;
    while (got < n) {
      const p = await this.some(Math.min(n - got, 1 << 20));
      if (!p.length) break;
      got += p.length;
    }
    return got;
  }
}
