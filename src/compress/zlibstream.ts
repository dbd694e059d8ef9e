// Drive a node:zlib stream (gzip, gunzip, built-in zstd) one input chunk at a time, pulling its
// output as an async iterable. Two things the plain pipe does not give:
// - errors can be tied to the input chunk being processed (the chunk whose write has not completed),
//   so a decoder error names a compressed byte offset;
// - output is read in paused mode, so zlib's own backpressure holds: a highly compressible chunk
//   (zeros expand ~30000x in zstd) never lands in memory at once (DESIGN §5, memory flat).
// Chunk size 256 KiB: deps/REPORT.md §6, streaming with reused-size chunks beats one-shot 3x here.

import type { Transform } from 'node:stream';
import { GcPacer } from '../model/gc-pacer.js';

export const ZLIB_CHUNK = 256 * 1024;

export class ZlibDriver {
  private error: Error | undefined;
  private ended = false;
  private wake: (() => void) | undefined;
  /** Every output chunk is a fresh buffer: collected at a pace, not late (src/model/gc-pacer.ts). */
  private pacer = new GcPacer();

  constructor(private z: Transform) {
    const poke = () => {
      const w = this.wake;
      this.wake = undefined;
      w?.();
    };
    z.on('readable', poke);
    z.on('error', (e: Error) => {
      this.error = e;
      poke();
    });
    z.on('end', () => {
      this.ended = true;
      poke();
    });
    this.poke = poke;
  }

  private poke: () => void;

  /** Feed one chunk; yields the output it produces (possibly none yet: zlib may hold some back). */
  async *push(chunk: Buffer): AsyncGenerator<Buffer> {
    let done = false;
    this.z.write(chunk, () => {
      done = true;
      this.poke();
    });
    yield* this.drain(() => done);
  }

  /** End the input; yields the remaining output. */
  async *end(): AsyncGenerator<Buffer> {
    this.z.end();
    yield* this.drain(() => this.ended);
  }

  /** Stop early and release zlib's memory. */
  destroy(): void {
    this.z.destroy();
  }

  private async *drain(done: () => boolean): AsyncGenerator<Buffer> {
    for (;;) {
      let c: Buffer | null;
      while ((c = this.z.read() as Buffer | null) !== null) {
        this.pacer.add(c.length);
        yield c;
      }
      if (this.error) throw this.error;
      if (done()) {
        // Anything pushed after the chunk completed but before we looked.
        while ((c = this.z.read() as Buffer | null) !== null) yield c;
        return;
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }
}
