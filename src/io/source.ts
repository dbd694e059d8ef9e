// Archive input: a file path, "-" for stdin, any Readable, or any async iterable of bytes.
// Files and stdin are read into a small ring of reused buffers: a fresh buffer per chunk leaves
// tens of MiB of garbage for V8 to find (measured: peak RSS 110 MiB vs 60 MiB on Node 24). A chunk
// from the ring is valid only until the consumer asks for the chunk after next: `stable()` copies
// for consumers that keep chunks longer.

import { close, open, read } from 'node:fs';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';

export type ArchiveSource = string | Readable | AsyncIterable<Buffer | Uint8Array>;

const pOpen = promisify(open);
const pRead = promisify(read);
const pClose = promisify(close);

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

export function openSource(source: ArchiveSource): OpenedSource {
  if (typeof source === 'string') {
    const bytes = source === '-' ? ring(async () => 0, false) : ring(() => pOpen(source, 'r'), true);
    const close = async () => void (await bytes.return(undefined));
    return { bytes, name: source === '-' ? '(stdin)' : source, reused: true, close };
  }
  return { bytes: source, name: '(stream)', reused: false, close: async () => undefined };
}

/** Read an fd (a file, or stdin whatever it is: file, pipe, terminal) through SLOTS reused buffers. */
async function* ring(openFd: () => Promise<number>, owned: boolean): AsyncGenerator<Buffer> {
  const fd = await openFd();
  const slots = Array.from({ length: SLOTS }, () => Buffer.allocUnsafe(CHUNK));
  try {
    for (let i = 0; ; i++) {
      const buf = slots[i % SLOTS]!;
      const { bytesRead } = await pRead(fd, buf, 0, CHUNK, null);
      if (bytesRead === 0) return;
      yield buf.subarray(0, bytesRead);
    }
  } finally {
    if (owned) await pClose(fd);
  }
}

/** Copy every chunk, for consumers that may hold on to one after asking for the next. */
export async function* stable(src: AsyncIterable<Buffer | Uint8Array>): AsyncGenerator<Buffer> {
  for await (const c of src) yield Buffer.from(c);
}
