// Pull bytes from any async stream of Buffers in exact amounts, tracking the absolute offset.
// The tar reader sits on this; it never holds more than one chunk of the input plus what it asked for.

export class ByteSource {
  private iter: AsyncIterator<Buffer | Uint8Array>;
  private chunk: Buffer = Buffer.alloc(0);
  private done = false;
  /** Bytes consumed so far: the offset in the archive of the next byte. */
  position = 0;

  constructor(source: AsyncIterable<Buffer | Uint8Array>) {
    this.iter = source[Symbol.asyncIterator]();
  }

  private async fill(): Promise<boolean> {
    while (this.chunk.length === 0) {
      if (this.done) return false;
      const r = await this.iter.next();
      if (r.done) {
        this.done = true;
        return false;
      }
      this.chunk = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
    }
    return true;
  }

  /** Exactly n bytes, or fewer only at the end of the input. */
  async read(n: number): Promise<Buffer> {
    if (!(await this.fill())) return Buffer.alloc(0);
    if (this.chunk.length >= n) {
      const out = this.chunk.subarray(0, n);
      this.chunk = this.chunk.subarray(n);
      this.position += n;
      return out;
    }
    const parts: Buffer[] = [];
    let got = 0;
    while (got < n && (await this.fill())) {
      const take = Math.min(n - got, this.chunk.length);
      parts.push(this.chunk.subarray(0, take));
      this.chunk = this.chunk.subarray(take);
      got += take;
    }
    this.position += got;
    return Buffer.concat(parts, got);
  }

  /** Up to n bytes, as the chunks arrive (no copying). Ends early only at the end of the input. */
  async *stream(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0 && (await this.fill())) {
      const take = Math.min(left, this.chunk.length);
      const out = this.chunk.subarray(0, take);
      this.chunk = this.chunk.subarray(take);
      this.position += take;
      left -= take;
      yield out;
    }
  }

  /** Discard n bytes; returns how many were really there. */
  async skip(n: number): Promise<number> {
    let got = 0;
    for await (const part of this.stream(n)) got += part.length;
    return got;
  }
}
