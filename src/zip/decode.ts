// Running compressed member data through a decoder stream with flow control, for both readers.
// When the end of the compressed data is unknown (flag bit 3), the decoder finds it: a node:zlib
// stream stops at the end of the deflate data and `bytesWritten` says how much input it used; the
// bytes it did not use are handed back. Spec: spec/zip-profile.md §6.2.

import type { Transform } from 'node:stream';

export interface Feed {
  /** Between 1 and `max` bytes of compressed input, or an empty buffer when there is no more. */
  next(max: number): Promise<Buffer>;
  /** Give back input the decoder did not use. */
  unread(b: Buffer): void;
}

/** Small input steps bound what one step can expand to (deflate: at most ~1032x). */
const STEP = 16 * 1024;

/**
 * Yield the decoded output of `feed`. With `findEnd`, stop feeding when the decoder stops by itself
 * and give back the rest. Returns the number of input bytes the decoder consumed.
 */
export async function* runDecoder(t: Transform, feed: Feed, findEnd: boolean): AsyncGenerator<Buffer, number> {
  const queue: Buffer[] = [];
  let ended = false;
  let error: Error | undefined;
  let wake: (() => void) | undefined;
  const signal = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  t.on('data', (c: Buffer) => {
    queue.push(c);
    signal();
  });
  t.on('end', () => {
    ended = true;
    signal();
  });
  t.on('error', (e: Error) => {
    error = e;
    signal();
  });
  const event = () => new Promise<void>((r) => (wake = r));
  // Resolves once the decoder has taken the whole chunk (or failed), never on a mere 'data' event:
  // bytesWritten is only final then.
  const write = (b: Buffer) =>
    new Promise<void>((resolve) => {
      const onError = () => resolve();
      t.once('error', onError);
      t.write(b, () => {
        t.off('error', onError);
        resolve();
      });
    });
  let written = 0;
  let inputDone = false;
  try {
    for (;;) {
      if (queue.length) {
        yield queue.shift()!;
        continue;
      }
      if (error) throw error;
      if (ended) break;
      if (inputDone) {
        await event();
        continue;
      }
      const chunk = await feed.next(STEP);
      if (!chunk.length) {
        inputDone = true;
        t.end();
        continue;
      }
      written += chunk.length;
      await write(chunk);
      const used = (t as Transform & { bytesWritten?: number }).bytesWritten;
      if (findEnd && used !== undefined && used < written) {
        // The decoder reached the end of its data inside this chunk.
        feed.unread(chunk.subarray(chunk.length - (written - used)));
        written = used;
        inputDone = true;
      }
    }
  } finally {
    t.removeAllListeners('data');
    t.removeAllListeners('end');
    t.on('error', () => undefined);
    t.destroy();
  }
  return written;
}
