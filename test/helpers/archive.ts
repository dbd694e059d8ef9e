// Archives built in memory for tests: exact bytes from portarc's own tar writer.
import type { Entry } from '../../src/model/entry.js';
import { TarWriter } from '../../src/tar/writer.js';

/** A tar of these entries (with optional content), as one buffer. */
export async function tarOf(items: Array<[Entry, Buffer?]>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const w = new TarWriter({ write: (c) => void chunks.push(Buffer.from(c)) });
  for (const [e, body] of items) await w.add(e, body);
  await w.finish();
  return Buffer.concat(chunks);
}
