// gzip filter with node:zlib (deps/REPORT.md §6: 1.6x the gzip program's speed; stream it, 256 KiB
// chunks). Decompression reads every member of a multi-member file, as `gzip -d` does (Node's
// Gunzip continues at a following gzip header). Errors name the compressed bytes being decoded.

import { constants as zlibConstants, createGzip, createInflateRaw, inflateRawSync } from 'node:zlib';
import { crc32 } from '../zip/crc.js';
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

/**
 * Decompress a gzip file: every member in turn (RFC 1952 §2.2), as `gzip -d` does, and then what
 * follows the last one (spec §4.8). The framing is read here and each member's deflate data goes
 * to node:zlib's raw inflater, because Gunzip cannot say where its input stopped being gzip:
 * bytes after the last member that are not a member made it fail on the whole chunk, dropping
 * everything that chunk decoded (a small .tar.gz with junk appended listed nothing), and a zero
 * byte there made it stop without a word whatever came after (`gzip -d` says "trailing garbage").
 * Here all members are decoded; trailing zeros are padding; anything else after them is a
 * CompressError naming its compressed bytes, thrown after everything before it was handed out.
 */
export async function* gunzip(src: AsyncIterable<Buffer | Uint8Array>): AsyncGenerator<Buffer> {
  const input = new Input(src);
  /** The last member was small: the next is tried in one call (inflateSmall). */
  let small = false;
  try {
    for (let member = 0; ; member++) {
      const start = input.pos;
      if (!(await input.need(1))) {
        if (member === 0) throw gzipError('unexpected end of file (no gzip data)', start);
        return;
      }
      if (member > 0 && !(input.buf[0] === 0x1f && (await input.need(2)) && input.buf[1] === 0x8b)) return await trailing(input);
      await header(input);
      const whole = small ? inflateSmall(input) : undefined;
      if (whole) yield counted(input, whole);
      else yield* inflateMember(input);
      small = input.size <= SMALL_MEMBER;
      const trailerAt = input.pos;
      if (!(await input.need(8))) throw gzipError(`unexpected end of file (in the trailer of the member at compressed byte ${start})`, trailerAt);
      const t = input.take(8);
      const crc = t.readUInt32LE(0);
      const size = t.readUInt32LE(4);
      if (crc !== input.crc >>> 0 || size !== input.size % 2 ** 32) {
        const what = crc !== input.crc >>> 0 ? `CRC-32 ${hex8(input.crc)}, the trailer says ${hex8(crc)}` : `${input.size} bytes (mod 2^32: ${input.size % 2 ** 32}), the trailer says ${size}`;
        throw gzipError(`the data of the member at compressed byte ${start} does not match its trailer (${what}) in compressed bytes ${trailerAt}–${trailerAt + 8}`, trailerAt);
      }
    }
  } finally {
    await input.close();
  }
}

/** A gzip member's header (RFC 1952 §2.3), taken from the input. */
async function header(input: Input): Promise<void> {
  const at = input.pos;
  const need = async (n: number, what: string) => {
    if (!(await input.need(n))) throw gzipError(`unexpected end of file (in the header of the member at compressed byte ${at}: ${what})`, at);
  };
  await need(10, 'its first 10 bytes');
  const b = () => input.buf;
  if (b()[0] !== 0x1f || b()[1] !== 0x8b) throw gzipError(`not in gzip format (no gzip magic at compressed byte ${at})`, at);
  if (b()[2] !== 8) throw gzipError(`unknown compression method ${b()[2]} in the header of the member at compressed byte ${at}`, at);
  const flags = b()[3]!;
  if (flags & 0xe0) throw gzipError(`reserved flag bits set (0x${flags.toString(16)}) in the header of the member at compressed byte ${at}`, at);
  let n = 10;
  if (flags & 0x04) {
    await need(n + 2, 'the length of its extra field');
    n += 2 + b().readUInt16LE(n);
  }
  for (const [flag, what] of [[0x08, 'its file name'], [0x10, 'its comment']] as const) {
    if (!(flags & flag)) continue;
    // A NUL-terminated string: bounded, so that a header without its NUL cannot take all memory.
    for (let from = n; ; ) {
      await need(from + 1, what);
      const nul = b().indexOf(0, from);
      if (nul >= 0) {
        n = nul + 1;
        break;
      }
      from = b().length;
      if (from - n > MAX_HEADER_STRING) throw gzipError(`${what.replace('its', 'the')} in the header of the member at compressed byte ${at} is longer than ${MAX_HEADER_STRING} bytes (no NUL)`, at);
    }
  }
  if (flags & 0x02) {
    await need(n + 2, 'its header CRC');
    const stored = b().readUInt16LE(n);
    if (stored !== (crc32(b().subarray(0, n)) & 0xffff)) throw gzipError(`header CRC mismatch in the member at compressed byte ${at}`, at);
    n += 2;
  }
  await need(n, 'its extra field');
  input.take(n);
}

/**
 * Members that inflate to at most this many bytes, after one that did, are inflated in one
 * synchronous call when they end within the input at hand: a zlib stream per member cost ~0.1 ms
 * (a .tar.gz of 3,936 members of 64 KiB, as bgzip writes, listed in 1.3 s; 1.1 s this way; Node's
 * Gunzip, which reads on from member to member inside one stream, 0.85 s). One big member goes on
 * through the stream, whose inflating runs on the threadpool beside the reading.
 */
const SMALL_MEMBER = 1 << 20;

