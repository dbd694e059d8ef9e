// The container bytes of a seekable archive (a plain tar or zip as is, a .tar.zst through its seek
// table) and where in them the manifest trailer is. Spec: spec/manifest.md §6 (the trailer) and
// §12 (random access). Used by open() and by verify, which reads a .tar.zst's manifest ahead.

import { decodeTrailer, isTrailerMagic, TrailerError, TRAILER_MAGIC, TRAILER_TEXT_SIZE, type Trailer } from '../manifest/trailer.js';

/** The container bytes of a seekable archive: a plain tar or zip as is, a .tar.zst through its seek table. */
export interface Container {
  size: number;
  range(start: number, length: number): AsyncIterable<Buffer>;
}

export async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of it) parts.push(c);
  return Buffer.concat(parts);
}

/** The most bytes searched for a tar trailer, from the container's end. */
const TAIL = 64 << 10;

/** Find the tar trailer in the last container bytes: the last 512-aligned block starting with the magic. */
export async function tarTrailer(c: Container): Promise<{ at: number; trailer: Trailer } | string> {
  // portarc puts it 1536 bytes from the end (plus up to a 10 KiB record's padding): try 16 KiB before the last 64 KiB (a small
  // file fetched over HTTP must not cost a 64 KiB tail).
  for (const span of [16 << 10, TAIL]) {
    const r = await tarTrailerIn(c, span);
    if (typeof r !== 'string' || span >= c.size) return r;
  }
  return 'no manifest trailer: the archive has no manifest';
}

async function tarTrailerIn(c: Container, span: number): Promise<{ at: number; trailer: Trailer } | string> {
  const tailStart = Math.max(0, c.size - span);
  const tail = await collect(c.range(tailStart, c.size - tailStart));
  for (let p = Math.floor((c.size - 512) / 512) * 512; p >= tailStart; p -= 512) {
    const i = p - tailStart;
    if (!isTrailerMagic(tail.toString('latin1', i, i + TRAILER_MAGIC.length))) continue;
    // Only end-of-archive blocks may follow the trailer's block: members after it were appended
    // (`tar -rf`) and its manifest does not list them; a random access through it would read an
    // older member of a name, or miss one, without a word.
    if (!tail.subarray(i + 512).every((b) => b === 0)) return 'members follow the manifest trailer (appended to, as by tar -r): the manifest does not describe the whole archive';
    try {
      const trailer = decodeTrailer(tail.subarray(i, i + 512));
      if (!tail.subarray(i + TRAILER_TEXT_SIZE, i + 512).every((b) => b === 0)) return 'the trailer block is not NUL-padded';
      return { at: p, trailer };
    } catch (err) {
      if (err instanceof TrailerError) return err.message;
      throw err;
    }
  }
  return 'no manifest trailer: the archive has no manifest';
}

export async function zipTrailer(c: Container): Promise<{ at: number; trailer: Trailer } | string> {
  if (c.size < TRAILER_TEXT_SIZE + 22) return 'no manifest trailer: the archive has no manifest';
  const at = c.size - TRAILER_TEXT_SIZE;
  const text = await collect(c.range(at, TRAILER_TEXT_SIZE));
  if (!isTrailerMagic(text.toString('latin1'))) return 'no manifest trailer: the archive has no manifest';
  try {
    return { at, trailer: decodeTrailer(text) };
  } catch (err) {
    if (err instanceof TrailerError) return err.message;
    throw err;
  }
}
