// Which filter wraps an archive, from its first bytes, and a way to look at those bytes on a stream
// that cannot seek (stdin) without losing them. Magic numbers: gzip 1F 8B (RFC 1952); zstd frame
// 28 B5 2F FD; a zstd skippable frame 0x184D2A50–5F little-endian, which pzstd output begins with
// (FACTS §6). Formats portarc does not read are named, so the error says "xz", not "bad header".

import type { Filter } from './types.js';
import { SKIPPABLE_MASK, SKIPPABLE_MAGIC, ZSTD_MAGIC } from './frames.js';

/** The filter the bytes start with; 'none' for anything else (a tar, or too few bytes). */
export function sniff(head: Uint8Array): Filter {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4) {
    const magic = (head[0]! | (head[1]! << 8) | (head[2]! << 16) | (head[3]! << 24)) >>> 0;
    if (magic === ZSTD_MAGIC || ((magic & SKIPPABLE_MASK) >>> 0) === SKIPPABLE_MAGIC) return 'zstd';
  }
  return 'none';
}

const OTHERS: [string, number[]][] = [
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ['bzip2', [0x42, 0x5a, 0x68]],
  ['lz4', [0x04, 0x22, 0x4d, 0x18]],
  ['lzip', [0x4c, 0x5a, 0x49, 0x50]],
  ['compress (.Z)', [0x1f, 0x9d]],
  ['zip', [0x50, 0x4b, 0x03, 0x04]],
  ['7z', [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c]],
];

/** The name of a compression format portarc does not read, if the bytes start with one. */
export function unsupportedFormat(head: Uint8Array): string | undefined {
  for (const [name, magic] of OTHERS) if (magic.every((b, i) => head[i] === b)) return name;
  return undefined;
}

/** Bytes needed to tell every format above apart. */
export const SNIFF_BYTES = 6;

/**
 * The first `n` bytes of `source` (fewer if it is shorter), and an iterable that yields all of the
 * source again from its first byte. Reads only as many chunks as it needs.
 */
export async function peek(source: AsyncIterable<Buffer | Uint8Array>, n: number): Promise<{ head: Buffer; rest: AsyncIterable<Buffer> }> {
  const it = source[Symbol.asyncIterator]();
  const seen: Buffer[] = [];
  let have = 0;
  let done = false;
  while (have < n) {
    const r = await it.next();
    if (r.done) {
      done = true;
      break;
    }
    const c = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
    // A source may reuse its buffers (stdin's ring: a chunk is valid until the one after next is
    // asked for): a chunk kept while more are read is copied. A pipe written a few bytes at a time
    // gives many small chunks, and the first was refilled before they were joined.
    seen.push(have + c.length < n ? Buffer.from(c) : c);
    have += c.length;
  }
  const all = seen.length === 1 ? seen[0]! : Buffer.concat(seen, have);
  async function* rest(): AsyncGenerator<Buffer> {
    let finished = done;
    try {
      if (all.length) yield all;
      while (!finished) {
        const r = await it.next();
        if (r.done) {
          finished = true;
          break;
        }
        yield Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
      }
    } finally {
      if (!finished) await it.return?.();
    }
  }
  return { head: all.subarray(0, n), rest: rest() };
}
