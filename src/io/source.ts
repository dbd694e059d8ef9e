// Archive input: a file path, "-" for stdin, any Readable, or any async iterable of bytes.

import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';

export type ArchiveSource = string | Readable | AsyncIterable<Buffer | Uint8Array>;

export function openSource(source: ArchiveSource): { bytes: AsyncIterable<Buffer | Uint8Array>; name: string } {
  if (typeof source === 'string') {
    if (source === '-') return { bytes: process.stdin, name: '(stdin)' };
    return { bytes: createReadStream(source, { highWaterMark: 1 << 20 }), name: source };
  }
  return { bytes: source, name: '(stream)' };
}
