// SHA-256 of an entry's content as its body passes to the container writer: never a second read
// (DESIGN §2). The digest is of what the archive stores: the first entry.size bytes, zeros for
// what a shrunk file lacks (the writers pad so), and for sparse files the holes as zeros.
// Spec: spec/manifest.md §3.3 (sha256).

import * as crypto from 'node:crypto';
import { createHash, type Hash } from 'node:crypto';
import type { Entry } from '../model/entry.js';
import { zeros } from '../io/body.js';
import { ThreadpoolSha256 } from './native-hash.js';

type Body = AsyncIterable<Buffer> | Buffer | undefined;

/** crypto.hash (Node 20.12+): a digest in one call; undefined on older runtimes (engines: >= 20). */
const hashOnce = (crypto as { hash?: (algorithm: string, data: Buffer, encoding: 'hex') => string }).hash;

/** The pieces a big body is hashed and handed on in. */
const SLICE = 64 << 10;

export interface DigestedBody {
  body: Body;
  /** The content digest (hex); complete once the writer has consumed the body. */
  digest(): string;
}

/**
 * `handOff`: a big body's parts are yielded whole and each is hashed once the consumer asks for
 * the next (the restorer writes a part on the threadpool meanwhile: the write and the hashing
 * overlap). Its digest is then complete only once the consumer has read the body to its end.
 * Without it, a big part is hashed and handed on in slices, each still in the CPU's cache.
 */
export function digestBody(entry: Entry, body: Body, opts: { handOff?: boolean } = {}): DigestedBody {
  // The common small file: its whole content in memory. One call, no hash object per file.
  // Hashed now, not when the digest is asked for: the Buffer may be a view of a reused chunk
  // (the tar reader's), refilled by then.
  if (hashOnce && Buffer.isBuffer(body) && !entry.sparse && body.length === entry.size) {
    const hex = hashOnce('sha256', body, 'hex');
    return { body, digest: () => hex };
  }
  const hash = createHash('sha256');
  const runs = entry.sparse ?? [{ offset: 0, length: entry.size }];
  let run = 0;
  let inRun = 0;
  let logical = 0;
  let finished = false;
  // Feed `part` (stored bytes, runs back to back) into the hash at its logical place.
  const feed = (part: Buffer) => {
    let at = 0;
    while (at < part.length && run < runs.length) {
      const r = runs[run]!;
      if (inRun === 0) hashZeros(hash, r.offset - logical), (logical = r.offset);
      const take = Math.min(r.length - inRun, part.length - at);
      hash.update(at === 0 && take === part.length ? part : part.subarray(at, at + take));
      at += take;
      inRun += take;
      logical += take;
      if (inRun === r.length) run++, (inRun = 0);
    }
  };
  const digest = () => {
    if (!finished) {
      finished = true;
      hashZeros(hash, entry.size - logical);
    }
    return hash.digest('hex');
  };
  if (body === undefined) return { body, digest };
  if (Buffer.isBuffer(body)) {
    feed(body);
    return { body, digest };
  }
  if (opts.handOff && !entry.sparse) {
    const pool = ThreadpoolSha256.open();
    if (pool) return handedOff(entry, body, pool);
  }
  async function* pass(): AsyncGenerator<Buffer> {
    for await (const part of body as AsyncIterable<Buffer>) {
      if (opts.handOff) {
        yield part;
        feed(part);
        continue;
      }
      if (part.length <= SLICE) {
        feed(part);
        yield part;
        continue;
      }
      // In slices, each hashed and then handed on (written) while still in the CPU's cache: a
      // 1 MiB part written after all of it was hashed cost the kernel's copy 2-3x the time here.
      for (let at = 0; at < part.length; at += SLICE) {
        const slice = part.subarray(at, at + SLICE);
        feed(slice);
        yield slice;
      }
    }
  }
  return { body: pass(), digest };
}

function hashZeros(hash: Hash, n: number): void {
  if (n > 0) for (const z of zeros(n)) hash.update(z);
}

/** A part at least this big is hashed on the threadpool (handOff with the addon); a smaller one here. */
const POOL_PART = 256 << 10;

/**
 * handOff for a dense body with the addon: a big part is hashed on the threadpool while the
 * consumer writes it and this thread reads the next. The hash of a part is done before the part
 * after it is asked for from `body` (a part stays valid until the one after next is asked for).
 */
function handedOff(entry: Entry, body: AsyncIterable<Buffer>, pool: ThreadpoolSha256): DigestedBody {
  let fed = 0;
  let hex: string | undefined;
  async function* pass(): AsyncGenerator<Buffer> {
    let hashing: Promise<void> | undefined;
    try {
      for await (const part of body) {
        const take = part.subarray(0, Math.max(0, Math.min(part.length, entry.size - fed)));
        fed += take.length;
        yield part;
        if (hashing) await hashing;
        hashing = undefined;
        if (take.length >= POOL_PART) {
          hashing = pool.update(take);
          hashing.catch(() => {}); // thrown where it is awaited, not unhandled
        } else pool.updateSync(take);
      }
      if (hashing) await hashing;
      hashing = undefined;
    } finally {
      // Stopped early or failed: the threadpool must be done with the part before it is reused.
      if (hashing) await hashing.catch(() => {});
    }
  }
  const digest = () => {
    if (hex === undefined) {
      // What a short body lacks counts as zeros, as in digestBody.
      for (const z of zeros(entry.size - fed)) pool.updateSync(z);
      fed = entry.size;
      hex = pool.digest();
    }
    return hex;
  };
  return { body: pass(), digest };
}
