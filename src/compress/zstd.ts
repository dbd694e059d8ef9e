// zstd stream decompression, whatever the backend (backend.ts): the frame walker (frames.ts) splits
// the input into frames, each frame gets its own decoder, skippable frames (the seek table) are
// passed over, and concatenated frames decode to the concatenation of their contents (FACTS §6).
// Errors name the frame and its compressed offset. With the fzstd backend, which does not check
// checksums, each frame's checksum is checked here (XXH64, xxh64.ts).
// Compression is the seekable writer (seekable.ts): every portarc .tar.zst is seekable.

import { zstdBackend, type FrameDecoder, type ZstdBackendName } from './backend.js';
import { CompressError } from './errors.js';
import { FrameError, FrameWalker, type Piece } from './frames.js';
import { Xxh64 } from './xxh64.js';

export interface ZstdDecompressOptions {
  backend?: ZstdBackendName | 'auto';
  /** See DecompressOptions.reuseOutput (index.ts). */
  reuseOutput?: boolean;
}

export async function* zstdDecompress(src: AsyncIterable<Buffer | Uint8Array>, opts: ZstdDecompressOptions = {}): AsyncGenerator<Buffer> {
  const backend = zstdBackend('decompress', opts.backend);
  const walker = new FrameWalker();
  let dec: FrameDecoder | undefined;
  let hash: Xxh64 | undefined;
  let piece: Piece | undefined;
  try {
    for await (const c of src) {
      const chunk = Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
      for (piece of walker.split(chunk)) {
        if (piece.first) {
          dec = backend.frameDecoder(opts.reuseOutput);
          hash = backend.checksChecksums ? undefined : new Xxh64();
        }
        for await (const out of dec!.push(piece.data)) {
          hash?.update(out);
          yield out;
        }
        if (piece.last) {
          for await (const out of dec!.end()) {
            hash?.update(out);
            yield out;
          }
          dec = undefined;
          if (hash && piece.checksum !== undefined && hash.low32() !== piece.checksum)
            throw new Error(`checksum mismatch (frame says 0x${piece.checksum.toString(16)}, content hashes to 0x${hash.low32().toString(16)})`);
        }
      }
      piece = undefined;
    }
    walker.finish();
  } catch (e) {
    dec?.destroy();
    if (e instanceof FrameError) throw new CompressError(`zstd: ${e.message}`, { offset: e.offset, frame: e.frame, filter: 'zstd', cause: e });
    if (piece && e instanceof Error && !(e instanceof CompressError)) {
      const where = `zstd frame ${piece.frame} at compressed offset ${piece.frameStart}`;
      throw new CompressError(`${where}: ${e.message} (decoding compressed bytes ${piece.offset}–${piece.offset + piece.data.length})`, {
        offset: piece.frameStart,
        frame: piece.frame,
        filter: 'zstd',
        cause: e,
      });
    }
    throw e;
  }
}
