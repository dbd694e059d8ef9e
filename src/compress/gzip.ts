// gzip filter with node:zlib (deps/REPORT.md §6: 1.6x the gzip program's speed; stream it, 256 KiB
// chunks). Decompression reads every member of a multi-member file, as `gzip -d` does (Node's
// Gunzip continues at a following gzip header). Errors name the compressed bytes being decoded.

import { createGunzip, createGzip } from 'node:zlib';
import { CompressError } from './errors.js';
import type { Encoder } from './types.js';
import { ZLIB_CHUNK, ZlibDriver } from './zlibstream.js';

/** gzip compressor. Small writes (tar headers) are gathered into 256 KiB before zlib sees them. */
export function gzipEncoder(out: (chunk: Buffer) => void | Promise<void>, level = 6): Encoder {
  const z = new ZlibDriver(createGzip({ level, chunkSize: ZLIB_CHUNK }));
  let batch: Buffer[] = [];
  let batched = 0;
  const feed = async (last: boolean) => {
    if (batched) {
      const chunk = batch.length === 1 ? batch[0]! : Buffer.concat(batch, batched);
      batch = [];
      batched = 0;
      for await (const o of z.push(chunk)) await out(o);
    }
    if (last) for await (const o of z.end()) await out(o);
  };
  return {
    write(chunk: Buffer) {
      // Small writes wait in the batch: copy them, as the caller may reuse its buffer. A large one
      // is fed to zlib (and finished with) before write() resolves.
      batch.push(chunk.length < ZLIB_CHUNK ? Buffer.from(chunk) : chunk);
      batched += chunk.length;
      if (batched >= ZLIB_CHUNK) return feed(false);
    },
    end: () => feed(true),
    destroy: () => z.destroy(),
  };
}

export async function* gunzip(src: AsyncIterable<Buffer | Uint8Array>): AsyncGenerator<Buffer> {
  const d = new ZlibDriver(createGunzip({ chunkSize: ZLIB_CHUNK }));
  let offset = 0;
  let len = 0;
  try {
    for await (const c of src) {
      const chunk = Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
      len = chunk.length;
      yield* d.push(chunk);
      offset += len;
      len = 0;
    }
    yield* d.end();
  } catch (e) {
    if (!isZlibError(e)) throw e;
    const where = len ? `in compressed bytes ${offset}–${offset + len}` : `at the end of the input (${offset} bytes)`;
    // One deflate stream: nothing after the damage can be decoded (zstd frames can: salvage.ts).
    throw new CompressError(`gzip: ${(e as Error).message} ${where}; nothing after it can be read (a gzip stream cannot be resynchronised)`, { offset, filter: 'gzip', cause: e });
  } finally {
    d.destroy();
  }
}

function isZlibError(e: unknown): boolean {
  return e instanceof Error && typeof (e as { errno?: unknown }).errno === 'number' && 'code' in e;
}
