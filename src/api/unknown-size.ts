// Entries given to create() with content of unknown size (`size` left undefined: a database dump,
// a download). A tar header announces the size before the data, so the body is spooled to a
// temporary file first (memory stays flat; the file is removed once the entry is written, or when
// the archive fails or is cancelled); then the entry is written with its real size. A zip is
// spooled the same way, so that both containers get the same entry. Spec: spec/portarc-1.md §8.6.

import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ScannedEntry } from '../fs/scan.js';
import { cannotRead, readFailure } from '../io/body.js';
import { AbortError, abortable } from '../model/abort.js';
import { ioError } from '../model/errors.js';

/** The entries, each file of unknown size spooled and given its size. */
export async function* sized(entries: AsyncIterable<ScannedEntry>, signal: AbortSignal | undefined): AsyncGenerator<ScannedEntry> {
  for await (const item of entries) {
    const { entry } = item;
    if (entry.type !== 'file' || entry.size !== undefined) {
      yield item;
      continue;
    }
    if (!item.body) {
      entry.size = 0;
      yield item;
      continue;
    }
    const dir = await mkdtemp(join(tmpdir(), 'portarc-body-')).catch((e) => {
      throw ioError(e, 'cannot make a temporary directory to hold content of unknown size', tmpdir());
    });
    try {
      const file = join(dir, 'content');
      entry.size = await spool(item.body, file, entry.name, signal);
      yield { entry, body: () => createReadStream(file, { highWaterMark: 1 << 20 }) };
    } finally {
      // Once the writer asks for the next entry, or when the archive fails or is cancelled.
      await rm(dir, { recursive: true, force: true });
    }
  }
}

async function spool(body: () => AsyncIterable<Buffer>, file: string, name: string, signal: AbortSignal | undefined): Promise<number> {
  const fh = await open(file, 'wx', 0o600).catch((e) => {
    throw ioError(e, 'cannot create a temporary file', file);
  });
  let size = 0;
  try {
    let chunks: AsyncIterable<Buffer>;
    try {
      chunks = abortable(body(), signal);
    } catch (err) {
      throw cannotRead(name, readFailure(err), err);
    }
    const it = chunks[Symbol.asyncIterator]();
    for (;;) {
      let next: IteratorResult<Buffer>;
      try {
        next = await it.next();
      } catch (err) {
        // The caller's body failed: the entry could not be read (spec §8.5), not the archive.
        if (err instanceof AbortError) throw err;
        throw cannotRead(name, `${readFailure(err)} after ${size} bytes`, err);
      }
      if (next.done) break;
      await fh.write(next.value).catch((e) => {
        throw ioError(e, 'cannot write a temporary file', file);
      });
      size += next.value.length;
    }
  } finally {
    await fh.close();
  }
  return size;
}
