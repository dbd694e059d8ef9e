// Entry content on its way into a zip: sparse files expanded to their dense form, holes as zeros,
// and back (src/io/body.ts gives every container exactly the announced number of bytes).
// Spec: spec/zip-profile.md §4.3 (sparse files).

import { ByteSource } from '../io/bytesource.js';
import type { SparseRun } from '../model/entry.js';
import { zeros } from '../io/body.js';

export { ZEROS, exactly, type Body } from '../io/body.js';

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