/**
 * The member's deflate data inflated whole, or undefined: it goes on past the input at hand, it
 * inflates to more than SMALL_MEMBER, or it is damaged (the stream path then says where).
 */
function inflateSmall(input: Input): Buffer | undefined {
  input.crc = 0;
  input.size = 0;
  const avail = input.buf;
  let r: { buffer: Buffer; engine: { bytesWritten: number } };
  try {
    r = inflateRawSync(avail, { info: true, finishFlush: zlibConstants.Z_SYNC_FLUSH, maxOutputLength: SMALL_MEMBER }) as unknown as typeof r;
  } catch {
    return undefined;
  }
  // zlib stops taking input where the deflate data ends: all of it taken, the end is not known.
  const used = r.engine.bytesWritten;
  if (used >= avail.length) return undefined;
  input.take(used);
  return r.buffer;
}

/** The empty final block of fixed codes (`03 00`) and a zero CRC and size: an empty member's rest. */
const EMPTY_MEMBER_REST = Buffer.from([3, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

/** A member's deflate data, up to its trailer; `input.crc` and `input.size` are of its output. */
async function* inflateMember(input: Input): AsyncGenerator<Buffer> {
  input.crc = 0;
  input.size = 0;
  // An empty member (portarc's digest member, the wrapping of embedded recovery data): no inflater.
  if ((await input.need(10)) && input.buf.subarray(0, 10).equals(EMPTY_MEMBER_REST)) {
    input.take(2);
    return;
  }
  const raw = createInflateRaw({ chunkSize: ZLIB_CHUNK });
  const d = new ZlibDriver(raw);
  try {
    for (;;) {
      const at = input.pos;
      if (!input.buf.length && !(await input.more())) {
        try {
          for await (const o of d.end()) yield counted(input, o);
        } catch (e) {
          if (!isZlibError(e)) throw e;
          throw gzipError(`${(e as Error).message} at the end of the input (${at} bytes)`, at, true, e);
        }
        // The deflate data ended just where the file does: the trailer is missing.
        return;
      }
      const chunk = input.buf;
      const before = raw.bytesWritten;
      try {
        for await (const o of d.push(chunk)) yield counted(input, o);
      } catch (e) {
        if (!isZlibError(e)) throw e;
        throw gzipError(`${(e as Error).message} in compressed bytes ${at}–${at + chunk.length}`, at, true, e);
      }
      const used = raw.bytesWritten - before;
      input.take(used);
      // zlib stops taking input where the deflate data ends: the trailer is next.
      if (used < chunk.length) return;
    }
  } finally {
    d.destroy();
  }
}

function counted(input: Input, o: Buffer): Buffer {
  input.crc = crc32(o, input.crc);
  input.size += o.length;
  return o;
}

/** What follows the last member: zeros (padding) to the end, or bytes no gzip reader reads. */
async function trailing(input: Input): Promise<void> {
  const start = input.pos;
  let junk = -1;
  while (input.buf.length || (await input.more())) {
    const b = input.buf;
    if (junk < 0) {
      let i = 0;
      while (i < b.length && b[i] === 0) i++;
      if (i < b.length) junk = input.pos + i;
    }
    input.take(b.length);
  }
  if (junk < 0) return;
  const zeros = junk > start ? `${junk - start} zero bytes and then ` : '';
  throw gzipError(
    `compressed bytes ${start}–${input.pos} after the last gzip member are not gzip data (${zeros}bytes that start no member, at ${junk}): not read (gzip -d calls them trailing garbage)`,
    start,
    false,
  );
}

/** The compressed input, taken chunk by chunk; `buf` is what is not consumed yet, at offset `pos`. */
class Input {
  buf: Buffer = Buffer.alloc(0);
  pos = 0;
  /** The current member's output so far: its CRC-32 and length. */
  crc = 0;
  size = 0;
  private it: AsyncIterator<Buffer | Uint8Array>;
  private done = false;

  constructor(src: AsyncIterable<Buffer | Uint8Array>) {
    this.it = src[Symbol.asyncIterator]();
  }

  /** Append the next chunk (a source may reuse its buffers: what is kept from before is copied). */
  async more(): Promise<boolean> {
    if (this.done) return false;
    const r = await this.it.next();
    if (r.done) {
      this.done = true;
      return false;
    }
    const c = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
    this.buf = this.buf.length ? Buffer.concat([this.buf, c]) : c;
    return true;
  }

  /** At least `n` bytes in `buf`, unless the input ends first. */
  async need(n: number): Promise<boolean> {
    while (this.buf.length < n) if (!(await this.more())) return false;
    return true;
  }

  take(n: number): Buffer {
    const b = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    this.pos += n;
    return b;
  }

  async close(): Promise<void> {
    if (!this.done) await this.it.return?.();
  }
}

/** Longest file name or comment a member header may have here (gzip sets no limit; none is near). */
const MAX_HEADER_STRING = 1 << 20;

function hex8(n: number): string {
  return (n >>> 0).toString(16).padStart(8, '0');
}

/**
 * A CompressError at compressed byte `offset`. Inside a member's data (`lost`), nothing after it can
 * be decoded: deflate has no point to start again.
 */
function gzipError(what: string, offset: number, lost = true, cause?: unknown): CompressError {
  const tail = lost ? '; nothing after it can be read (a gzip stream cannot be resynchronised)' : '';
  return new CompressError(`gzip: ${what}${tail}`, { offset, filter: 'gzip', cause });
}

function isZlibError(e: unknown): boolean {
  return e instanceof Error && typeof (e as { errno?: unknown }).errno === 'number' && 'code' in e;
}
