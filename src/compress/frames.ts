// zstd frame walker: splits a compressed stream at frame boundaries without decoding it, by reading
// only frame and block headers. What this buys:
// - every decoder error can name the frame and its compressed byte offset;
// - a truncated stream is caught here, whatever the decoder (not all report it);
// - skippable frames (the seekable format's seek table, pzstd's size hints) never reach a decoder;
// - each frame can get its own decoder: Node's built-in zstd stream (22.15–24.x at least) silently
//   stops after the first frame when several arrive in one write, and returns nothing for input
//   that begins with a skippable frame (measured on Node 24.21), so it must only ever see one frame.
// Format facts (FACTS §6): frame magic 28 B5 2F FD; Frame_Header_Descriptor bits FCS 7–6,
// single-segment 5, reserved 3, checksum 2, dictID 1–0; blocks with a 3-byte LE header (bit 0 last,
// bits 1–2 type, bits 3–23 size; an RLE block carries 1 byte); optional 4-byte checksum; skippable
// frames 0x184D2A50–5F with a u32 LE size.

export const ZSTD_MAGIC = 0xfd2fb528;
export const SKIPPABLE_MASK = 0xfffffff0;
export const SKIPPABLE_MAGIC = 0x184d2a50;

/** A run of compressed bytes that all belong to one zstd frame. */
export interface Piece {
  data: Buffer;
  /** Index of the frame among the zstd (non-skippable) frames of the stream, from 0. */
  frame: number;
  /** Compressed offset of the frame's first byte. */
  frameStart: number;
  /** Compressed offset of this piece's first byte. */
  offset: number;
  /** The piece starts the frame. */
  first: boolean;
  /** The piece ends the frame. */
  last: boolean;
  /** On the last piece of a frame that has one: its checksum (low 32 bits of XXH64 of its content). */
  checksum?: number;
}

/** A problem found in the compressed bytes: what, and where. */
export class FrameError extends Error {
  constructor(
    message: string,
    readonly offset: number,
    readonly frame?: number,
    /** For bytes that are no frame magic: those four bytes (they may have begun in an earlier chunk). */
    readonly magic?: Buffer,
  ) {
    super(message);
    this.name = 'FrameError';
  }
}

type State = 'magic' | 'skipSize' | 'skipBody' | 'fhd' | 'header' | 'blockHeader' | 'blockBody' | 'checksum';

export class FrameWalker {
  private state: State = 'magic';
  /** Header bytes being collected (from the frame's magic on), how many we have and want. */
  private hdr = Buffer.alloc(18);
  private have = 0;
  private want = 4;
  /** Bytes left to pass in a block or skippable body. */
  private left = 0;
  private hasChecksum = false;
  private lastBlock = false;
  private frames: number;
  /** Compressed offset of the current frame's first byte (or of the magic being read). */
  frameStart = 0;
  /** Compressed offset of the next byte (of the next chunk, while a chunk is being split). */
  offset: number;
  /** Where a FrameError was found: the compressed offset of the byte the walker stood at. */
  stoppedAt = 0;
  /** The current frame's Frame_Content_Size, when its header states it. */
  contentSize: number | undefined;

  /** A walker whose first byte is at compressed `offset`, whose first frame has index `frame`. */
  constructor(offset = 0, frame = 0) {
    this.offset = offset;
    this.frames = frame;
  }

