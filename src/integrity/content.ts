// SHA-256 of an entry's content as its body passes to the container writer: never a second read
// (DESIGN §2). The digest is of what the archive stores: the first entry.size bytes, zeros for
// what a shrunk file lacks (the writers pad so), and for sparse files the holes as zeros.
// Spec: spec/manifest.md §3.3 (sha256).

import * as crypto from 'node:crypto';
import { createHash, type Hash } from 'node:crypto';
import type { Entry } from '../model/entry.js';
import { zeros } from '../io/body.js';

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

export function digestBody(entry: Entry, body: Body): DigestedBody {
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
  async function* pass(): AsyncGenerator<Buffer> {
    for await (const part of body as AsyncIterable<Buffer>) {
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
