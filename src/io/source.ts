// Archive input: a file path, "-" for stdin, a Buffer or Uint8Array holding the whole archive, any
// Readable, or any async iterable of bytes. Anything else is a UsageError (spec §8.1).
// Files and stdin are read into a small ring of reused buffers: a fresh buffer per chunk leaves
// tens of MiB of garbage for V8 to find (measured: peak RSS 110 MiB vs 60 MiB on Node 24). A chunk
// from the ring is valid only until the consumer asks for the chunk after next: `stable()` copies
// for consumers that keep chunks longer.

import { close, fstat, open, read } from 'node:fs';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { IoError, ioError, UsageError } from '../model/errors.js';

export type ArchiveSource = string | Uint8Array | Readable | AsyncIterable<Buffer | Uint8Array>;

const pOpen = promisify(open);
const pRead = promisify(read);
const pClose = promisify(close);
const pFstat = promisify(fstat);

const CHUNK = 1 << 20;
const SLOTS = 3;

export interface OpenedSource {
  bytes: AsyncIterable<Buffer | Uint8Array>;
  name: string;
  /** True when `bytes` reuses its buffers (see the header comment). */
  reused: boolean;
  /** Release the file, whether or not the bytes were read to the end (a reader may stop at damage). */
  close(): Promise<void>;
}

/** The name an archive source goes by in messages. */
export function sourceName(source: ArchiveSource): string {
  if (typeof source === 'string') return source === '-' ? '(stdin)' : source;
  return source instanceof Uint8Array ? '(buffer)' : '(stream)';
}

/**
 * `length`: read only the first bytes of a file (the archive before its embedded recovery data).
 * `name`: what errors call the source, when it is not what sourceName() says (a URL's bytes).
 */
export function openSource(source: ArchiveSource, options: { length?: number; name?: string } = {}): OpenedSource {
  const name = options.name ?? sourceName(source);
  if (typeof source === 'string') {
    const bytes = source === '-' ? ring(async () => 0, false, name) : ring(() => pOpen(source, 'r'), true, name, options.length);
    const close = async () => void (await bytes.return(undefined));
    return { bytes, name, reused: true, close };
  }
  if (source instanceof Uint8Array) {
    const whole = Buffer.isBuffer(source) ? source : Buffer.from(source.buffer, source.byteOffset, source.byteLength);
    return { bytes: (async function* () { yield whole; })(), name, reused: false, close: async () => undefined };
  }
  if (source === null || typeof source !== 'object' || !(Symbol.asyncIterator in source)) {
    throw new UsageError(`an archive source is a file path, "-" for stdin, a Buffer or Uint8Array, a Readable, or an async iterable of Buffers; not ${source === null ? 'null' : typeof source}`);
  }
  return { bytes: source, name, reused: false, close: async () => undefined };
}

/** Read an fd (a file, or stdin whatever it is: file, pipe, terminal) through SLOTS reused buffers. */
async function* ring(openFd: () => Promise<number>, owned: boolean, name: string, length = Infinity): AsyncGenerator<Buffer> {
  const fd = await openFd().catch((e) => {
    throw ioError(e, 'cannot open the archive', name);
  });
  const slots = Array.from({ length: SLOTS }, () => Buffer.allocUnsafe(CHUNK));
  const readInto = (buf: Buffer, n: number): Promise<number> => {
    const p = pRead(fd, buf, 0, n, null).then(
      (r) => r.bytesRead,
      (e: NodeJS.ErrnoException) => {
        // "illegal operation on a directory" would not tell the user what to do.
        if (e.code === 'EISDIR') throw new IoError('is a directory, not an archive: name the archive file (-f FILE)', { path: name, errno: 'EISDIR' });
        throw ioError(e, 'cannot read the archive', name);
      },
    );
    p.catch(() => undefined); // awaited below; a failure while the consumer works is not unhandled
    return p;
  };
  // A regular file is read one chunk ahead: the next chunk is read while the consumer works on
  // this one (on a fast disk the wait for each read was ~5% of a small-file extraction). It goes
  // into the slot of the chunk before the one before, which the consumer gave up by asking for
  // this one. Not a pipe or a terminal: a read left waiting there when the consumer stops (at the
  // archive's end) would hold the close until more input came.
  const readsAhead = await pFstat(fd).then((st) => st.isFile(), () => false);
  let left = length;
  let ahead: Promise<number> | undefined = left > 0 ? readInto(slots[0]!, Math.min(CHUNK, left)) : undefined;
  try {
    for (let i = 0; ahead; i++) {
      const bytesRead = await ahead;
      ahead = undefined;
      if (bytesRead === 0) return;
      left -= bytesRead;
      const readNext = () => (left > 0 ? readInto(slots[(i + 1) % SLOTS]!, Math.min(CHUNK, left)) : undefined);
      if (readsAhead) ahead = readNext();
      yield slots[i % SLOTS]!.subarray(0, bytesRead);
      if (!readsAhead) ahead = readNext();
    }
  } finally {
    // A read still running holds the descriptor: it ends before the descriptor is closed.
    if (ahead) await ahead.catch(() => undefined);
    if (owned) await pClose(fd);
  }
}

/** Copy every chunk, for consumers that may hold on to one after asking for the next. */
export async function* stable(src: AsyncIterable<Buffer | Uint8Array>): AsyncGenerator<Buffer> {
  for await (const c of src) yield Buffer.from(c);
}