  /** The pieces of `chunk`, in order. Throws FrameError on bytes that are not zstd framing. */
  *split(chunk: Buffer): Generator<Piece> {
    let p = 0;
    // Start in `chunk` of the current frame's run of bytes, -1 outside a zstd frame.
    let run = this.insideFrame() ? 0 : -1;
    let first = false;
    // Magic bytes that arrived in an earlier chunk, before we knew they began a zstd frame.
    let prefix: Buffer | undefined;
    const piece = (end: number, last: boolean): Piece => {
      const body = chunk.subarray(run, end);
      const pc: Piece = {
        data: prefix ? Buffer.concat([prefix, body]) : body,
        frame: this.frames,
        frameStart: this.frameStart,
        offset: this.offset + run - (prefix?.length ?? 0),
        first,
        last,
      };
      prefix = undefined;
      first = false;
      run = last ? -1 : end;
      if (last) this.frames++;
      return pc;
    };
    while (p < chunk.length) {
      if (this.state === 'skipBody' || this.state === 'blockBody') {
        const take = Math.min(this.left, chunk.length - p);
        p += take;
        this.left -= take;
        if (this.left > 0) continue;
        if (this.state === 'skipBody') this.expectMagic();
        else if (this.blockDone()) yield piece(p, true);
        continue;
      }
      const take = Math.min(this.want - this.have, chunk.length - p);
      chunk.copy(this.hdr, this.have, p, p + take);
      this.have += take;
      p += take;
      if (this.have < this.want) continue;
      const h = this.hdr;
      switch (this.state) {
        case 'magic': {
          const magic = h.readUInt32LE(0);
          this.frameStart = this.offset + p - 4;
          if (magic === ZSTD_MAGIC) {
            this.state = 'fhd';
            this.want = 5;
            first = true;
            if (take < 4) (prefix = Buffer.from(h.subarray(0, 4 - take))), (run = 0);
            else run = p - 4;
          } else if (((magic & SKIPPABLE_MASK) >>> 0) === SKIPPABLE_MAGIC) {
            this.state = 'skipSize';
            this.want = 8;
          } else {
            this.stoppedAt = this.offset + p - 4;
            throw new FrameError(`not a zstd frame (magic ${h.subarray(0, 4).toString('hex')})`, this.frameStart, this.frames, Buffer.from(h.subarray(0, 4)));
          }
          break;
        }
        case 'skipSize':
          this.left = h.readUInt32LE(4);
          if (this.left) this.state = 'skipBody';
          else this.expectMagic();
          break;
        case 'fhd': {
          const fhd = h[4]!;
          if (fhd & 8) {
            this.stoppedAt = this.offset + p;
            throw new FrameError('zstd frame header has its reserved bit set', this.frameStart, this.frames);
          }
          const single = (fhd >> 5) & 1;
          this.hasChecksum = (fhd & 4) !== 0;
          this.want = 5 + (single ? 0 : 1) + [0, 1, 2, 4][fhd & 3]! + [single, 2, 4, 8][fhd >> 6]!;
          this.state = 'header'; // at least 6 bytes: never complete yet
          break;
        }
        case 'header':
          this.contentSize = contentSize(h);
          this.expectBlock();
          break;
        case 'blockHeader': {
          const b = h[0]! | (h[1]! << 8) | (h[2]! << 16);
          const type = (b >> 1) & 3;
          if (type === 3) {
            this.stoppedAt = this.offset + p;
            throw new FrameError('zstd block of reserved type', this.offset + p - 3, this.frames);
          }
          this.lastBlock = (b & 1) === 1;
          this.left = type === 1 ? 1 : b >>> 3;
          if (this.left) this.state = 'blockBody';
          else if (this.blockDone()) yield piece(p, true);
          break;
        }
        case 'checksum': {
          const pc = piece(p, true);
          pc.checksum = h.readUInt32LE(0);
          this.expectMagic();
          yield pc;
          break;
        }
      }
    }
    if (run >= 0 && (p > run || prefix)) yield piece(p, false);
    this.offset += chunk.length;
  }

  /** After a block: the next state. True when the frame ended. */
  private blockDone(): boolean {
    if (!this.lastBlock) this.expectBlock();
    else if (this.hasChecksum) (this.state = 'checksum'), (this.have = 0), (this.want = 4);
    else {
      this.expectMagic();
      return true;
    }
    return false;
  }

  private expectBlock(): void {
    this.state = 'blockHeader';
    this.have = 0;
    this.want = 3;
  }

  private expectMagic(): void {
    this.state = 'magic';
    this.have = 0;
    this.want = 4;
  }

  private insideFrame(): boolean {
    return this.state !== 'magic' && this.state !== 'skipSize' && this.state !== 'skipBody';
  }

  /** Call at the end of the input: throws if it stopped inside a frame. */
  finish(): void {
    if (this.state === 'magic' && this.have === 0) return;
    const what = this.insideFrame() ? `zstd frame ${this.frames}` : 'skippable frame';
    throw new FrameError(`truncated input: ${what} starting at compressed offset ${this.frameStart} is cut short at ${this.offset}`, this.frameStart, this.frames);
  }

}

/** Frame_Content_Size from a whole frame header (magic first), when the header has one. */
export function contentSize(h: Buffer): number | undefined {
  const fhd = h[4]!;
  const single = (fhd >> 5) & 1;
  const size = [single, 2, 4, 8][fhd >> 6]!;
  if (!size) return undefined;
  const at = 5 + (single ? 0 : 1) + [0, 1, 2, 4][fhd & 3]!;
  if (size === 1) return h[at]!;
  if (size === 2) return h.readUInt16LE(at) + 256;
  if (size === 4) return h.readUInt32LE(at);
  return Number(h.readBigUInt64LE(at));
}
