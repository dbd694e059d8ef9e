// Running compressed member data through a decoder stream with flow control, for both readers.
// When the end of the compressed data is unknown (flag bit 3), the decoder finds it: a node:zlib
// stream stops at the end of the deflate data and `bytesWritten` says how much input it used; the
// bytes it did not use are handed back. Spec: spec/zip-profile.md §6.2.

import { Transform } from 'node:stream';

export interface Feed {
  /** Between 1 and `max` bytes of compressed input, or an empty buffer when there is no more. */
  next(max: number): Promise<Buffer>;
  /** Give back input the decoder did not use. */
  unread(b: Buffer): void;
}

/** Small input steps bound what one step can expand to (deflate: at most ~1032x). */
export const STEP = 16 * 1024;

/** The decoded output of `feed` through `method`: its pull decoder when it has one, else its Transform. */
export function decoder(
  method: { decompressor(): Transform; decode?(feed: Feed, findEnd: boolean): AsyncGenerator<Buffer, number> },
  feed: Feed,
  findEnd: boolean,
): AsyncGenerator<Buffer, number> {
  return method.decode ? method.decode(feed, findEnd) : runDecoder(method.decompressor(), feed, findEnd);
}

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
  // The latest input, enough of it to give back what the decoder did not use: a decoder may learn
  // that its data ended only from bytes in a later chunk (zstd: the 4 bytes after a frame).
  let recent: Buffer[] = [];
  let recentBytes = 0;
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
      recent.push(chunk);
      recentBytes += chunk.length;
      while (recent.length > 1 && recentBytes - recent[0]!.length >= 64) recentBytes -= recent.shift()!.length;
      await write(chunk);
      const used = (t as Transform & { bytesWritten?: number }).bytesWritten;
      if (findEnd && used !== undefined && used < written) {
        // The decoder reached the end of its data (in this chunk, or just before it).
        const excess = written - used;
        if (excess > recentBytes) throw new Error(`decoder gave back ${excess} bytes, more than the ${recentBytes} it was last given`);
        const tail = recent.length === 1 ? chunk : Buffer.concat(recent);
        feed.unread(tail.subarray(tail.length - excess));
        written = used;
        inputDone = true;
        recent = [];
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

/**
 * A Transform over a pull decoder (`run` takes its input from a feed and returns the bytes it
 * used), with the node:zlib contract runDecoder relies on: it ends by itself when the decoder
 * returns, and `bytesWritten` then says how much of the input it used.
 */
export function transformOf(run: (feed: Feed) => AsyncGenerator<Buffer, number>): Transform {
  const queue: Buffer[] = [];
  let accepted = 0;
  let used: number | undefined;
  let inputEnded = false;
  let waiting: (() => void) | undefined;
  const acks: Array<() => void> = [];
  const wake = () => {
    const w = waiting;
    waiting = undefined;
    w?.();
  };
  const ackAll = () => {
    for (const a of acks.splice(0)) a();
  };
  const feed: Feed = {
    async next(max) {
      for (;;) {
        if (queue.length) {
          const head = queue[0]!;
          if (head.length <= max) return queue.shift()!;
          queue[0] = head.subarray(max);
          return head.subarray(0, max);
        }
        if (inputEnded) return Buffer.alloc(0);
        ackAll(); // everything written so far is taken: the writer may go on
        await new Promise<void>((r) => (waiting = r));
      }
    },
    unread(b) {
      if (b.length) queue.unshift(b);
    },
  };
  let pumping: Promise<void> | undefined;
  const pump = async (): Promise<void> => {
    const gen = run(feed);
    try {
      for (;;) {
        const r = await gen.next();
        if (r.done) {
          used = r.value;
          break;
        }
        t.push(r.value);
      }
    } catch (err) {
      t.destroy(err as Error);
      return;
    }
    ackAll();
    t.push(null);
  };
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (used !== undefined) return cb(); // after the end of the data: not used
      accepted += chunk.length;
      queue.push(chunk);
      acks.push(() => cb());
      pumping ??= pump();
      wake();
    },
    flush(cb) {
      inputEnded = true;
      wake();
      (pumping ??= pump()).then(() => cb(), cb);
    },
  });
  Object.defineProperty(t, 'bytesWritten', { get: () => used ?? accepted });
  return t;
}
