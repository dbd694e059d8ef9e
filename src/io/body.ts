// Entry content on its way into any container: exactly the announced number of bytes, or a
// failure. A body that ends early or throws fails the entry (EntryError): its header is already
// out, and padding with zeros would publish a plausible-looking file that is not the original.
// A body that yields more than announced is cut, with a warning (the file grew while it was read).
// Used by the tar and zip writers. Spec: spec/portarc-1.md §4.6 (member layout) and §8.5
// (entries that cannot be read).

import { EntryError, PortarcError, describeErrno } from '../model/errors.js';

/** Shared zeros; never written to, so handing it to a sink more than once is safe. */
export const ZEROS = Buffer.alloc(1 << 20);

export type Body = AsyncIterable<Buffer> | Buffer | undefined;

export function* zeros(n: number): Generator<Buffer> {
  for (let left = n; left > 0; left -= ZEROS.length) yield ZEROS.subarray(0, Math.min(left, ZEROS.length));
}

/**
 * A content already in memory as a body: the Buffer itself (writers and restore take it whole,
 * with no async iteration), made an async iterable of itself for any other consumer.
 */
export function bufferBody(data: Buffer): AsyncIterable<Buffer> & Buffer {
  return Object.defineProperty(data, Symbol.asyncIterator, {
    value: async function* () {
      yield data;
    },
  }) as AsyncIterable<Buffer> & Buffer;
}

/** "permission denied (EACCES)" for a system error, the message otherwise. */
export function readFailure(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e === 'object' && typeof e.code === 'string' && typeof e.syscall === 'string') return describeErrno(e);
  return e instanceof Error ? e.message : String(err);
}

/** The error for an entry whose content could not be read completely (spec §8.5). */
export function cannotRead(name: string, reason: string, cause?: unknown): EntryError {
  return new EntryError(`cannot read: ${reason}`, { path: name, cause });
}

/**
 * Exactly `size` bytes of `body`. A body that throws or yields fewer bytes fails with an
 * EntryError naming the entry; excess bytes are cut with a warning in `warnings`.
 */
export async function* exactly(body: Body, size: number, name: string, warnings: string[]): AsyncGenerator<Buffer> {
  let written = 0;
  if (body) {
    const parts = (Buffer.isBuffer(body) ? [body] : body) as AsyncIterable<Buffer> | Buffer[];
    const iter = Symbol.asyncIterator in parts ? parts[Symbol.asyncIterator]() : parts[Symbol.iterator]();
    let finished = false;
    try {
      for (;;) {
        let next: IteratorResult<Buffer>;
        try {
          next = await iter.next();
        } catch (err) {
          finished = true;
          // An EntryError from the scanner already names the entry and the reason.
          if (err instanceof PortarcError) throw err;
          throw cannotRead(name, `${readFailure(err)} after ${written} of ${size} bytes`, err);
        }
        if (next.done) {
          finished = true;
          break;
        }
        const part = next.value;
        const take = Math.min(part.length, size - written);
        if (take > 0) yield take === part.length ? part : part.subarray(0, take);
        written += part.length;
      }
    } finally {
      // The consumer stopped early (the sink failed): let the body close its file.
      // Its own complaint about being stopped (AbortError) must not hide why it was stopped.
      if (!finished) await Promise.resolve(iter.return?.()).catch(() => undefined);
    }
  }
  if (written > size) warnings.push(`${name}: file changed as we read it (${written} bytes read, ${size} expected); archived the first ${size}`);
  else if (written < size) throw cannotRead(name, `file shrank by ${size - written} bytes while it was read (${written} of ${size} bytes)`);
}
