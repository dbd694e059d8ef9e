// Entry content on its way into any container: exactly the announced number of bytes. A file that
// grew or shrank while it was read is cut or padded with zeros, with a warning, as GNU tar does; a
// read error after the header is out does the same (the archive stays valid). Used by the tar and
// zip writers. Spec: spec/portarc-1.md §4.6 (member layout).

/** Shared zeros; never written to, so handing it to a sink more than once is safe. */
export const ZEROS = Buffer.alloc(1 << 20);

export type Body = AsyncIterable<Buffer> | Buffer | undefined;

export function* zeros(n: number): Generator<Buffer> {
  for (let left = n; left > 0; left -= ZEROS.length) yield ZEROS.subarray(0, Math.min(left, ZEROS.length));
}

/** Exactly `size` bytes of `body`; differences and read errors become warnings. */
export async function* exactly(body: Body, size: number, name: string, warnings: string[]): AsyncGenerator<Buffer> {
  let written = 0;
  if (body) {
    const parts = (Buffer.isBuffer(body) ? [body] : body) as AsyncIterable<Buffer> | Buffer[];
    const iter = Symbol.asyncIterator in parts ? parts[Symbol.asyncIterator]() : parts[Symbol.iterator]();
    for (;;) {
      let next: IteratorResult<Buffer>;
      try {
        next = await iter.next();
      } catch (err) {
        warnings.push(`${name}: read error after ${written} bytes: ${(err as Error).message}`);
        break;
      }
      if (next.done) break;
      const part = next.value;
      const take = Math.min(part.length, size - written);
      if (take > 0) yield take === part.length ? part : part.subarray(0, take);
      written += part.length;
    }
  }
  if (written > size) warnings.push(`${name}: content grew while it was read (${written} bytes, ${size} expected); truncated`);
  else if (written < size) {
    warnings.push(`${name}: content shrank while it was read (${written} of ${size} bytes); padded with zeros`);
    yield* zeros(size - written);
  }
}

