// Entry content on its way into a zip: exactly the announced number of bytes (a file that grew or
// shrank while read is cut or padded, with a warning, as the tar writer does), and sparse files
// expanded to their dense form, holes as zeros. Spec: spec/zip-profile.md §4.3 (sparse files).

import { ByteSource } from '../io/bytesource.js';
import type { SparseRun } from '../model/entry.js';

/** Shared zeros; never written to, so handing it to a sink more than once is safe. */
export const ZEROS = Buffer.alloc(1 << 20);

export type Body = AsyncIterable<Buffer> | Buffer | undefined;

function* zeros(n: number): Generator<Buffer> {
  for (let left = n; left > 0; left -= ZEROS.length) yield ZEROS.subarray(0, Math.min(left, ZEROS.length));
}

/** Exactly `size` bytes of `body`; differences and read errors become warnings. */
export async function* exactly(body: Body, size: number, name: string, warnings: string[]): AsyncGenerator<Buffer> {
  let written = 0;
  if (body) {
    const parts = (Buffer.isBuffer(body) ? [body] : body) as AsyncIterable<Buffer> | Buffer[];
    const iter = Symbol.asyncIterator in parts ? parts[Symbol.asyncIterator]() : parts[Symbol.iterator]();
    for (;;) {
      let next: IteratorResult<Buffer>;
      try {
        next = await iter.next();
      } catch (err) {
        warnings.push(`${name}: read error after ${written} bytes: ${(err as Error).message}`);
        break;
      }
      if (next.done) break;
      const part = next.value;
      const take = Math.min(part.length, size - written);
      if (take > 0) yield take === part.length ? part : part.subarray(0, take);
      written += part.length;
    }
  }
  if (written > size) warnings.push(`${name}: content grew while it was read (${written} bytes, ${size} expected); truncated`);
  else if (written < size) {
    warnings.push(`${name}: content shrank while it was read (${written} of ${size} bytes); padded with zeros`);
    yield* zeros(size - written);
  }
}

/** The dense content of a sparse file: its runs (given back to back) at their offsets, zeros between. */
export async function* densify(runsData: AsyncIterable<Buffer>, runs: SparseRun[], size: number): AsyncGenerator<Buffer> {
  const src = new ByteSource(runsData);
  let pos = 0;
  for (const run of runs) {
    if (run.offset < pos || run.offset + run.length > size) throw new RangeError(`sparse map run ${run.offset}+${run.length} is out of order or past the size ${size}`);
    yield* zeros(run.offset - pos);
    yield* src.stream(run.length);
    pos = run.offset + run.length;
  }
  yield* zeros(size - pos);
}

/** Gather a small body into one buffer. */
export async function collect(parts: AsyncIterable<Buffer>, size: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const p of parts) chunks.push(p);
  return chunks.length === 1 && chunks[0]!.length === size ? chunks[0]! : Buffer.concat(chunks, size);
}

/** The reverse of densify: from dense content, only the bytes inside the runs, back to back. */
export async function* runsOf(dense: AsyncIterable<Buffer>, runs: SparseRun[]): AsyncGenerator<Buffer> {
  let pos = 0;
  let r = 0;
  for await (const chunk of dense) {
    const end = pos + chunk.length;
    while (r < runs.length && runs[r]!.offset + runs[r]!.length <= pos) r++;
    for (let k = r; k < runs.length && runs[k]!.offset < end; k++) {
      const from = Math.max(runs[k]!.offset, pos);
      const to = Math.min(runs[k]!.offset + runs[k]!.length, end);
      if (to > from) yield chunk.subarray(from - pos, to - pos);
    }
    pos = end;
  }
}
